import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { TAGS } from '../../src/providers/provider.js';
import type { Status } from '../../src/status.js';
import { lastReaperRun } from '../../src/pool/reaper.js';
import { runToEnd } from '../helpers/child.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';
import { loseEverything } from '../helpers/lose-redis.js';

let system: TestSystem | undefined;
let redis: Redis;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await redis.quit();
});
afterEach(async () => {
  await system?.close();
  system = undefined;
});

const status = async () => ((await (await fetch(`${system!.app.url}/v1/status`)).json()) as Status).pools[0]!;

describe('Redis loss', () => {
  it('rebuilds the store from the cloud tags: leased machines stay leased and alive, the pool returns to target without launching', async () => {
    system = await startSystem(onePool({ warm: 3, max: 8 }));
    const { sim, config, app } = system;
    await waitFor(async () => (await status()).machines.ready === 3, { what: 'the pool to fill' });
    const lease = (await (await fetch(`${app.url}/v1/pools/small/leases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { id: string; instanceId: string };
    await waitFor(async () => (await status()).machines.ready === 3, { what: 'the pool to refill after the lease' });
    // The tag follows the answer: the lease never waits for the cloud.
    await waitFor(() => sim.instances().find((i) => i.instanceId === lease.instanceId)?.tags[TAGS.state] === 'leased', { what: 'the lease tag on the instance' });

    const lostAt = Date.now();
    expect(await loseEverything(redis, config.redis.prefix)).toBeGreaterThan(0);
    await waitFor(() => app.epoch.present(), { what: 'the store to be rebuilt (a new epoch)' });
    expect(await app.store.get(lease.id)).toMatchObject({ state: 'leased', instanceId: lease.instanceId });
    await waitFor(async () => (await status()).machines.ready === 3, { what: 'the pool back at target', timeoutMs: 30_000 });

    const running = sim.instances().filter((i) => i.state === 'running');
    expect(running.map((i) => i.instanceId)).toContain(lease.instanceId);
    expect(sim.instances().filter((i) => i.launchedAt > lostAt)).toEqual([]); // the deficit after the rebuild was 0
    expect(running).toHaveLength(4);

    const released = await fetch(`${app.url}/v1/leases/${lease.id}`, { method: 'DELETE' });
    expect(released.status).toBe(200);
    await waitFor(() => sim.instances().find((i) => i.instanceId === lease.instanceId)?.state === 'terminated', { what: 'the released machine to end' });
  });

  it('costs nothing: machines restored after their boot deadline passed are verified and kept, no zone hears of them, nothing is launched', async () => {
    // At least minOutcomes ready machines per zone, every one older than bootTimeout by the time Redis is lost: measured
    // from their launch, each restored boot would be late (slow at once, stuck for the reaper) and open its zone.
    const minOutcomes = 2;
    system = await startSystem({
      breaker: { minOutcomes, slowBootFloor: '3s', slowBootMinSamples: 1 },
      reaper: { every: '1s' },
      ...onePool({ warm: 3 * minOutcomes, max: 12, bootTimeout: '8s' }),
    });
    const { sim, config, app } = system;
    const zones = ['sim/zone-a', 'sim/zone-b', 'sim/zone-c'];
    const lease = (await (await fetch(`${app.url}/v1/pools/small/leases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"wait": "60s"}' })).json()) as { id: string; instanceId: string };
    // Full, with a machine in every zone. Not an exact spread: on a busy machine a boot judged slow steers the next
    // launches elsewhere. Any outcome a restored machine reported would show in its zone's `outcomes` below.
    const full = async () => {
      const counts = await app.store.counts('small');
      const held = (z: string) => (counts[z]?.ready ?? 0) + (counts[z]?.leased ?? 0);
      return zones.every((z) => held(z) >= 1) && zones.reduce((n, z) => n + held(z), 0) >= 3 * minOutcomes;
    };
    await waitFor(full, { what: 'the pool full with a machine in every zone', timeoutMs: 180_000 });
    await waitFor(() => sim.instances().find((i) => i.instanceId === lease.instanceId)?.tags[TAGS.state] === 'leased', { what: 'the lease tag on the instance' });
    const before = sim.instances().filter((i) => i.state === 'running');
    const newest = Math.max(...before.map((i) => i.launchedAt));
    await waitFor(() => Date.now() > newest + config.pools[0]!.bootTimeout, { what: 'every machine to be older than bootTimeout', timeoutMs: 30_000 });

    const lostAt = Date.now();
    expect(await loseEverything(redis, config.redis.prefix)).toBeGreaterThan(0);
    await waitFor(() => app.epoch.present(), { what: 'the store to be rebuilt (a new epoch)' });
    const restored = before.filter((i) => i.instanceId !== lease.instanceId).map((i) => i.tags[TAGS.machineId]!);
    const settled = async () => (await Promise.all(restored.map((id) => app.store.get(id)))).every((m) => m && m.state !== 'booting' && m.state !== 'preparing');
    await waitFor(settled, { what: 'every restored machine verified and prepared again (or failed)', timeoutMs: 90_000 });
    expect((await Promise.all(restored.map((id) => app.store.get(id)))).map((m) => m?.state)).toEqual(restored.map(() => 'ready'));
    // A margin covering the reaper: two whole runs after the last restored machine was ready.
    const readyAt = Date.now();
    await waitFor(async () => ((await lastReaperRun({ config, redis: app.redis }))?.at ?? 0) > readyAt, { what: 'a reaper run after the restore' });
    const first = (await lastReaperRun({ config, redis: app.redis }))!.at;
    await waitFor(async () => ((await lastReaperRun({ config, redis: app.redis }))?.at ?? 0) > first, { what: 'a second reaper run' });

    expect(sim.instances().filter((i) => i.state !== 'running').map((i) => i.instanceId)).toEqual([]); // nothing terminated
    expect(sim.instances().filter((i) => i.launchedAt > lostAt)).toEqual([]); // nothing launched
    expect(sim.instances().find((i) => i.instanceId === lease.instanceId)?.state).toBe('running');
    expect(await app.store.get(lease.id)).toMatchObject({ state: 'leased' });
    const health = await app.breaker.read(zones, Date.now());
    for (const zone of zones) expect(health.get(zone)).toMatchObject({ state: 'closed', outcomes: 0 });
    // Restored with a fresh window from the rebuild, as a takeover: the reaper's boot deadline counts from there too.
    for (const m of await app.store.list('small', 'ready')) expect(m).toMatchObject({ restoredAt: expect.any(Number) as number, bootResumedAt: expect.any(Number) as number });
    expect((await app.store.list('small', 'ready')).every((m) => m.bootResumedAt! >= lostAt && m.failure === undefined)).toBe(true);
  }, 420_000);

  it('vmpool recover --dry-run shows what a rebuild would recreate, and recover does it', async () => {
    system = await startSystem(onePool({ warm: 2, max: 4 }));
    const { app, config } = system;
    await waitFor(async () => (await status()).machines.ready === 2, { what: 'the pool to fill' });
    const [victim] = await app.store.list('small', 'ready');
    await redis.del(`${config.redis.prefix}:machine:${victim!.id}`);
    const cli = (...args: string[]) => runToEnd('cli.js', ['--url', app.url!, ...args], {});
    const dry = await cli('recover', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.output).toContain(`would recreate ${victim!.id} (small, ${victim!.zone}, ${victim!.instanceId}) as booting`);
    expect(await app.store.get(victim!.id)).toBeUndefined();
    const real = JSON.parse((await cli('recover', '--json')).output) as { restored: number };
    expect(real.restored).toBe(1);
    await waitFor(async () => (await app.store.get(victim!.id))?.state === 'ready', { what: 'the recreated machine to be verified and ready again' });
  });
});
