import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { rawRequest } from '../helpers/raw-http.js';
import { registeredRoutes } from '../../src/http/openapi.js';

// Only the web role: every answer here is about input, none needs a machine.
let system: TestSystem;
beforeAll(async () => {
  system = await startSystem(onePool(), ['web']);
});
afterAll(async () => {
  await system.close();
});

const huge = 'x'.repeat(900_000);

interface Row {
  route: string;
  path: string;
  body?: unknown;
  /** The field the answer must name, as `body.for`, `query.count`, `params.pool`. */
  field: string;
}

/** Wrong types, out-of-range numbers, oversized strings, control characters, unknown fields: per route. */
const ROWS: Row[] = [
  { route: 'POST /v1/pools/:pool/leases', path: '/v1/pools/small/leases', body: { wait: 30 }, field: 'body.wait' },
  { route: 'POST /v1/pools/:pool/leases', path: '/v1/pools/small/leases', body: { wait: '100000000000d' }, field: 'body.wait' },
  { route: 'POST /v1/pools/:pool/leases', path: '/v1/pools/small/leases', body: { agentVersion: '1.5.0$(id)' }, field: 'body.agentVersion' },
  { route: 'POST /v1/pools/:pool/leases', path: '/v1/pools/small/leases', body: { agentVersion: 'v'.repeat(300) }, field: 'body.agentVersion' },
  { route: 'POST /v1/pools/:pool/leases', path: '/v1/pools/small/leases', body: { leasedBy: 'ci\njob' }, field: 'body.leasedBy' },
  { route: 'POST /v1/pools/:pool/leases', path: '/v1/pools/small/leases', body: { leasedBy: 'j'.repeat(201) }, field: 'body.leasedBy' },
  { route: 'POST /v1/pools/:pool/leases', path: '/v1/pools/small/leases', body: { nope: 1 }, field: 'body.nope' },
  { route: 'POST /v1/pools/:pool/leases', path: '/v1/pools/small/leases', body: [1], field: 'body' },
  { route: 'POST /v1/pools/:pool/leases', path: '/v1/pools/small/leases?wait=-1s', field: 'query.wait' },
  { route: 'POST /v1/pools/:pool/leases', path: '/v1/pools/Small_Pool/leases', body: {}, field: 'params.pool' },
  { route: 'DELETE /v1/leases/:id', path: '/v1/leases/m-1%0Aforged', field: 'params.id' },
  { route: 'DELETE /v1/leases/:id', path: `/v1/leases/${'m'.repeat(100)}`, field: 'params.id' },
  { route: 'GET /v1/machines/:id', path: '/v1/machines/m%00', field: 'params.id' },
  { route: 'DELETE /v1/pools/:pool/halt', path: '/v1/pools/SMALL/halt', field: 'params.pool' },
  { route: 'DELETE /v1/providers/:provider/halt', path: '/v1/providers/Sim%0A/halt', field: 'params.provider' },
  { route: 'GET /v1/zones/audit', path: '/v1/zones/audit?count=-1', field: 'query.count' },
  { route: 'GET /v1/zones/audit', path: '/v1/zones/audit?count=0.5', field: 'query.count' },
  { route: 'GET /v1/zones/audit', path: '/v1/zones/audit?count=-Infinity', field: 'query.count' },
  { route: 'GET /v1/zones/audit', path: '/v1/zones/audit?count=501', field: 'query.count' },
  { route: 'GET /v1/status/history', path: '/v1/status/history?since=100000000000d', field: 'query.since' },
  { route: 'GET /v1/status/history', path: '/v1/status/history?since=soon', field: 'query.since' },
  { route: 'GET /v1/status/history', path: '/v1/status/history?until=1h', field: 'query.until' },
  { route: 'GET /v1/leases', path: `/v1/leases?pool=${'p'.repeat(300)}`, field: 'query.pool' },
  { route: 'GET /v1/leases', path: '/v1/leases?pool=Bad%0APool', field: 'query.pool' },
  { route: 'GET /v1/leases', path: '/v1/leases?owner=me', field: 'query.owner' },
  { route: 'PUT /v1/zones/:zone/breaker', path: '/v1/zones/sim%2Fzone-b/breaker', body: { mode: 'open', reason: 'x', for: '100000000000d' }, field: 'body.for' },
  { route: 'PUT /v1/zones/:zone/breaker', path: '/v1/zones/sim%2Fzone-b/breaker', body: { mode: 'open', reason: 'x', for: '31d' }, field: 'body.for' },
  { route: 'PUT /v1/zones/:zone/breaker', path: '/v1/zones/sim%2Fzone-b/breaker', body: { mode: 'open', reason: 'line\n[12:00:00] INFO: forged' }, field: 'body.reason' },
  { route: 'PUT /v1/zones/:zone/breaker', path: '/v1/zones/sim%2Fzone-b/breaker', body: { mode: 'open', reason: 'x', by: huge }, field: 'body.by' },
  { route: 'PUT /v1/zones/:zone/breaker', path: '/v1/zones/sim%2Fzone-b/breaker', body: { mode: 1, reason: 'x' }, field: 'body.mode' },
  { route: 'PUT /v1/zones/:zone/breaker', path: '/v1/zones/sim%2Fzone-b/breaker', field: 'body' },
  { route: 'PUT /v1/zones/:zone/breaker', path: '/v1/zones/zone%20b/breaker', body: { mode: 'open', reason: 'x' }, field: 'params.zone' },
  { route: 'GET /v1/agent/verify', path: '/v1/agent/verify', field: 'query.version' },
  { route: 'GET /v1/agent/verify', path: '/v1/agent/verify?version=1.5.0%3Bid', field: 'query.version' },
  { route: 'GET /v1/agent/verify', path: '/v1/agent/verify?version=1.5.0&pool=ALL', field: 'query.pool' },
  { route: 'PUT /v1/agent/rollout', path: '/v1/agent/rollout', body: { version: '1.6.0', by: huge }, field: 'body.by' },
  { route: 'PUT /v1/agent/rollout', path: '/v1/agent/rollout', body: { version: 1.6 }, field: 'body.version' },
  { route: 'PUT /v1/agent/rollout', path: '/v1/agent/rollout', body: { version: '1.6.0', canary: { version: '1.7.0', share: 2 } }, field: 'body.canary.share' },
  { route: 'PUT /v1/agent/rollout', path: '/v1/agent/rollout', body: { version: '1.6.0', canary: { version: '1.7.0', share: '0.5' } }, field: 'body.canary.share' },
  { route: 'PUT /v1/agent/rollout', path: '/v1/agent/rollout', body: { version: '1.6.0', force: 'yes' }, field: 'body.force' },
  { route: 'DELETE /v1/agent/canary-halt', path: '/v1/agent/canary-halt?pool=%0A', field: 'query.pool' },
  { route: 'POST /v1/recovery', path: '/v1/recovery', body: { dryRun: true }, field: 'body.dryRun' },
];

const SAMPLE_PARAMS: Record<string, string> = { pool: 'small', id: 'm-1', zone: 'sim%2Fzone-b', provider: 'sim' };
const MUTATING = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

function send(method: string, path: string, options: { body?: string; contentType?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.contentType) headers['content-type'] = options.contentType;
  return rawRequest(system.app.url!, { method, path, headers, body: options.body });
}

function routes() {
  return registeredRoutes(system.app.http!).filter((r) => r.method !== 'HEAD' && !r.hidden);
}

describe('every route validates every field', () => {
  it.each(ROWS.map((row) => [`${row.route} ${row.field}`, row] as const))('%s: a 4xx naming the field, never a 500', async (_name, row) => {
    const method = row.route.split(' ')[0]!;
    const answer = await send(method, row.path, row.body === undefined ? {} : { body: JSON.stringify(row.body), contentType: 'application/json' });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('bad-request');
    expect(answer.body.message).toMatch(new RegExp(`^${row.field.replace(/\./g, '\\.')}[.:]`));
    // The client's text is quoted, never echoed raw: no control character, no 900 kB answer.
    expect([...answer.text].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
    expect(answer.text.length).toBeLessThan(1_000);
  });

  it('has rows for every route that takes input', () => {
    const covered = new Set(ROWS.map((r) => r.route));
    const TAKES_NO_INPUT = new Set(['GET /', 'GET /healthz', 'GET /metrics', 'GET /v1/status', 'GET /v1/zones', 'GET /v1/recovery']);
    const missing = routes().map((r) => `${r.method} ${r.url}`).filter((name) => !covered.has(name) && !TAKES_NO_INPUT.has(name));
    expect(missing).toEqual([]);
  });

  it('answers 415 to a body that is not JSON on every mutating route', async () => {
    const mutating = routes().filter((r) => MUTATING.has(r.method));
    expect(mutating.length).toBeGreaterThanOrEqual(7);
    for (const route of mutating) {
      const path = route.url.replace(/:(\w+)/g, (_m, name: string) => SAMPLE_PARAMS[name] ?? 'x');
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        const answer = await send(route.method, path, { body: '{"mode":"open","reason":"x"}', contentType });
        expect(answer, `${route.method} ${route.url} ${contentType}`).toMatchObject({ status: 415, body: { error: 'unsupported-media-type' } });
        expect(answer.body.message).toMatch(/^content-type: expected application\/json/);
      }
    }
  });

  it('answers a malformed JSON body with 400, not 500', async () => {
    const answer = await send('POST', '/v1/pools/small/leases', { body: '{"wait":', contentType: 'application/json' });
    expect(answer).toMatchObject({ status: 400, body: { error: 'bad-request' } });
  });
});

describe('what is already stored never breaks the operator view', () => {
  it('shows an override stored with an absurd until as invalid and a 900 kB rollout by cut short, not a 500', async () => {
    const now = Date.now();
    // As today's code stored them before the schema refused them.
    await system.app.breaker.setMode('sim/zone-b', 'forced-open', { reason: 'r'.repeat(5_000), by: huge, until: now + 100_000_000_000 * 86_400_000, now });
    const pool = system.config.pools[0]!;
    await system.app.rollouts.set(pool.name, { version: '1.5.0', canary: null, by: huge }, now);

    const status = await send('GET', '/v1/status');
    expect(status.status).toBe(200);
    expect(status.text.length).toBeLessThan(20_000);
    const zone = (status.body.zones as { zone: string; until?: string; by?: string; reason?: string }[]).find((z) => z.zone === 'sim/zone-b')!;
    expect(zone.until).toBe('invalid');
    expect(zone.by!.length).toBeLessThan(300);
    expect(zone.reason!.length).toBeLessThan(300);
    const agent = (status.body.pools as { agent?: { setBy?: string } }[])[0]!.agent!;
    expect(agent.setBy!.length).toBeLessThan(300);
    expect((await send('GET', '/v1/zones')).status).toBe(200);
    await system.app.breaker.setMode('sim/zone-b', 'auto', { reason: 'reset', by: 'test', now });
  });

  it('answers an unexpected failure with 500, a request id and a generic message; the detail stays in the log', async () => {
    await system.app.store.create({ id: 'm-broken', pool: 'small', zone: 'sim/zone-a', instanceType: 't3.small', imageId: 'ami-1' }, { warm: 1, max: 6 }, Date.now());
    await system.app.redis.rpush(`${system.config.redis.prefix}:machine-log:m-broken`, '{not json SECRET-DETAIL');
    const answer = await send('GET', '/v1/machines/m-broken');
    expect(answer).toMatchObject({ status: 500, body: { error: 'internal' } });
    expect(answer.body.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.body.message).toContain(answer.body.requestId);
    expect(answer.text).not.toMatch(/JSON|SECRET-DETAIL|position/);
  });
});
