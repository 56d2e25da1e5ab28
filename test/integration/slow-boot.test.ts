import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { BootTimes, type BootKind } from '../../src/boot/boot-times.js';
import type { ZoneStatus } from '../../src/status.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

let redis: Redis;
let system: TestSystem | undefined;
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

const fastKind: BootKind = { provider: 'sim', pool: 'small', instanceType: 't3.small' };
const bigKind: BootKind = { provider: 'sim', pool: 'windows', instanceType: 'm5.2xlarge' };
const newPrefix = () => `{slow-boot-${randomBytes(4).toString('hex')}}`;
const times = (prefix = newPrefix(), minSamples = 10) => new BootTimes(redis, prefix, { floorMs: 1_000, minSamples }, Date.now);

describe('slow boots, judged per kind of machine', () => {
  it('judges a slow pool’s boots by its own median, not by a faster pool that dominates the samples', async () => {
    const bootTimes = times();
    for (let i = 0; i < 90; i++) await bootTimes.record(fastKind, 2_000);
    for (let i = 0; i < 10; i++) await bootTimes.record(bigKind, 9_000);
    expect(await bootTimes.slowAfter(fastKind)).toBe(6_000);
    // Its ordinary 9 s boot is not slow; only three times that is.
    expect(await bootTimes.slowAfter(bigKind)).toBe(27_000);
  });

  it('judges no boot of a kind slow before it has minSamples boots on record; then three times its median, never under the floor', async () => {
    const prefix = newPrefix();
    const bootTimes = times(prefix);
    for (let i = 0; i < 9; i++) await bootTimes.record(fastKind, 100);
    expect(await bootTimes.slowAfter(fastKind)).toBeUndefined();
    const fresh = times(prefix); // another process: nothing cached
    await fresh.record(fastKind, 100);
    expect(await fresh.slowAfter(fastKind)).toBe(1_000);
  });

  it('never counts a slow registry pull in preparing against the zone: the slow clock stops when SSH answers', async () => {
    system = await startSystem({ breaker: { slowBootFloor: '4s', slowBootMinSamples: 1 }, ...onePool({ warm: 1, max: 2, bootTimeout: '2m' }) });
    const { app, sim } = system;
    await waitFor(async () => (await app.store.list('small', 'ready')).length === 1, { what: 'the first machine (one boot time on record)' });
    await waitFor(async () => (await redis.keys(`${system!.config.redis.prefix}:boot-times*`)).length === 1, { what: 'its boot time recorded' });
    for (const registry of sim.registries.values()) registry.change({ slowMs: 15_000 });
    const lease = await fetch(`${app.url}/v1/pools/small/leases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(lease.status).toBe(200);
    const pulling = await waitFor(async () => (await app.store.list('small', 'preparing'))[0], { what: 'the replacement pulling its agent' });
    await waitFor(async () => (await app.store.get(pulling.id))?.state === 'ready', { what: 'the replacement ready after its slow pull', timeoutMs: 60_000 });

    expect(await app.store.counts('small')).not.toHaveProperty([pulling.zone, 'slow']);
    const zones = ((await (await fetch(`${app.url}/v1/zones`)).json()) as { zones: ZoneStatus[] }).zones;
    expect(zones.map((z) => [z.zone, z.failures])).toEqual(zones.map((z) => [z.zone, 0]));
  });
});
