import { afterEach, describe, expect, it } from 'vitest';
import type { Rollout } from '../../src/agent/rollout.js';
import { createLogger } from '../../src/log.js';
import type { Machine } from '../../src/machines/machine.js';
import type { MachineStore } from '../../src/machines/store.js';
import { replaceSuperseded } from '../../src/pool/rollout-replace.js';
import { scaleIn } from '../../src/pool/scale-in.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';

// README: scale-in terminates ready machines "never a leased one", and an
// agent rollout's replacement "leased machines are never touched". Both list
// ready machines and then terminate some: a lease can land in between (the
// api leases while a producer reconciles). These tests put a lease exactly
// there, by handing the code a listing taken before the lease.
let system: TestSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

const MINUTE = 60_000;
const T0 = Date.parse('2026-11-18T12:00:00Z');
const silent = createLogger({ level: 'silent', pretty: false });

/** `n` ready machines on `version`, the first launched (and ready) earliest: the one a lease, scale-in and a rollout all take first. */
async function readyMachines(n: number, version = '1.5.0'): Promise<string[]> {
  const { store } = system!.app;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `m-ready-${i}`;
    await store.create({ id, pool: 'small', zone: 'sim/zone-a', instanceType: 't3.small', imageId: 'ami-1' }, { warm: 100, max: 100 }, T0);
    await store.transition(id, 'launching', T0);
    await store.transition(id, 'booting', T0, { launchedAt: T0 - (n - i) * MINUTE });
    await store.transition(id, 'preparing', T0);
    await store.transition(id, 'ready', T0 + i, { agentVersion: version });
    ids.push(id);
  }
  return ids;
}

/** The store, except that listing the pool's ready machines answers `stale`: what a reconcile read just before a lease. */
function listedBefore(store: MachineStore, stale: Machine[]): MachineStore {
  return new Proxy(store, {
    get: (target, key): unknown =>
      key === 'list' ? (pool: string, state: string) => (state === 'ready' ? Promise.resolve(stale) : target.list(pool, state as Machine['state'])) : Reflect.get(target, key, target),
  });
}

/** Leases the longest-ready machine after the ready machines were listed; returns the stale listing and the leased id. */
async function leaseAfterListing(): Promise<{ stale: Machine[]; leasedId: string }> {
  const { store } = system!.app;
  const stale = await store.list('small', 'ready');
  const leased = await store.lease('small', T0 + MINUTE);
  expect(stale.map((m) => m.id)).toContain(leased!.id);
  return { stale, leasedId: leased!.id };
}

const states = async (ids: string[]) => Promise.all(ids.map(async (id) => (await system!.app.store.get(id))?.state));

describe('a machine leased between a listing and a termination', () => {
  it('scale-in never terminates it, and terminates the ready surplus beside it', async () => {
    system = await startSystem(onePool({ warm: 0, max: 10, scaleInCooldown: '5m' }), ['web']);
    const { app, config } = system;
    const pool = config.pools[0]!;
    const ids = await readyMachines(3);
    const { stale, leasedId } = await leaseAfterListing();
    expect(leasedId).toBe(ids[0]);
    const deps = (now: number) => ({ ...app, config, logger: silent, now: () => now, store: listedBefore(app.store, stale) });
    expect(await scaleIn(pool, 3, deps(T0))).toBe(0); // the surplus starts its cooldown
    expect(await scaleIn(pool, 3, deps(T0 + 5 * MINUTE))).toBe(2);
    expect(await states(ids)).toEqual(['leased', 'terminating', 'terminating']);
  });

  it('an agent rollout never replaces it, though it carries the superseded version', async () => {
    system = await startSystem(onePool({ warm: 0, max: 10 }), ['web']);
    const { app, config } = system;
    const ids = await readyMachines(2);
    const { stale, leasedId } = await leaseAfterListing();
    const rollout: Rollout = { image: 'vmpool/build-agent', version: '1.6.0', source: 'operator' };
    const replaced = await replaceSuperseded(config.pools[0]!, rollout, 3, { ...app, config, logger: silent, now: () => T0, store: listedBefore(app.store, stale) });
    expect(replaced).toBe(0);
    expect(await app.store.get(leasedId)).toMatchObject({ state: 'leased', agentVersion: '1.5.0' });
    expect(await states(ids)).toEqual(['leased', 'ready']);
  });
});

describe('agent rollout pacing', () => {
  it('replaces at most one machine per agent.rollout.every across producers, however many are superseded and whatever the budget', async () => {
    system = await startSystem({ agent: { rollout: { maxShare: 1, every: '1h' } }, ...onePool({ warm: 0, max: 10 }) }, ['web']);
    const { app, config } = system;
    const ids = await readyMachines(4);
    const rollout: Rollout = { image: 'vmpool/build-agent', version: '1.6.0', source: 'operator' };
    const replace = () => replaceSuperseded(config.pools[0]!, rollout, 10, { ...app, config, logger: silent, now: Date.now });
    // Reconciles of four producers, one after another within the period: each finds three more superseded and room in the budget.
    const replaced: number[] = [];
    for (let i = 0; i < 4; i++) replaced.push(await replace());
    expect(replaced).toEqual([1, 0, 0, 0]);
    expect(await states(ids)).toEqual(['terminating', 'ready', 'ready', 'ready']);
  });
});
