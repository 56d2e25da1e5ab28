import { timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Queue } from 'bullmq';
import type { ServerDeps } from './server.js';
import { OPEN_READ } from './access.js';

export const QUEUE_BOARD_PATH = '/queues';

/**
 * The BullMQ board (`@bull-board/fastify`) at /queues: every vmpool queue,
 * its waiting, active, delayed and failed jobs. Read-only: vmpool's jobs are
 * made and retried by vmpool (a job removed by hand can strand its machine
 * until the reaper), and a board that cannot change anything gives a
 * browser's stored credentials nothing to be tricked into doing.
 *
 * Behind `http.token` when one is set, for the board's pages and its API. A
 * browser cannot send a bearer header, so the token is also accepted as the
 * password of HTTP basic auth (any user name): the browser asks once and
 * sends it with every request of the board, and nothing is stored server-side.
 */
export function registerQueueBoard(app: FastifyInstance, deps: Pick<ServerDeps, 'config' | 'queues'>): void {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: Object.values(deps.queues).map((queue: Queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'vmpool queues' } },
  });
  const token = deps.config.http.token;
  // An encapsulated scope: the hook guards the board's routes only.
  void app.register(async (scope) => {
    // The board's pages and API are not vmpool's API: kept out of /openapi.json. Its reads are guarded by the
    // hook below (which also takes basic auth, as a browser can send it), not by the API's bearer-only check.
    scope.addHook('onRoute', (route) => {
      route.schema = { ...route.schema, hide: true };
      route.config = { ...route.config, ...OPEN_READ };
    });
    scope.addHook('onRequest', async (request, reply) => {
      if (token && !boardAuthorized(request, token)) {
        return reply
          .code(401)
          .header('www-authenticate', 'Basic realm="vmpool queues", charset="UTF-8"')
          .send({ error: 'unauthorized', message: 'the queue board needs the API token: as the basic-auth password (any user name), or Authorization: Bearer <API_TOKEN>' });
      }
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  });
}

function boardAuthorized(request: FastifyRequest, token: string): boolean {
  const header = request.headers.authorization ?? '';
  if (header.startsWith('Bearer ')) return sameText(header.slice('Bearer '.length), token);
  if (!header.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 && sameText(decoded.slice(colon + 1), token);
}

function sameText(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
