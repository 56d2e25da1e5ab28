import type { FastifyInstance } from 'fastify';
import { listLeases } from '../pool/lease-list.js';
import type { ServerDeps } from './server.js';
import { poolName } from './schema-parts.js';

const LEASE_ENTRY = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    pool: { type: 'string' },
    zone: { type: 'string' },
    address: { type: 'string' },
    port: { type: 'integer' },
    instanceId: { type: 'string' },
    agentVersion: { type: 'string' },
    leasedAt: { type: 'string', format: 'date-time' },
    ageSeconds: { type: 'integer' },
    leasedBy: { type: 'string' },
  },
  required: ['id', 'pool', 'zone'],
} as const;

const ERROR = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } } as const;

/**
 * `GET /v1/leases[?pool=]`: every leased machine, oldest first, with who asked.
 * It names machine addresses: the kind of read `http.protectReads` guards.
 */
export function registerLeaseListRoutes(app: FastifyInstance, deps: Pick<ServerDeps, 'config' | 'store' | 'now'>): void {
  app.get<{ Querystring: { pool?: string } }>(
    '/v1/leases',
    {
      schema: {
        querystring: { type: 'object', properties: { pool: poolName }, additionalProperties: false },
        response: { 200: { type: 'object', properties: { leases: { type: 'array', items: LEASE_ENTRY } }, required: ['leases'] }, 404: ERROR },
      },
    },
    async (request, reply) => {
      const names = deps.config.pools.map((p) => p.name);
      const wanted = request.query.pool;
      if (wanted !== undefined && !names.includes(wanted)) {
        return reply.code(404).send({ error: 'unknown-pool', message: `pool: no pool named ${JSON.stringify(wanted)}; pools: ${names.join(', ')}` });
      }
      return { leases: await listLeases(wanted === undefined ? names : [wanted], deps) };
    },
  );
}
