import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { MachineStore, totalsByState } from '../../src/machines/store.js';

let redis: Redis;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await redis.quit();
});

const freshStore = () => new MachineStore(redis, `{vmpool-test-${randomBytes(4).toString('hex')}}`);
const machine = (id: string, zone = 'sim/zone-a') => ({ id, pool: 'small', zone, instanceType: 't3.small', imageId: 'ami-1' });
const roomy = { warm: 100, max: 100 };

async function readyMachine(store: MachineStore, id: string, now = 1_000): Promise<void> {
  await store.create(machine(id), roomy, now);
  for (const state of ['launching', 'booting', 'preparing', 'ready'] as const) {
    expect((await store.transition(id, state, now)).ok).toBe(true);
  }
}

describe('MachineStore', () => {
  it('records a machine in requested and counts it by zone and state', async () => {
    const store = freshStore();
    expect(await store.create(machine('m-1'), roomy, 1_000)).toBe('created');
    expect(await store.get('m-1')).toMatchObject({ id: 'm-1', state: 'requested', stateSince: 1_000, createdAt: 1_000, zone: 'sim/zone-a' });
    expect(await store.counts('small')).toEqual({ 'sim/zone-a': { requested: 1 } });
  });

  it('refuses to create beyond the warm target or max, even from concurrent callers', async () => {
    const store = freshStore();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.create(machine(`m-${i}`), { warm: 3, max: 10 }, 1_000)));
    expect(results.filter((r) => r === 'created')).toHaveLength(3);
    expect(totalsByState(await store.counts('small')).requested).toBe(3);
  });

  it('counts leased machines against max but not against the warm target', async () => {
    const store = freshStore();
    await readyMachine(store, 'm-a');
    await store.lease('small', 2_000);
    expect(await store.create(machine('m-b'), { warm: 1, max: 2 }, 3_000)).toBe('created');
    expect(await store.create(machine('m-c'), { warm: 5, max: 2 }, 3_000)).toBe('limit');
  });

  it('moves a machine only from an allowed state (compare-and-set)', async () => {
    const store = freshStore();
    await store.create(machine('m-1'), roomy, 1_000);
    expect(await store.transition('m-1', 'ready', 2_000)).toEqual({ ok: false, reason: 'wrong-state', state: 'requested' });
    expect(await store.transition('m-1', 'launching', 2_000, { instanceId: 'i-1' })).toEqual({ ok: true, from: 'requested' });
    expect(await store.get('m-1')).toMatchObject({ state: 'launching', stateSince: 2_000, instanceId: 'i-1' });
    expect(await store.transition('m-x', 'launching', 2_000)).toEqual({ ok: false, reason: 'not-found' });
  });

  it('lets exactly one of two racing transitions win', async () => {
    const store = freshStore();
    await readyMachine(store, 'm-1');
    const [lease, fail] = await Promise.all([store.transition('m-1', 'leased', 5_000), store.transition('m-1', 'failed', 5_000)]);
    expect([lease.ok, fail.ok].filter(Boolean)).toHaveLength(1);
  });

  it('leases the longest-ready machine, each to one caller only', async () => {
    const store = freshStore();
    await readyMachine(store, 'm-old', 1_000);
    await readyMachine(store, 'm-new', 2_000);
    const leases = await Promise.all(Array.from({ length: 5 }, () => store.lease('small', 3_000)));
    const ids = leases.filter(Boolean).map((m) => m!.id);
    expect(ids.sort()).toEqual(['m-new', 'm-old']);
    expect(leases[0]).toMatchObject({ id: 'm-old', state: 'leased', leasedAt: 3_000 });
    expect(await store.lease('small', 4_000)).toBeUndefined();
    expect(totalsByState(await store.counts('small'))).toMatchObject({ ready: 0, leased: 2 });
  });

  it('leases many machines in one call, longest-ready first, skipping stale index entries and other versions', async () => {
    const prefix = `{vmpool-test-${randomBytes(4).toString('hex')}}`;
    const store = new MachineStore(redis, prefix);
    for (const [i, id] of ['m-1', 'm-2', 'm-3', 'm-4'].entries()) await readyMachine(store, id, 1_000 + i);
    // An index entry whose record is gone (lost writes) is skipped, not leased.
    await redis.zadd(`${prefix}:state:small:ready`, 999, 'm-ghost');
    const leased = await store.leaseMany('small', 5_000, 3);
    expect(leased.map((m) => [m.id, m.state, m.leasedAt])).toEqual([
      ['m-1', 'leased', 5_000],
      ['m-2', 'leased', 5_000],
      ['m-3', 'leased', 5_000],
    ]);
    expect((await store.leaseMany('small', 6_000, 10)).map((m) => m.id)).toEqual(['m-4']);
    expect(await store.leaseMany('small', 7_000, 10)).toEqual([]);
    expect(totalsByState(await store.counts('small'))).toMatchObject({ ready: 0, leased: 4 });

    await readyMachine(store, 'm-stable', 8_000);
    await store.update('m-stable', { agentVersion: '1.5.0' });
    await readyMachine(store, 'm-canary', 9_000);
    await store.update('m-canary', { agentVersion: '1.6.0' });
    expect((await store.leaseMany('small', 10_000, 5, '1.6.0')).map((m) => m.id)).toEqual(['m-canary']);
  });

  it('marks a lease pending until its answer is recorded, many answers at once, and ignores an unknown id', async () => {
    const store = freshStore();
    for (const id of ['m-1', 'm-2', 'm-3']) await readyMachine(store, id);
    const leased = await store.leaseMany('small', 5_000, 3);
    expect(leased.map((m) => m.leaseAnswer)).toEqual(['pending', 'pending', 'pending']);
    await store.confirmLeasesAnswered(['m-1', 'm-3', 'm-unknown']);
    expect([(await store.get('m-1'))?.leaseAnswer, (await store.get('m-2'))?.leaseAnswer, (await store.get('m-3'))?.leaseAnswer]).toEqual([undefined, 'pending', undefined]);
    expect(await store.get('m-unknown')).toBeUndefined();
  });

  it('drops a terminated machine from indexes and counts but keeps its record for a while', async () => {
    const store = freshStore();
    await readyMachine(store, 'm-1');
    await store.transition('m-1', 'terminating', 5_000);
    await store.transition('m-1', 'terminated', 6_000);
    expect(await store.counts('small')).toEqual({});
    expect(await store.list('small', 'terminating')).toEqual([]);
    expect(await store.get('m-1')).toMatchObject({ state: 'terminated' });
    expect(await redis.pttl(`${(store as unknown as { prefix: string }).prefix}:machine:m-1`)).toBeGreaterThan(0);
  });

  it('marks a booting machine slow once, frees its place in the warm target, and forgets the mark when it leaves booting', async () => {
    const store = freshStore();
    await store.create(machine('m-1'), roomy, 1_000);
    expect(await store.markSlow({ id: 'm-1', pool: 'small' })).toBe(false); // requested: not booting yet
    await store.transition('m-1', 'launching', 1_000);
    await store.transition('m-1', 'booting', 1_000);
    expect(await store.markSlow({ id: 'm-1', pool: 'small' })).toBe(true);
    expect(await store.markSlow({ id: 'm-1', pool: 'small' })).toBe(false);
    expect(await store.counts('small')).toEqual({ 'sim/zone-a': { booting: 1, slow: 1 } });
    expect(await store.create(machine('m-2'), { warm: 1, max: 5 }, 2_000)).toBe('created');
    await store.transition('m-1', 'preparing', 3_000);
    expect(totalsByState(await store.counts('small')).slow).toBe(1);
    await store.transition('m-1', 'failed', 4_000);
    expect(totalsByState(await store.counts('small'))).toMatchObject({ slow: 0, failed: 1 });
  });

  it('never marks a preparing machine slow: slowness is judged up to SSH only', async () => {
    const store = freshStore();
    await store.create(machine('m-1'), roomy, 1_000);
    for (const state of ['launching', 'booting', 'preparing'] as const) await store.transition('m-1', state, 1_000);
    expect(await store.markSlow({ id: 'm-1', pool: 'small' })).toBe(false);
    expect(totalsByState(await store.counts('small')).slow).toBe(0);
  });

  it('lists machines of a state oldest first', async () => {
    const store = freshStore();
    await store.create(machine('m-2'), roomy, 2_000);
    await store.create(machine('m-1'), roomy, 1_000);
    expect((await store.list('small', 'requested')).map((m) => m.id)).toEqual(['m-1', 'm-2']);
  });

  it('lists only the machines that entered a state before a given time', async () => {
    const store = freshStore();
    await store.create(machine('m-1'), roomy, 1_000);
    await store.create(machine('m-2'), roomy, 2_000);
    expect((await store.list('small', 'requested', { enteredBefore: 2_000 })).map((m) => m.id)).toEqual(['m-1']);
    expect(await store.list('small', 'requested', { enteredBefore: 1_000 })).toEqual([]);
  });
});
