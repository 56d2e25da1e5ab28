import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from '../../src/status.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { rawRequest } from '../helpers/raw-http.js';
import { waitFor } from '../helpers/wait-for.js';

let system: TestSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

const TOKEN = 'a-token-of-at-least-24-characters';

function send(path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const { port } = new URL(system!.app.url!);
  return rawRequest(system!.app.url!, { path, ...options, headers: { host: `127.0.0.1:${port}`, ...options.headers } });
}

async function status(): Promise<Status['pools'][number]> {
  return ((await send('/v1/status')).body as unknown as Status).pools[0]!;
}

describe('requests a web page could forge', () => {
  it('refuses a text/plain lease, a foreign Host (DNS rebinding) and a foreign Origin, and nothing is leased or recovered', async () => {
    system = await startSystem(onePool({ warm: 1, max: 1 }));
    await waitFor(async () => (await status()).machines.ready === 1, { what: 'one ready machine', timeoutMs: 30_000 });
    const listings = () => system!.sim.requests().DescribeInstances ?? 0;
    const json = { 'content-type': 'application/json' };

    expect(await send('/v1/pools/small/leases', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"wait":"0s"}' })).toMatchObject({ status: 415, body: { error: 'unsupported-media-type' } });
    expect(await send('/v1/pools/small/leases', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'wait=0s' })).toMatchObject({ status: 415 });
    const rebound = { host: 'attacker.example:8080' };
    expect(await send('/v1/pools/small/leases', { method: 'POST', headers: { ...rebound, ...json }, body: '{}' })).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect(await send('/v1/status', { headers: rebound })).toMatchObject({ status: 403 });
    const listed = listings();
    expect(await send('/v1/recovery', { headers: rebound })).toMatchObject({ status: 403 });
    expect(await send('/v1/recovery', { method: 'POST', headers: rebound })).toMatchObject({ status: 403 });
    const foreign = { origin: 'http://attacker.example' };
    expect(await send('/v1/pools/small/leases', { method: 'POST', headers: { ...foreign, ...json }, body: '{}' })).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect(await send('/v1/recovery', { method: 'POST', headers: foreign })).toMatchObject({ status: 403 });
    expect(await send('/v1/recovery', { method: 'POST', headers: { origin: 'null' } })).toMatchObject({ status: 403 });

    expect(listings()).toBe(listed);
    expect(await status()).toMatchObject({ machines: { ready: 1, leased: 0 } });

    // The API's own page (same origin), the CLI (no Origin) and health checks by address still work.
    const { port } = new URL(system.app.url!);
    expect((await send('/', { headers: { host: `localhost:${port}` } })).status).toBe(200);
    expect((await send('/v1/status', { headers: { origin: `http://127.0.0.1:${port}` } })).status).toBe(200);
    // Only a Host header: the request itself goes to the API on loopback.
    expect((await send('/healthz', { headers: { host: 'health-check.example.com' } })).status).toBe(200);
    const leased = await send('/v1/pools/small/leases', { method: 'POST', headers: { origin: `http://127.0.0.1:${port}`, ...json }, body: '{}' });
    expect(leased).toMatchObject({ status: 200, body: { pool: 'small' } });
    expect((await send(`/v1/leases/${String(leased.body.id)}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('answers a Host listed in http.allowedHosts, on any port', async () => {
    system = await startSystem({ ...onePool(), http: { allowedHosts: ['vmpool.example.com'] } }, ['web']);
    expect((await send('/v1/status', { headers: { host: 'vmpool.example.com:443' } })).status).toBe(200);
    expect((await send('/v1/status', { headers: { host: 'vmpool.example.org' } })).status).toBe(403);
  });
});

describe('http.protectReads', () => {
  it('puts machine detail, recovery, verify and any other read behind the token; status, zones, health, metrics and the dashboard stay open', async () => {
    system = await startSystem({ ...onePool(), http: { token: TOKEN, protectReads: true } }, ['web']);
    const listings = () => system!.sim.requests().DescribeInstances ?? 0;
    const listed = listings();
    for (const path of ['/v1/machines/m-1', '/v1/recovery', '/v1/agent/verify?version=1.5.0', '/v1/some-later-read']) {
      expect(await send(path), path).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    }
    expect(listings()).toBe(listed);
    for (const path of ['/', '/healthz', '/metrics', '/v1/status', '/v1/zones', '/v1/zones/audit', '/openapi.json']) expect((await send(path)).status, path).toBe(200);
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect(await send('/v1/machines/m-1', { headers: auth })).toMatchObject({ status: 404, body: { error: 'unknown-machine' } });
    expect((await send('/v1/recovery', { headers: auth })).status).toBe(200);
  });

  it('leaves reads open when false, as in development', async () => {
    system = await startSystem({ ...onePool(), http: { token: TOKEN } }, ['web']);
    expect(await send('/v1/machines/m-1')).toMatchObject({ status: 404 });
  });
});
