import { timingSafeEqual } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Metrics } from '../metrics.js';
import type { AppDeps } from '../app-deps.js';
import type { LeaseHandout } from '../pool/lease-handout.js';
import { registerV1 } from './v1.js';
import { answerShuttingDown } from './shutting-down.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { registerHistoryRoutes } from './history-routes.js';
import { registerQueueBoard } from './queue-board.js';

// The page's own inline script and style, and calls back to this origin: nothing else loads.
const DASHBOARD_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'";

export type ServerDeps = Pick<AppDeps, 'config' | 'redis' | 'store' | 'queues' | 'breaker' | 'flags' | 'waiters' | 'epoch' | 'rollouts' | 'pulls' | 'machineLog' | 'history' | 'providers' | 'logger' | 'now'> & {
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
  const app = Fastify({
    loggerInstance: httpLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Our onRequest hook answers 503 with vmpool's own body while closing; Fastify's would pre-empt it.
    return503OnClosing: false,
  });
  app.addHook('onRequest', async (request, reply) => {
    if (deps.isClosing()) return answerShuttingDown(reply);
    if (isMutating(request) && !authorized(request, deps.config.http.token)) {
      return reply.code(401).send({ error: 'unauthorized', message: 'missing or wrong bearer token (Authorization: Bearer <API_TOKEN>)' });
    }
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, _request, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status >= 500) deps.logger.error({ err }, 'request failed');
    return reply.code(status).send({ error: status === 400 ? 'bad-request' : status >= 500 ? 'internal' : 'error', message: err.message });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'not-found', message: `no route ${request.method} ${request.url}` }));
  app.get('/', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', DASHBOARD_CSP).send(DASHBOARD_HTML),
  );
  app.get('/healthz', async (_request, reply) => {
    // Commands queue while Redis is away (BullMQ needs that), so bound the wait: a health check must answer.
    const pong = await Promise.race([deps.redis.ping().catch(() => 'down'), delay(1_000, 'timeout', { ref: false })]);
    return pong === 'PONG' ? { ok: true } : reply.code(503).send({ ok: false, message: `redis unreachable (${pong})` });
  });
  app.get('/metrics', async (_request, reply) => {
    const body = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });
  registerV1(app, deps);
  registerHistoryRoutes(app, deps);
  registerQueueBoard(app, deps);
  return app;
}

function isMutating(request: FastifyRequest): boolean {
  return request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS';
}

function authorized(request: FastifyRequest, token: string | null): boolean {
  if (!token) return true;
  const given = Buffer.from(request.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
