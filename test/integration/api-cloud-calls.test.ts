import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import type { Status } from '../../src/status.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';

let system: TestSystem | undefined;
let second: App | undefined;
let registry: Server | undefined;
afterEach(async () => {
  await second?.close();
  await system?.close();
  await new Promise((resolve) => (registry ? registry.close(resolve) : resolve(undefined)));
  system = second = registry = undefined;
});

const get = async (url: string, path: string) => {
  const response = await fetch(`${url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** A registry that has every manifest and counts the requests it receives. */
async function countingRegistry(): Promise<{ url: string; manifests: () => number }> {
  let manifests = 0;
  registry = createServer((req, res) => {
    if (req.url?.includes('/manifests/')) manifests++;
    res.writeHead(200, { 'docker-content-digest': 'sha256:' + 'a'.repeat(64), 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' }).end();
  });
  await new Promise<void>((resolve) => registry!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(registry.address() as AddressInfo).port}`, manifests: () => manifests };
}

describe('reads that cost calls outside vmpool', () => {
  it('lists the cloud once for 20 concurrent recovery dry runs across two web processes, and answers every one', async () => {
    system = await startSystem({ ...onePool(), http: { recoveryListEvery: '1m' } }, ['web']);
    second = await createApp({ config: system.config, logger: createLogger(system.config.log), roles: ['web'] });
    const listings = () => system!.sim.requests().DescribeInstances ?? 0;
    const before = listings();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => get(i % 2 ? system!.app.url! : second!.url!, '/v1/recovery')));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers.every((a) => a.body.known === 0 && Array.isArray(a.body.recreate))).toBe(true);
    expect(listings() - before).toBe(1);
    // Within the period, later callers get the same answer without another listing.
    expect((await get(system.app.url!, '/v1/recovery')).status).toBe(200);
    expect(listings() - before).toBe(1);
  });

  it('asks each registry once per version for 20 concurrent verify calls', async () => {
    const counting = await countingRegistry();
    system = await startSystem({ ...onePool(), registries: [{ name: 'primary', url: counting.url }, { name: 'secondary', url: counting.url }] }, ['web']);
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(system!.app.url!, '/v1/agent/verify?version=1.6.0')));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers[0]!.body).toMatchObject({ version: '1.6.0', ok: true });
    expect(counting.manifests()).toBe(2);
    // Another version is another answer.
    expect((await get(system.app.url!, '/v1/agent/verify?version=1.7.0')).status).toBe(200);
    expect(counting.manifests()).toBe(4);
  });
});

describe('demand a lease can create', () => {
  it('answers a lease for a version no rollout wants and no machine has at once with 409 naming the available ones, adding no demand', async () => {
    system = await startSystem(onePool({ warm: 1, max: 6 }), ['web']);
    const lease = () =>
      fetch(`${system!.app.url}/v1/pools/small/leases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ wait: '30s', agentVersion: 'nope' }) });
    const answers = await Promise.all(Array.from({ length: 50 }, lease));
    const bodies = (await Promise.all(answers.map((a) => a.json()))) as { error: string; message: string; available: string[] }[];
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(409));
    expect(bodies[0]).toMatchObject({ error: 'version-not-available', available: ['1.5.0'] });
    expect(bodies[0]!.message).toContain('available: 1.5.0');
    const [pool] = ((await (await fetch(`${system.app.url}/v1/status`)).json()) as Status).pools;
    expect(pool).toMatchObject({ waiting: 0, target: 1, scheduled: 1 });
    expect(await system.app.redis.zcard(`${system.config.redis.prefix}:waiting:small`)).toBe(0);
  });

  it('removes waiting entries a dead web process left behind once they are past their deadline', async () => {
    system = await startSystem(onePool(), ['web']);
    const { waiters, redis } = system.app;
    const now = Date.now();
    await waiters.start('small', 'left-by-a-dead-process', now - 1_000);
    await waiters.start('small', 'still-waiting', now + 60_000);
    expect(await waiters.count('small', now)).toBe(1);
    expect(await redis.zrange(`${system.config.redis.prefix}:waiting:small`, 0, -1)).toEqual(['still-waiting']);
  });
});
