import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { MachineStore, totalsByState } from '../../src/machines/store.js';
import { ZoneBreaker } from '../../src/zones/breaker.js';
import { requestTermination } from '../../src/pool/terminate.js';
import { closeQueues, createQueues } from '../../src/queues.js';
import { runWorker } from '../helpers/child.js';
import { allMachines } from '../helpers/machines.js';
import { onePool } from '../helpers/system.js';
import { processConfig, startSimProcess, processHarness } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait-for.js';

// Two producers and two booters as separate OS processes, the simulated cloud
// as a third kind, one Redis: the breaker must work across processes.
const ZONE_B = 'sim/zone-b';
// maxOpenFor and probes as shipped: no growth, one probe. Slow boots are judged once a few boots of the pool's kind are
// on record (the pool fills from two zones, so the default 10 would leave a hung zone to its boot deadline).
// The suite shares two cores with its other files: every wait below is a ceiling only a hang reaches, never a timing claim.
const breakerSettings = { window: '1m', minOutcomes: 5, failureRate: 0.5, openFor: '2s', maxOpenFor: null, probes: 1, slowBootFloor: '2s', slowBootMinSamples: 3 };
const HANG = 180_000;

const { redis, children } = processHarness();

async function startCluster(pool: Record<string, unknown>, zoneBFaults: Record<string, unknown>) {
  const { config, env, prefix, simUrl } = await processConfig({ breaker: breakerSettings, ...onePool(pool) });
  await startSimProcess(env, children);
  const put = await fetch(`${simUrl}/v1/sim/zones/zone-b/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(zoneBFaults) });
  expect(put.status).toBe(200);
  for (const role of ['producer.js', 'producer.js', 'booter.js', 'booter.js']) children.push(runWorker(role, [], env));
  const breaker = new ZoneBreaker(redis, prefix, config.breaker, createLogger({ level: 'silent', pretty: false }));
  const store = new MachineStore(redis, prefix);
  const heal = () => fetch(`${simUrl}/v1/sim/zones/zone-b/faults`, { method: 'DELETE' });
  return { config, prefix, breaker, store, heal };
}

type Audit = Awaited<ReturnType<ZoneBreaker['audit']>>;
const oldestFirst = async (breaker: ZoneBreaker): Promise<Audit> => (await breaker.audit(500)).filter((t) => t.zone === ZONE_B).reverse();

describe('the zone breaker across processes', () => {
  it('opens on minOutcomes failures seen by any booter, admits only reserved probes, re-opens for openFor each time, and closes once healed', async () => {
    const { config, prefix, breaker, store, heal } = await startCluster({ warm: 6, max: 12, bootTimeout: '30s' }, { bootFail: 1 });

    // The pool fills from zones a and c while zone b re-opens twice on failed probes. A zone with failures against it
    // takes few machines at a time, and a pool full from the others launches none: builds (a lease and a release, a
    // replacement each) keep machines going until zone b's failures open it.
    await waitFor(async () => totalsByState(await store.counts('small')).ready === 6, { what: 'the pool to fill from zones a and c', timeoutMs: HANG });
    const queues = createQueues(redis, prefix);
    try {
      await waitFor(
        async () => {
          if ((await oldestFirst(breaker)).some((t) => t.to === 'open')) return true;
          const built = await store.lease('small', Date.now());
          if (built) await requestTermination(built.id, { store, queues, now: Date.now });
          return false;
        },
        { what: 'zone b to open', timeoutMs: HANG, everyMs: 200 },
      );
    } finally {
      await closeQueues(queues);
    }
    await waitFor(async () => (await oldestFirst(breaker)).filter((t) => t.from === 'half-open' && t.to === 'open').length >= 2, { what: 'two re-opens', timeoutMs: HANG });
    const before = await oldestFirst(breaker);
    expect(before[0]).toMatchObject({ from: 'closed', to: 'open', outcomes: config.breaker.minOutcomes, failureRate: 1 });
    expect((await store.counts('small'))[ZONE_B]?.ready ?? 0).toBe(0);

    // Each open period ends in a half-open round after openFor, however often the zone re-opens: open, half-open, open...
    const opens = before.filter((t) => t.to === 'open');
    const halfOpens = before.filter((t) => t.to === 'half-open');
    expect(config.breaker.maxOpenFor).toBe(config.breaker.openFor);
    expect(before.map((t) => t.to).slice(0, 5)).toEqual(['open', 'half-open', 'open', 'half-open', 'open']);
    for (const [i, open] of opens.slice(0, -1).entries()) {
      const ended = halfOpens.find((h) => h.at >= open.at)!;
      expect(ended.at - open.at).toBeGreaterThanOrEqual(config.breaker.openFor);
      expect(ended.at).toBeLessThanOrEqual(opens[i + 1]!.at);
    }

    // After the first open, zone b only ever gets probes: at most `probes` per half-open round.
    const launchedIntoB = (await allMachines(prefix)).filter((m) => m.zone === ZONE_B && m.createdAt > opens[0]!.at);
    expect(launchedIntoB.every((m) => m.probe === 1)).toBe(true);
    for (const round of halfOpens) {
      const next = before.find((t) => t.at > round.at && t.to !== 'half-open');
      const inRound = launchedIntoB.filter((m) => m.createdAt >= round.at && (!next || m.createdAt <= next.at));
      expect(inRound.length).toBeLessThanOrEqual(config.breaker.probes);
    }

    await heal();
    await waitFor(async () => (await oldestFirst(breaker)).some((t) => t.from === 'half-open' && t.to === 'closed'), { what: 'zone b to close', timeoutMs: HANG });
    await waitFor(async () => ((await store.counts('small'))[ZONE_B]?.ready ?? 0) >= 1, { what: 'ready machines in zone b again', timeoutMs: HANG });
    expect(totalsByState(await store.counts('small')).ready).toBeGreaterThanOrEqual(6);
  }, 4 * HANG);

  it('opens on slow boots long before the boot deadline when a zone hangs', async () => {
    const { config, prefix, breaker } = await startCluster({ warm: 6, max: 12, bootTimeout: '10m' }, { sshHang: 1 });
    await waitFor(async () => (await oldestFirst(breaker)).some((t) => t.to === 'open'), { what: 'zone b to open', timeoutMs: HANG });
    const [opened] = await oldestFirst(breaker);
    expect(opened).toMatchObject({ from: 'closed', to: 'open', outcomes: config.breaker.minOutcomes });
    // Opened on slow boots alone: not one of zone b's machines had reached its boot deadline (10 minutes, beyond the wait).
    const intoB = (await allMachines(prefix)).filter((m) => m.zone === ZONE_B);
    expect(intoB.length).toBeGreaterThanOrEqual(config.breaker.minOutcomes);
    expect(intoB.filter((m) => m.failure !== undefined)).toEqual([]);
  }, 2 * HANG);
});
