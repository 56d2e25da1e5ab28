import { afterEach, describe, expect, it } from 'vitest';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { allMachines } from '../helpers/machines.js';
import { waitFor } from '../helpers/wait-for.js';

// The strategies other than redis-breaker exist for the outage benchmark; these prove zone choice obeys the key.
let system: TestSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

const ZONE_B = 'sim/zone-b';
const breaker = { window: '1m', minOutcomes: 3, failureRate: 0.5, openFor: '1m', maxOpenFor: '1m', probes: 1, slowBootFloor: '5s' };
const launchesIntoB = async (after: number) => (await allMachines(system!.config.redis.prefix)).filter((m) => m.zone === ZONE_B && m.createdAt > after);

describe('zone strategies', () => {
  it('no-breaker: keeps launching into a zone whose Redis breaker is open', async () => {
    const overrides = { breaker, zones: { strategy: 'no-breaker' }, ...onePool({ warm: 4, max: 8 }) };
    system = await startSystem(overrides, undefined, (sim) => sim.faults.set('zone-b', { bootFail: 1 }));
    const { app } = system;
    await waitFor(async () => (await app.breaker.read([ZONE_B], Date.now())).get(ZONE_B)?.state === 'open', { what: 'the Redis breaker of zone b to open' });
    const opened = Date.now();
    const later = await waitFor(async () => ((await launchesIntoB(opened)).length >= 3 ? launchesIntoB(opened) : undefined), { what: 'launches into zone b after it opened' });
    expect(later.every((m) => m.probe === undefined)).toBe(true);
  });

  it('local-breaker: opens on its own launch errors and stops planning launches into that zone', async () => {
    const overrides = { breaker, zones: { strategy: 'local-breaker' }, ...onePool({ warm: 4, max: 8 }) };
    system = await startSystem(overrides, undefined, (sim) => sim.faults.set('zone-b', { capacityError: 1 }));
    const { app } = system;
    await waitFor(async () => (await app.zoneStrategy.health([ZONE_B], Date.now())).get(ZONE_B)?.state === 'open', { what: 'the local breaker of zone b to open' });
    const full = async () => (await app.store.counts('small'))['sim/zone-a']?.ready === 2 && (await app.store.counts('small'))['sim/zone-c']?.ready === 2;
    await waitFor(full, { what: 'the pool to fill from zones a and c' });
    // Every reconcile from here on read the open breaker: the two refills must go elsewhere.
    const opened = Date.now();
    for (let i = 0; i < 2; i++) expect((await fetch(`${app.url}/v1/pools/small/leases`, { method: 'POST' })).status).toBe(200);
    await waitFor(full, { what: 'the pool to refill from zones a and c' });
    expect(await launchesIntoB(opened)).toEqual([]);
  });
});
