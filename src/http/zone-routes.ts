import type { FastifyInstance } from 'fastify';
import { parseDuration } from '../duration.js';
import type { BreakerMode } from '../zones/breaker.js';
import { readZones, zoneView } from '../status.js';
import { isoTime } from '../iso-time.js';
import type { ServerDeps } from './server.js';
import { OPEN_READ } from './access.js';
import { auditSchema, overrideSchema, zonesSchema } from './route-schemas.js';

const MODES: Record<string, BreakerMode> = { open: 'forced-open', closed: 'forced-closed', auto: 'auto' };

interface OverrideRequest {
  Params: { zone: string };
  Body: { mode: 'open' | 'closed' | 'auto'; reason: string; for?: string; by?: string };
}

/** Zone breakers: list, audit, and the manual override (`PUT`, token-protected like every mutation). */
export function registerZoneRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const known = () => new Set(deps.config.pools.flatMap((p) => p.zones));

  // The same breakers as /v1/status shows: open like it.
  app.get('/v1/zones', { schema: zonesSchema, config: OPEN_READ }, async () => ({ zones: await readZones(deps) }));

  app.get<{ Querystring: { count?: string } }>('/v1/zones/audit', { schema: auditSchema, config: OPEN_READ }, async (request) => ({
    transitions: (await deps.breaker.audit(Number(request.query.count ?? 50))).map((t) => ({ ...t, at: isoTime(t.at) })),
  }));

  // The zone id holds a slash (`sim/zone-b`): clients encode it (`sim%2Fzone-b`).
  app.put<OverrideRequest>('/v1/zones/:zone/breaker', { schema: overrideSchema }, async (request, reply) => {
    const zone = request.params.zone;
    if (!known().has(zone)) return reply.code(404).send({ error: 'unknown-zone', message: `no pool uses zone "${zone}"; zones: ${[...known()].join(', ')}` });
    const { mode, reason } = request.body;
    const by = request.body.by ?? 'api';
    const forMs = request.body.for === undefined ? undefined : parseDuration(request.body.for);
    const now = deps.now();
    const health = await deps.breaker.setMode(zone, MODES[mode]!, { reason, by, until: forMs === undefined ? undefined : now + forMs, now });
    // Operator text stays in fields: a newline in it cannot forge a line of a readable log.
    deps.logger.warn({ zone, mode: health.mode, reason, by, forMs }, `zone ${zone} breaker overridden: ${mode}`);
    return zoneView(health);
  });
}
