import { benchPool } from '../cluster.js';
/** The throughput benchmark's knobs: durations in ms. */
export interface ThroughputSettings {
  /** Role processes of each kind: one of each, then two of each. */
  sets: number[];
  /** Concurrent lease clients. */
  clients: number;
  /** The warm pool: large enough that machines on their way never limit the pipeline. */
  warm: number;
  max: number;
  /** Leases taken from the full warm pool for the latency figure (held, then released). */
  latencyLeases: number;
  /** Load before the measured window, and the window itself. */
  warmupMs: number;
  measureMs: number;
  /** Then, under the same load, MONITOR on: commands sent versus run by scripts. */
  monitorMs: number;
  /** An idle, full pool: what the control plane costs doing nothing. */
  idleMs: number;
  /** Machines held booting to show DescribeInstances calls do not grow with them. */
  booting: [number, number];
  describeWindowMs: number;
  logLevel: string;
  /** Set: CPU profiles of every process go here (see bench/cluster.ts). */
  profileDir?: string;
}

export const DEFAULT_SETTINGS: ThroughputSettings = {
  sets: [1, 2],
  clients: 50,
  warm: 300,
  max: 700,
  latencyLeases: 150,
  warmupMs: 5_000,
  measureMs: 20_000,
  monitorMs: 4_000,
  idleMs: 5_000,
  booting: [10, 100],
  describeWindowMs: 5_000,
  logLevel: 'warn',
};

export const QUICK_SETTINGS: ThroughputSettings = {
  ...DEFAULT_SETTINGS,
  sets: [1],
  warm: 100,
  max: 300,
  latencyLeases: 50,
  measureMs: 10_000,
  booting: [5, 40],
};

export const POOL = 'small';

/**
 * Zero boot delay, so the control plane is all there is to measure. Every
 * other key is the shipped default but for what bounds a pipeline this
 * deep: boots in flight per booter, and the describe tick a boot waits for.
 */
export function clusterOverrides(s: ThroughputSettings): Record<string, unknown> {
  return {
    // No registries: the pool pulls no agent, and the shipped ones listen on fixed ports another run may hold.
    sim: { bootDelay: '0ms', bootSpread: '0ms', registries: [] },
    booter: { concurrency: 300, describeEvery: '200ms' },
    // Machines held booting on purpose (the describe figure) must not be judged slow or timed out.
    breaker: { slowBootFloor: '10m' },
    // Boots held slow on purpose are still running at the end: handed back quickly, not waited for.
    shutdown: { grace: '2s' },
    pools: [benchPool(POOL, { warm: s.warm, max: s.max, bootTimeout: '10m', scaleInCooldown: '10m' })],
  };
}
