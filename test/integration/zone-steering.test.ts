import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from '../../src/status.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { allMachines } from '../helpers/machines.js';
import { waitFor } from '../helpers/wait-for.js';
import { reconcilePool } from '../../src/pool/reconcile.js';
import { createLogger } from '../../src/log.js';

let system: TestSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

const fastBreaker = { breaker: { window: '1m', minOutcomes: 3, failureRate: 0.5, openFor: '1500ms', maxOpenFor: '10s', probes: 1, slowBootFloor: '5s' } };
const status = async () => (await (await fetch(`${system!.app.url}/v1/status`)).json()) as Status;
const zoneState = async (zone: string) => (await status()).zones.find((z) => z.zone === zone)?.state;
/** One short build: a ready machine (if any) leased and released, so the pool launches its replacement. */
async function churnOneMachine(): Promise<void> {
  const leased = await fetch(`${system!.app.url}/v1/pools/small/leases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"wait":"0s"}' });
  const body = (await leased.json()) as { id?: string };
  if (leased.status === 200 && body.id) await (await fetch(`${system!.app.url}/v1/leases/${body.id}`, { method: 'DELETE' })).arrayBuffer();
}

describe('zone steering on the simulated cloud', () => {
  it('keeps the pool full from healthy zones while one fails every boot, probes it, and uses it again once healed', async () => {
    system = await startSystem({ ...fastBreaker, ...onePool({ warm: 4, max: 8 }) }, undefined, (sim) => sim.faults.set('zone-b', { bootFail: 1 }));
    const { app, config } = system;
    // A zone with failures against it takes few machines at a time; if the pool fills from a and c first, it
    // takes no more. Builds (lease, release: a replacement each) keep machines going until its failures open it.
    await waitFor(
      async () => {
        if ((await zoneState('sim/zone-b')) === 'open') return true;
        await churnOneMachine();
        return false;
      },
      { what: 'zone b to open' },
    );
    const [opened] = (await app.breaker.audit()).filter((t) => t.to === 'open').reverse();
    expect(opened).toMatchObject({ zone: 'sim/zone-b', from: 'closed', why: 'failure rate reached', outcomes: 3, failureRate: 1 });
    const pool = await waitFor(async () => ((await status()).pools[0]!.machines.ready === 4 ? (await status()).pools[0] : undefined), { what: 'the pool to fill from zones a and c' });
    expect(pool.zones['sim/zone-b']!.ready).toBe(0);

    system.sim.faults.clear('zone-b');
    await waitFor(async () => (await zoneState('sim/zone-b')) === 'closed', { what: 'zone b to close after a good probe', timeoutMs: 30_000 });
    await waitFor(async () => (await status()).pools[0]!.zones['sim/zone-b']!.ready >= 1, { what: 'a ready machine in zone b again' });

    const launchedIntoB = (await allMachines(config.redis.prefix)).filter((m) => m.zone === 'sim/zone-b' && m.createdAt > opened!.at);
    expect(launchedIntoB.length).toBeGreaterThan(0);
    expect(launchedIntoB.every((m) => m.probe === 1)).toBe(true);
    const rounds = (await app.breaker.audit()).filter((t) => t.zone === 'sim/zone-b' && t.to === 'half-open').length;
    expect(launchedIntoB.length).toBeLessThanOrEqual(rounds * config.breaker.probes);
  });

  it('moves the next launch to the next instance type, then to other zones, when a zone has no capacity', async () => {
    const types = { instanceTypes: ['t3.small', 't3.medium'] };
    system = await startSystem({ ...fastBreaker, ...onePool({ warm: 4, max: 8, ...types }) }, undefined, (sim) => sim.faults.set('zone-a', { capacityError: 1 }));
    await waitFor(async () => (await status()).pools[0]!.machines.ready === 4, { what: 'the pool to fill from zones b and c' });
    const machines = await allMachines(system.config.redis.prefix);
    const inA = machines.filter((m) => m.zone === 'sim/zone-a');
    const firstSmallFailure = inA.find((m) => m.instanceType === 't3.small' && m.failure === 'launch-failed')!;
    expect(firstSmallFailure.failureDetail).toContain('InsufficientInstanceCapacity');
    // Machines planned after the first refusal never ask zone a for the sold-out type again.
    expect(inA.filter((m) => m.createdAt > firstSmallFailure.stateSince && m.instanceType === 't3.small')).toEqual([]);
    expect(inA.some((m) => m.instanceType === 't3.medium')).toBe(true);
    expect(machines.filter((m) => m.state === 'ready').every((m) => m.zone !== 'sim/zone-a')).toBe(true);
  });

  it('with every zone open, raises an alert and launches at most one machine per probeEvery into the least-bad zone', async () => {
    const overrides = { ...fastBreaker, breaker: { ...fastBreaker.breaker, minOutcomes: 1, openFor: '1m', maxOpenFor: '1m' }, allZonesOpen: { probeEvery: '700ms' }, ...onePool({ warm: 3, max: 6 }) };
    system = await startSystem(overrides, undefined, (sim) => {
      for (const zone of ['zone-a', 'zone-b', 'zone-c']) sim.faults.set(zone, { bootFail: 1 });
    });
    const alerted = await waitFor(async () => (await status()).pools[0]!.alert, { what: 'the all-zones-open alert' });
    expect(alerted.reason).toContain('every zone of the pool is open');
    const since = Date.parse(alerted.since);
    const paced = await waitFor(async () => {
      const later = (await allMachines(system!.config.redis.prefix)).filter((m) => m.createdAt > since);
      return later.length >= 3 ? later : undefined;
    }, { what: 'three paced launches' });
    for (let i = 1; i < paced.length; i++) expect(paced[i]!.createdAt - paced[i - 1]!.createdAt).toBeGreaterThanOrEqual(690);
  });

  it('halts a pool on a fatal launch error, shows why in status, launches nothing more, and resumes on request', async () => {
    system = await startSystem({ ...fastBreaker, ...onePool({ warm: 2, max: 4, imageId: 'img-broken' }) });
    const halted = await waitFor(async () => (await status()).pools[0]!.halted, { what: 'the pool to halt' });
    expect(halted.reason).toContain('InvalidAMIID.Malformed');
    const { app, config } = system;
    await app.epoch.renew();
    const again = await reconcilePool(config.pools[0]!, { ...app, config, logger: createLogger({ level: 'silent', pretty: false }), now: Date.now });
    expect(again).toEqual({ requested: 0, retired: 0 });
    expect((await allMachines(config.redis.prefix)).every((m) => m.failure === 'launch-failed')).toBe(true);
    // A bad image is the pool's fault, not the zone's.
    expect((await status()).zones.every((z) => z.failures === 0)).toBe(true);

    const resumed = await fetch(`${app.url}/v1/pools/small/halt`, { method: 'DELETE' });
    expect(await resumed.json()).toEqual({ pool: 'small', halted: false, resumed: true });
    expect((await status()).pools[0]!.halted).toBeUndefined();
  });
});
