import type { FastifyInstance } from 'fastify';
import { parseDuration } from '../duration.js';
import { SAMPLE_EVERY_MS, SAMPLES_KEPT } from '../status-history.js';
import type { ServerDeps } from './server.js';
import { OPEN_READ } from './access.js';
import { historySchema } from './route-schemas.js';

const KEPT_MS = SAMPLES_KEPT * SAMPLE_EVERY_MS;

/** `GET /v1/status/history`: the status samples behind the dashboard's chart. */
export function registerHistoryRoutes(app: FastifyInstance, deps: Pick<ServerDeps, 'history' | 'now'>): void {
  app.get<{ Querystring: { since?: string } }>('/v1/status/history', { schema: historySchema, config: OPEN_READ }, async (request, reply) => {
    const text = request.query.since ?? '1h';
    const sinceMs = typeof text === 'string' ? parseDuration(text) : undefined;
    if (sinceMs === undefined || sinceMs > KEPT_MS) {
      return reply.code(400).send({ error: 'bad-request', message: `since: expected a duration up to 2h like "1h", got ${JSON.stringify(text)}` });
    }
    return { everyMs: SAMPLE_EVERY_MS, samples: await deps.history.read(deps.now() - sinceMs) };
  });
}
