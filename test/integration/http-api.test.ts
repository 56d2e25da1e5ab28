import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from '../../src/status.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { runToEnd } from '../helpers/child.js';

// Only the web role runs: no producer fills the pool, so leases find nothing ready.
let system: TestSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

async function request(method: string, path: string, options: { body?: unknown; token?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${system!.app.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as { error?: string; message?: string } & Record<string, unknown> };
}

describe('the HTTP API', () => {
  it('answers 404 with the known pools for an unknown pool', async () => {
    system = await startSystem(onePool(), ['web']);
    const answer = await request('POST', '/v1/pools/huge/leases', { body: {} });
    expect(answer).toMatchObject({ status: 404, body: { error: 'unknown-pool', message: 'no pool named "huge"; pools: small' } });
  });

  it('answers 400 naming the field for a malformed or too long wait', async () => {
    system = await startSystem(onePool(), ['web']);
    expect(await request('POST', '/v1/pools/small/leases', { body: { wait: 'soon' } })).toMatchObject({
      status: 400,
      body: { error: 'bad-request', message: 'body.wait: expected a duration like "30s", "5m" or "2h", at most 30d, got "soon"' },
    });
    expect(await request('POST', '/v1/pools/small/leases?wait=1h')).toMatchObject({
      status: 400,
      body: { message: 'query.wait: at most 5m (http.maxLeaseWait), got 1h' },
    });
    expect((await request('POST', '/v1/pools/small/leases', { body: { wait: 30 } })).status).toBe(400);
  });

  it('answers 503 with Retry-After when no machine becomes ready within the wait, and records the wait', async () => {
    system = await startSystem(onePool(), ['web']);
    const answer = await request('POST', '/v1/pools/small/leases', { body: { wait: '200ms' } });
    expect(answer).toMatchObject({ status: 503, body: { error: 'no-machine' } });
    expect(answer.headers.get('retry-after')).toBe('5');
    const metrics = await (await fetch(`${system.app.url}/metrics`)).text();
    expect(metrics).toMatch(/vmpool_lease_wait_seconds_count\{pool="small",result="timeout"\} 1/);
  });

  it('answers 404 for an unknown lease and 409 for a machine that is not leased', async () => {
    system = await startSystem(onePool(), ['web']);
    expect(await request('DELETE', '/v1/leases/m-nope')).toMatchObject({ status: 404, body: { error: 'unknown-lease' } });
    await system.app.store.create({ id: 'm-1', pool: 'small', zone: 'sim/zone-a', instanceType: 't3.small', imageId: 'ami-1' }, { warm: 1, max: 1 }, Date.now());
    expect(await request('DELETE', '/v1/leases/m-1')).toMatchObject({ status: 409, body: { error: 'not-leased', message: 'machine "m-1" is requested, not leased' } });
  });

  it('requires the bearer token on mutating endpoints when one is configured, but not on reads', async () => {
    system = await startSystem({ ...onePool(), http: { token: 'sekret-token' } }, ['web']);
    expect(await request('POST', '/v1/pools/small/leases', { body: {} })).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    expect((await request('POST', '/v1/pools/small/leases', { body: {}, token: 'wrong' })).status).toBe(401);
    expect((await request('POST', '/v1/pools/small/leases', { body: {}, token: 'sekret-token' })).status).toBe(503);
    expect((await request('GET', '/v1/status')).status).toBe(200);
  });

  it('reports status with every state per pool and per zone, and health', async () => {
    system = await startSystem(onePool({ warm: 3, max: 6 }), ['web']);
    const status = await request('GET', '/v1/status');
    const zero = { requested: 0, launching: 0, booting: 0, preparing: 0, ready: 0, leased: 0, failed: 0, terminating: 0 };
    const [pool, ...others] = (status.body as unknown as Status).pools;
    expect(others).toEqual([]);
    expect(pool).toEqual({
      name: 'small',
      target: 3,
      scheduled: 3,
      waiting: 0,
      min: 0,
      max: 6,
      machines: zero,
      zones: { 'sim/zone-a': zero, 'sim/zone-b': zero, 'sim/zone-c': zero },
      overdueLeases: [],
      // Only the web role runs here: nothing has launched yet, and status says why in words.
      belowTarget: { kind: 'next-reconcile', reason: expect.any(String) as string },
      agent: { image: 'vmpool/build-agent', version: '1.5.0', source: 'config', machines: {}, superseded: 0, outcomes: {} },
    });
    expect(await request('GET', '/healthz')).toMatchObject({ status: 200, body: { ok: true } });
    expect(await request('GET', '/v1/nothing')).toMatchObject({ status: 404, body: { error: 'not-found' } });
  });

  it('overrides a zone breaker over PUT (the zone id URL-encoded), lists it, and audits who did it', async () => {
    system = await startSystem(onePool(), ['web']);
    const put = await request('PUT', '/v1/zones/sim%2Fzone-b/breaker', { body: { mode: 'open', reason: 'maintenance', for: '10m', by: 'alice' } });
    expect(put).toMatchObject({ status: 200, body: { zone: 'sim/zone-b', state: 'open', mode: 'forced-open', reason: 'maintenance', by: 'alice' } });
    const until = Date.parse(put.body.until as string);
    expect(until - Date.now()).toBeGreaterThan(9 * 60_000);
    const { zones } = (await request('GET', '/v1/zones')).body as unknown as { zones: { zone: string; state: string }[] };
    expect(zones.map((z) => `${z.zone}:${z.state}`)).toEqual(['sim/zone-a:closed', 'sim/zone-b:open', 'sim/zone-c:closed']);
    const audit = (await request('GET', '/v1/zones/audit')).body as unknown as { transitions: { zone: string; to: string; by: string; why: string }[] };
    expect(audit.transitions[0]).toMatchObject({ zone: 'sim/zone-b', to: 'open', by: 'alice', why: 'manual forced-open: maintenance' });
  });

  it('answers 400 naming the field for a bad override, and 404 for a zone no pool uses', async () => {
    system = await startSystem(onePool(), ['web']);
    expect(await request('PUT', '/v1/zones/sim%2Fzone-b/breaker', { body: { mode: 'broken', reason: 'x' } })).toMatchObject({ status: 400, body: { error: 'bad-request', message: 'body.mode: expected "open", "closed" or "auto", got "broken"' } });
    expect(await request('PUT', '/v1/zones/sim%2Fzone-b/breaker', { body: { mode: 'open' } })).toMatchObject({ status: 400, body: { message: 'body.reason: required' } });
    expect(await request('PUT', '/v1/zones/sim%2Fzone-b/breaker', { body: { mode: 'open', reason: 'x', for: 'soon' } })).toMatchObject({ status: 400, body: { message: 'body.for: expected a duration like "30s", "5m" or "2h", at most 30d, got "soon"' } });
    expect(await request('PUT', '/v1/zones/sim%2Fzone-q/breaker', { body: { mode: 'open', reason: 'x' } })).toMatchObject({ status: 404, body: { error: 'unknown-zone' } });
  });

  it('sets and lists breakers from the CLI', async () => {
    system = await startSystem(onePool(), ['web']);
    const cli = (...args: string[]) => runToEnd('cli.js', ['--url', system!.app.url!, ...args], {});
    const set = await cli('breaker', 'set', 'sim/zone-c', 'closed', '--reason', 'known good', '--for', '5m');
    expect(set.code).toBe(0);
    expect(set.output).toMatch(/sim\/zone-c\s+closed \(forced-closed until \S+: known good\)/);
    const list = JSON.parse((await cli('breaker', 'list', '--json')).output) as { zones: { zone: string; mode: string }[] };
    expect(list.zones.find((z) => z.zone === 'sim/zone-c')).toMatchObject({ mode: 'forced-closed' });
    expect((await cli('breaker', 'set', 'sim/zone-c', 'sideways', '--reason', 'x')).output).toContain('mode: expected "open", "closed" or "auto"');
  });
});
