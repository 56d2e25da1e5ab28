import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { totalsByState, MachineStore, type CountKey } from '../../src/machines/store.js';
import { waitFor } from '../../src/local/wait-for.js';
import type { BenchEnv } from '../bench-env.js';
import { startCluster, type Cluster, type ProcessRole } from '../cluster.js';
import { LeaseClient } from '../lease-client.js';
import { machineRecords } from '../machine-records.js';
import { readProc } from '../proc-stats.js';
import { spread, type Spread } from '../stats.js';
import { ClosedLoop, healthBurst, leaseBurst } from './closed-loop.js';
import { leaseBuckets, p99BoundMs } from './lease-histogram.js';
import { clusterOverrides, POOL, type ThroughputSettings } from './settings.js';
import { interval, snapshot, type Interval } from './snapshot.js';
import { monitorCommands, type MonitorCount } from './monitor.js';

/** One set of role processes (n producers, n booters, n webs) measured from outside. */
export interface SetResult {
  processesPerRole: number;
  /** Filling the empty pool: launch, boot, SSH, prepare, ready, without leases. */
  fill: { machines: number; seconds: number; perSecond: number };
  /** A full pool, no load: the control plane's cost of doing nothing. */
  idle: Interval;
  /** Leases answered from the full warm pool, `clients` at once. */
  leaseLatencyMs: Spread & { refused: number };
  /** The same, one request at a time: what one lease costs without queueing behind 49 others. */
  leaseLatencyAloneMs: Spread & { refused: number };
  /** `GET /healthz` by the same clients, as many at once: what any answer of this web process costs, the floor under a lease's. */
  httpFloorMs: Spread;
  /** The burst's leases as the web processes timed them (`vmpool_lease_wait_seconds`): the bucket bound holding 99%, in ms. */
  leaseServerP99Ms?: number;
  throughput: Interval & { lifecycles: number; lifecyclesPerSecond: number; clientLeases: number };
  /** A short window under the same load with MONITOR on: round trips per lifecycle, by role. */
  roundTrips: MonitorCount & { lifecycles: number };
  /** DescribeInstances calls a second with few and with many machines booting. */
  describe: { booting: number; callsPerSecond: number }[];
  peakMemoryMb: Record<string, number>;
  problems: string[];
}

export async function runSet(bench: BenchEnv, settings: ThroughputSettings, n: number): Promise<SetResult> {
  const cluster = await startCluster(bench, { overrides: clusterOverrides(settings), producers: n, booters: n, webs: n, logLevel: settings.logLevel, profileDir: settings.profileDir && join(settings.profileDir, `${n}-of-each`) });
  const problems: string[] = [];
  const clients = cluster.apiUrls.map((url) => new LeaseClient(url, bench.apiToken, POOL));
  try {
    const store = new MachineStore(bench.redis, cluster.prefix);
    const filling = Date.now();
    await full(store, settings.warm, 300_000);
    const fillSeconds = (Date.now() - filling) / 1_000;

    const idleStart = await snapshot(bench, cluster);
    await delay(settings.idleMs);
    const idle = interval(idleStart, await snapshot(bench, cluster));

    // One at a time first, on the quiet full pool; then all at once (the replacements they ask for are launched meanwhile).
    // The health checks first connect every client, as build systems already talking to vmpool are: the burst's
    // figure is then vmpool's answer, not fifty TCP handshakes, and the checks give the HTTP floor beside it.
    const alone = await leaseBurst(clients, 1, Math.min(30, settings.latencyLeases));
    // Their replacements launched, booted and ready again: the floor and the burst start from a quiet full pool.
    await full(store, settings.warm, 120_000);
    const floor = await healthBurst(clients, settings.clients, settings.latencyLeases);
    const bucketsBefore = await leaseBuckets(cluster.apiUrls);
    const burst = await leaseBurst(clients, settings.clients, settings.latencyLeases);
    const leaseServerP99Ms = p99BoundMs(bucketsBefore, await leaseBuckets(cluster.apiUrls));
    await Promise.all([...burst.ids, ...alone.ids].map((id, i) => clients[i % clients.length]!.release(id)));
    await full(store, settings.warm, 120_000);

    const loop = new ClosedLoop(clients, settings.clients, '30s');
    await delay(settings.warmupMs);
    const [before, leasedBefore] = [await snapshot(bench, cluster), loop.leased];
    await delay(settings.measureMs);
    const [after, leasedAfter] = [await snapshot(bench, cluster), loop.leased];
    const pids = new Map<number, ProcessRole | 'bench'>([...cluster.processes.map((p): [number, ProcessRole] => [p.child.pid, p.role]), [process.pid, 'bench']]);
    const monitored = await monitorCommands(bench.redisUrl, settings.monitorMs, pids);
    const monitorEnd = Date.now();
    await loop.stop();
    problems.push(...new Set(loop.unexpected));
    const records = await machineRecords(bench.redis, cluster.prefix);
    const endedBetween = (from: number, to: number) => records.filter((m) => m.state === 'terminated' && m.leasedAt && m.stateSince >= from && m.stateSince < to).length;
    const lifecycles = endedBetween(before.at, after.at);
    const window = interval(before, after);
    await quiet(store, settings.warm);

    const describe = await describeScaling(cluster, store, clients, settings);
    return {
      processesPerRole: n,
      fill: { machines: settings.warm, seconds: fillSeconds, perSecond: Number((settings.warm / fillSeconds).toFixed(1)) },
      idle,
      leaseLatencyMs: { ...spread(burst.ms, 2), refused: burst.refused },
      leaseLatencyAloneMs: { ...spread(alone.ms, 2), refused: alone.refused },
      httpFloorMs: spread(floor, 2),
      leaseServerP99Ms,
      throughput: { ...window, lifecycles, lifecyclesPerSecond: Number((lifecycles / window.seconds).toFixed(1)), clientLeases: leasedAfter - leasedBefore },
      roundTrips: { ...monitored, lifecycles: endedBetween(monitorEnd - monitored.seconds * 1_000, monitorEnd) },
      describe,
      peakMemoryMb: peakMemory(cluster, bench),
      problems,
    };
  } finally {
    for (const client of clients) client.close();
    problems.push(...(await cluster.stop()));
  }
}

async function full(store: MachineStore, warm: number, timeoutMs: number): Promise<void> {
  await waitFor(async () => totalsByState(await store.counts(POOL)).ready >= warm, { timeoutMs, everyMs: 200, what: `${warm} ready machines` });
}

/** The load is over: nothing leased or ending, the pool full again. */
async function quiet(store: MachineStore, warm: number): Promise<void> {
  const busy: CountKey[] = ['requested', 'launching', 'booting', 'preparing', 'leased', 'failed', 'terminating'];
  await waitFor(async () => {
    const totals = totalsByState(await store.counts(POOL));
    return totals.ready >= warm && busy.every((s) => totals[s] === 0);
  }, { timeoutMs: 120_000, everyMs: 200, what: 'the pool to settle after the load' });
}

/**
 * Every zone's boots made ten minutes slow, then machines leased (and held)
 * so that `booting[0]`, then `booting[1]`, replacements sit booting while
 * DescribeInstances calls are counted at the simulated cloud.
 */
async function describeScaling(cluster: Cluster, store: MachineStore, clients: readonly LeaseClient[], settings: ThroughputSettings): Promise<{ booting: number; callsPerSecond: number }[]> {
  const zones = cluster.config.sim.zones;
  await Promise.all(zones.map((zone) => setFaults(cluster, zone, { slowBoot: '10m' })));
  const held: string[] = [];
  const out: { booting: number; callsPerSecond: number }[] = [];
  try {
    // Ready machines above the warm target (demand raised it during the load) are taken first, launching nothing.
    const surplus = Math.max(0, totalsByState(await store.counts(POOL)).ready - settings.warm);
    for (const booting of settings.booting) {
      while (held.length < surplus + booting) {
        const answer = await clients[held.length % clients.length]!.lease('0s');
        if (answer.id) held.push(answer.id);
      }
      await waitFor(async () => totalsByState(await store.counts(POOL)).booting >= booting, { timeoutMs: 60_000, what: `${booting} machines booting` });
      const calls = async () => ((await (await fetch(`${cluster.simUrl}/v1/sim/requests`)).json()) as { requests: Record<string, number> }).requests.DescribeInstances ?? 0;
      const [t0, c0] = [Date.now(), await calls()];
      await delay(settings.describeWindowMs);
      const [t1, c1] = [Date.now(), await calls()];
      out.push({ booting, callsPerSecond: Number(((c1 - c0) / ((t1 - t0) / 1_000)).toFixed(2)) });
    }
  } finally {
    await Promise.all(zones.map((zone) => setFaults(cluster, zone, {})));
    await Promise.all(held.map((id, i) => clients[i % clients.length]!.release(id)));
  }
  return out;
}

async function setFaults(cluster: Cluster, zone: string, faults: object): Promise<void> {
  const res = await fetch(`${cluster.simUrl}/v1/sim/zones/${zone}/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
  if (!res.ok) throw new Error(`sim fault API answered ${res.status}`);
}

/** The largest peak resident memory among each role's processes (VmHWM), and Redis's. */
function peakMemory(cluster: Cluster, bench: BenchEnv): Record<string, number> {
  const peak: Record<string, number> = {};
  for (const { role, child } of cluster.processes) peak[role] = Math.max(peak[role] ?? 0, readProc(child.pid)?.peakRssMb ?? 0);
  peak.redis = readProc(bench.redisPid)?.peakRssMb ?? 0;
  return peak;
}
