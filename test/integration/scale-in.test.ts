import { afterEach, describe, expect, it } from 'vitest';
import { reconcilePool } from '../../src/pool/reconcile.js';
import { createLogger } from '../../src/log.js';
import type { Status } from '../../src/status.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

// Only the web role runs, so the test drives reconcile itself with a fake clock.
let system: TestSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

const MINUTE = 60_000;
const T0 = Date.parse('2026-11-18T12:00:00Z');

/** Puts `n` ready machines in the store, launched a minute apart (the oldest first). */
async function readyMachines(n: number): Promise<string[]> {
  const { store } = system!.app;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `m-ready-${i}`;
    await store.create({ id, pool: 'small', zone: 'sim/zone-a', instanceType: 't3.small', imageId: 'ami-1' }, { warm: 100, max: 100 }, T0);
    await store.transition(id, 'launching', T0);
    await store.transition(id, 'booting', T0, { launchedAt: T0 - (n - i) * MINUTE });
    await store.transition(id, 'preparing', T0);
    await store.transition(id, 'ready', T0);
    ids.push(id);
  }
  return ids;
}

async function reconcileAt(now: number) {
  const { app, config } = system!;
  await app.epoch.renew(); // no producer runs here to mark the keyspace
  return reconcilePool(config.pools[0]!, { ...app, config, logger: createLogger({ level: 'silent', pretty: false }), now: () => now });
}

const states = async (ids: string[]) => Promise.all(ids.map(async (id) => (await system!.app.store.get(id))?.state));

describe('scale-in', () => {
  it('terminates surplus ready machines oldest first once the surplus has lasted a full cooldown, never below min', async () => {
    system = await startSystem(onePool({ warm: 1, max: 10, min: 2, scaleInCooldown: '5m' }), ['web']);
    const ids = await readyMachines(4);
    expect(await reconcileAt(T0)).toMatchObject({ retired: 0, requested: 0 });
    expect(await reconcileAt(T0 + 4 * MINUTE)).toMatchObject({ retired: 0 });
    expect(await reconcileAt(T0 + 5 * MINUTE)).toMatchObject({ retired: 2 });
    expect(await states(ids)).toEqual(['terminating', 'terminating', 'ready', 'ready']);
  });

  it('never terminates a leased machine, and does not flap when demand oscillates around the target', async () => {
    system = await startSystem(onePool({ warm: 2, max: 10, scaleInCooldown: '5m' }), ['web']);
    const ids = await readyMachines(3);
    // Demand: one lease request waiting lifts the target to 3 every other minute; the surplus never lasts 5 minutes.
    for (let minute = 0; minute < 12; minute++) {
      const now = T0 + minute * MINUTE;
      if (minute % 2 === 0) await system.app.waiters.start('small', `w-${minute}`, now + 30_000);
      expect(await reconcileAt(now)).toMatchObject({ retired: 0 });
    }
    const leased = await system.app.store.lease('small', T0 + 12 * MINUTE);
    expect(leased?.id).toBe(ids[0]);
    expect(await reconcileAt(T0 + 13 * MINUTE)).toMatchObject({ retired: 0 });
    expect(await reconcileAt(T0 + 30 * MINUTE)).toMatchObject({ retired: 0 });
    expect(await states(ids)).toEqual(['leased', 'ready', 'ready']);
  });

  it('follows the schedule: a smaller night target retires the surplus after the cooldown', async () => {
    const schedule = [{ cron: '0 7 * * *', warm: 3 }, { cron: '0 20 * * *', warm: 1 }];
    system = await startSystem(onePool({ warm: 3, max: 10, scaleInCooldown: '10m', schedule }), ['web']);
    const ids = await readyMachines(3);
    const night = Date.parse('2026-11-18T20:00:00Z');
    expect(await reconcileAt(night)).toMatchObject({ retired: 0 });
    expect(await reconcileAt(night + 10 * MINUTE)).toMatchObject({ retired: 2 });
    expect(await states(ids)).toEqual(['terminating', 'terminating', 'ready']);
  });
});

describe('demand', () => {
  it('a waiting lease raises the target so a machine is launched for it at once, even with a warm target of 0', async () => {
    system = await startSystem(onePool({ warm: 0, max: 3 }));
    const answer = await fetch(`${system.app.url}/v1/pools/small/leases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ wait: '30s' }) });
    expect(answer.status).toBe(200);
    const status = (await (await fetch(`${system.app.url}/v1/status`)).json()) as Status;
    expect(status.pools[0]).toMatchObject({ waiting: 0, target: 0, scheduled: 0 });
    await waitFor(async () => (await system!.app.waiters.count('small', Date.now())) === 0, { what: 'the waiter to be gone' });
  });
});
