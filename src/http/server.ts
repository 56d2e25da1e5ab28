import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';
import type { AppDeps } from '../app-deps.js';
import type { LeaseHandout } from '../pool/lease-handout.js';
import { registerV1 } from './v1.js';
import { answerShuttingDown } from './shutting-down.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { requestGuard } from './request-guard.js';
import { accessCheck, OPEN_READ } from './access.js';
import { installErrorHandler, schemaErrorFormatter } from './validation-errors.js';
import { AJV_OPTIONS, publishOpenApi } from './openapi.js';
import { dashboardSchema, healthSchema, metricsSchema } from './route-schemas.js';
import { registerHistoryRoutes } from './history-routes.js';
import { registerQueueBoard } from './queue-board.js';

// The page's own inline script and style, and calls back to this origin: nothing else loads.
const DASHBOARD_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'";

export type ServerDeps = Pick<AppDeps, 'config' | 'redis' | 'store' | 'queues' | 'breaker' | 'flags' | 'providerHalts' | 'waiters' | 'epoch' | 'rollouts' | 'pulls' | 'machineLog' | 'history' | 'providers' | 'logger' | 'now'> & {
  metrics: Metrics;
  /** True once shutdown began: every request is answered 503 so load balancers move on. */
  isClosing: () => boolean;
  /** Aborted when the shutdown grace is over: lease waits still running end then. */
  shutdown: AbortSignal;
  /** This process's lease requests waiting for a machine. */
  handout: LeaseHandout;
};

/** Builds the web role's app without listening, so tests can `inject()` requests. */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const httpLogger: FastifyBaseLogger = deps.logger.child({ component: 'http' });
  const { http } = deps.config;
  const app = Fastify({
    loggerInstance: httpLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Our onRequest hook answers 503 with vmpool's own body while closing; Fastify's would pre-empt it.
    return503OnClosing: false,
    // A 500's request id is what an operator greps the log for.
    genReqId: () => randomUUID(),
    ajv: AJV_OPTIONS,
    schemaErrorFormatter,
  });
  // Answer schemas document (openapi.json); they never drop a field a handler returns.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  publishOpenApi(app, API_VERSION);
  const guard = requestGuard({ allowedHosts: http.allowedHosts, listenHost: http.host });
  const access = accessCheck(http.token, http.protectReads);
  app.addHook('onRequest', async (request, reply) => {
    if (deps.isClosing()) return answerShuttingDown(reply);
    return guard(request, reply) ?? access(request, reply);
  });
  installErrorHandler(app, deps.logger);
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not-found', message: `no route ${request.method} ${request.url.slice(0, 200)}` }));
  // Routes in a plugin registered after swagger, so its onRoute hook sees every one.
  void app.register((api, _options, done) => {
    api.get('/', { schema: dashboardSchema, config: OPEN_READ }, async (_request, reply) =>
      reply.type('text/html; charset=utf-8').header('content-security-policy', DASHBOARD_CSP).send(DASHBOARD_HTML),
    );
    api.get('/healthz', { schema: healthSchema, config: OPEN_READ }, async (_request, reply) => {
      // Commands queue while Redis is away (BullMQ needs that), so bound the wait: a health check must answer.
      const pong = await Promise.race([deps.redis.ping().catch(() => 'down'), delay(1_000, 'timeout', { ref: false })]);
      return pong === 'PONG' ? { ok: true } : reply.code(503).send({ ok: false, message: `redis unreachable (${pong})` });
    });
    api.get('/metrics', { schema: metricsSchema, config: OPEN_READ }, async (_request, reply) => {
      const body = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(body);
    });
    registerV1(api, deps);
    registerHistoryRoutes(api, deps);
    done();
  });
  registerQueueBoard(app, deps);
  return app;
}

/** The API's version in /openapi.json: bumped when a contract changes. */
const API_VERSION = '1.0.0';
