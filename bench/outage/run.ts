import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import type { Machine } from '../../src/machines/machine.js';
import { totalsByState, MachineStore } from '../../src/machines/store.js';
import { createLogger } from '../../src/log.js';
import { ZoneBreaker } from '../../src/zones/breaker.js';
import { waitFor } from '../../src/local/wait-for.js';
import type { ZoneStrategyName } from '../../src/zones/zone-strategy.js';
import type { BenchEnv } from '../bench-env.js';
import { startCluster, type Cluster } from '../cluster.js';
import { LeaseClient } from '../lease-client.js';
import { leakedInstances } from '../leak-check.js';
import { machineRecords } from '../machine-records.js';
import { seededRandom } from '../../src/local/seeded-random.js';
import { PoissonLoad, type LeaseRecord } from './poisson-load.js';
import { Sampler, type Sample } from './sampler.js';
import { clusterOverrides, FAILING_ZONE, FAULTS, POOL, type FaultName, type OutageSettings } from './settings.js';

/** A zone breaker transition of the failing zone, from the audit stream. */
export interface Transition {
  at: number;
  from: string;
  to: string;
  outcomes: number;
  failureRate: number;
}

/** Everything one run observed from outside; figures.ts turns it into figures. */
export interface OutageRun {
  strategy: ZoneStrategyName;
  fault: FaultName;
  /** Epoch ms: load started on a full pool, zone b broke, zone b healed, load stopped. */
  times: { start: number; fault: number; heal: number; end: number };
  samples: Sample[];
  leases: LeaseRecord[];
  machines: Machine[];
  /** The shared breaker's transitions of zone b (recorded under every strategy; obeyed only by redis-breaker). */
  transitions: Transition[];
  /** When each producer's in-memory breaker opened zone b (local-breaker), from its log. */
  localOpens: { pid: number; at: number }[];
  leaked: string[];
  /** What should not have happened: unexpected API answers, processes not exiting 0, a pool that did not settle. */
  problems: string[];
}

/** One compressed day under one strategy and one fault: 2 producers, 2 booters, 1 web, the sim, the benchmark's Redis. */
export async function runOutage(bench: BenchEnv, settings: OutageSettings, strategy: ZoneStrategyName, fault: FaultName): Promise<OutageRun> {
  const cluster = await startCluster(bench, { overrides: clusterOverrides(settings, strategy), producers: 2, booters: 2, webs: 1, logLevel: settings.logLevel, profileDir: settings.profileDir && join(settings.profileDir, `${fault}-${strategy}`) });
  const problems: string[] = [];
  const client = new LeaseClient(cluster.apiUrls[0]!, bench.apiToken, POOL);
  try {
    const store = new MachineStore(bench.redis, cluster.prefix);
    await waitFor(async () => totalsByState(await store.counts(POOL)).ready >= settings.warm, { timeoutMs: 60_000, what: 'the pool to fill' });
    const sampler = new Sampler(bench.redis, cluster.prefix, cluster.config.pools[0]!, settings.sampleEveryMs);
    const load = new PoissonLoad(client, { perSecond: settings.arrivalsPerSecond, holdMs: settings.holdMs, wait: `${settings.leaseWaitMs}ms`, random: seededRandom(settings.seed) });
    const start = Date.now();
    await delay(settings.warmupMs);
    const faultAt = Date.now();
    await setFaults(cluster, FAULTS[fault]);
    await delay(settings.faultMs);
    const heal = Date.now();
    await setFaults(cluster, {});
    await delay(settings.afterMs);
    const end = Date.now();
    await load.stop();
    await sampler.stop();
    problems.push(...load.unexpected);
    await settle(store).catch((err: Error) => problems.push(err.message));
    const leaked = await leakedInstances(cluster.config, bench.redis, 15_000);
    return {
      strategy,
      fault,
      times: { start, fault: faultAt, heal, end },
      samples: sampler.samples,
      leases: load.records,
      machines: await machineRecords(bench.redis, cluster.prefix),
      transitions: await transitions(bench, cluster),
      localOpens: localOpens(cluster),
      leaked,
      problems,
    };
  } finally {
    client.close();
    problems.push(...(await cluster.stop()));
  }
}

async function setFaults(cluster: Cluster, faults: object): Promise<void> {
  const res = await fetch(`${cluster.simUrl}/v1/sim/zones/${encodeURIComponent(FAILING_ZONE)}/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
  if (!res.ok) throw new Error(`sim fault API answered ${res.status}: ${await res.text()}`);
}

/** Builds over: nothing leased, nothing on its way, nothing still ending. */
async function settle(store: MachineStore): Promise<void> {
  const busy = ['requested', 'launching', 'booting', 'preparing', 'leased', 'failed', 'terminating'] as const;
  const quiet = async () => {
    const totals = totalsByState(await store.counts(POOL));
    return busy.every((s) => totals[s] === 0);
  };
  await waitFor(quiet, { timeoutMs: 30_000, what: 'the pool to settle after the load' });
}

async function transitions(bench: BenchEnv, cluster: Cluster): Promise<Transition[]> {
  const breaker = new ZoneBreaker(bench.redis, cluster.prefix, cluster.config.breaker, createLogger({ level: 'silent', pretty: false }));
  return (await breaker.audit(10_000))
    .filter((t) => t.zone === FAILING_ZONE)
    .reverse()
    .map(({ at, from, to, outcomes, failureRate }) => ({ at, from, to, outcomes, failureRate }));
}

/** Each producer's first line saying its in-memory breaker opened zone b, and every later one. */
function localOpens(cluster: Cluster): { pid: number; at: number }[] {
  const opens: { pid: number; at: number }[] = [];
  for (const { role, child } of cluster.processes) {
    if (role !== 'producer') continue;
    for (const line of child.output().split('\n')) {
      if (!line.includes('local zone breaker open')) continue;
      const entry = JSON.parse(line) as { time: number; zone?: string };
      if (entry.zone === FAILING_ZONE) opens.push({ pid: child.pid, at: entry.time });
    }
  }
  return opens.sort((a, b) => a.at - b.at);
}
