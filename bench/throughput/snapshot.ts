import type { BenchEnv } from '../bench-env.js';
import type { Cluster } from '../cluster.js';
import { readProc } from '../proc-stats.js';
import { commandCalls, commandDelta, type CommandDelta } from '../redis-stats.js';

/** Who spends CPU: vmpool's roles, its Redis, the simulated cloud (not the control plane), the benchmark's clients. */
export type Spender = 'producer' | 'booter' | 'web' | 'redis' | 'sim' | 'bench';

/** Counters read at one moment, from outside every process. */
export interface Snapshot {
  at: number;
  calls: Map<string, number>;
  cpuMs: Map<Spender, number>;
  ec2: Record<string, number>;
}

export async function snapshot(bench: BenchEnv, cluster: Cluster): Promise<Snapshot> {
  const cpuMs = new Map<Spender, number>();
  const add = (who: Spender, ms: number) => cpuMs.set(who, (cpuMs.get(who) ?? 0) + ms);
  for (const { role, child } of cluster.processes) add(role, readProc(child.pid)?.cpuMs ?? 0);
  add('redis', readProc(bench.redisPid)?.cpuMs ?? 0);
  const own = process.cpuUsage();
  add('bench', (own.user + own.system) / 1_000);
  const [calls, ec2] = await Promise.all([commandCalls(bench.redis), simRequests(cluster)]);
  return { at: Date.now(), calls, cpuMs, ec2 };
}

async function simRequests(cluster: Cluster): Promise<Record<string, number>> {
  const res = await fetch(`${cluster.simUrl}/v1/sim/requests`);
  return ((await res.json()) as { requests: Record<string, number> }).requests;
}

/** What happened between two snapshots. */
export interface Interval {
  seconds: number;
  redis: CommandDelta;
  cpuMs: Record<string, number>;
  ec2: Record<string, number>;
}

export function interval(a: Snapshot, b: Snapshot): Interval {
  const cpuMs: Record<string, number> = {};
  for (const [who, ms] of b.cpuMs) cpuMs[who] = Math.round(ms - (a.cpuMs.get(who) ?? 0));
  const ec2: Record<string, number> = {};
  for (const [action, n] of Object.entries(b.ec2)) ec2[action] = n - (a.ec2[action] ?? 0);
  return { seconds: (b.at - a.at) / 1_000, redis: commandDelta(a.calls, b.calls), cpuMs, ec2 };
}
