import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseDuration } from '../duration.js';
import type { BreakerMode } from '../zones/breaker.js';
import { readZones, zoneView } from '../status.js';
import type { ServerDeps } from './server.js';

const MODES: Record<string, BreakerMode> = { open: 'forced-open', closed: 'forced-closed', auto: 'auto' };

const overrideBody = z.strictObject({
  mode: z.enum(['open', 'closed', 'auto'], { error: 'mode: expected "open", "closed" or "auto"' }),
  reason: z.string({ error: 'reason: expected a text saying why' }).min(1, { error: 'reason: expected a text saying why' }).max(500),
  for: z.string().optional(),
  by: z.string().max(100).optional(),
});

/** Zone breakers: list, audit, and the manual override (`PUT`, token-protected like every mutation). */
export function registerZoneRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const known = () => new Set(deps.config.pools.flatMap((p) => p.zones));

  app.get('/v1/zones', async () => ({ zones: await readZones(deps) }));

  app.get<{ Querystring: { count?: string } }>('/v1/zones/audit', async (request) => ({
    transitions: (await deps.breaker.audit(Math.min(500, Number(request.query.count) || 50))).map((t) => ({ ...t, at: new Date(t.at).toISOString() })),
  }));

  // The zone id holds a slash (`sim/zone-b`): clients encode it (`sim%2Fzone-b`).
  app.put<{ Params: { zone: string }; Body: unknown }>('/v1/zones/:zone/breaker', async (request, reply) => {
    const zone = request.params.zone;
    if (!known().has(zone)) return reply.code(404).send({ error: 'unknown-zone', message: `no pool uses zone "${zone}"; zones: ${[...known()].join(', ')}` });
    const parsed = overrideBody.safeParse(request.body ?? {});
    if (!parsed.success) return reply.code(400).send({ error: 'bad-request', message: parsed.error.issues.map((i) => i.message).join('; ') });
    const { mode, reason, by } = parsed.data;
    const forMs = parsed.data.for === undefined ? undefined : parseDuration(parsed.data.for);
    if (forMs === undefined && parsed.data.for !== undefined) return reply.code(400).send({ error: 'bad-request', message: `for: expected a duration like "30m", got ${JSON.stringify(parsed.data.for)}` });
    const now = deps.now();
    const health = await deps.breaker.setMode(zone, MODES[mode]!, { reason, by: by ?? 'api', until: forMs === undefined ? undefined : now + forMs, now });
    deps.logger.warn({ zone, mode: health.mode, reason, by: by ?? 'api', forMs }, `zone ${zone} breaker set to ${mode} by ${by ?? 'api'}: ${reason}`);
    return zoneView(health);
  });
}
