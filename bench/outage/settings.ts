import { benchPool } from '../cluster.js';
import type { ZoneFaults } from '../../src/sim/sim-faults.js';
import type { ZoneStrategyName } from '../../src/zones/zone-strategy.js';

/** The faults zone b suffers in turn, as the sim's fault API takes them. */
export const FAULTS = {
  'boot-fail': { bootFail: 1 },
  'boot-fail-60': { bootFail: 0.6 },
  capacity: { capacityError: 1 },
} as const satisfies Record<string, ZoneFaults>;
export type FaultName = keyof typeof FAULTS;

export const FAILING_ZONE = 'sim/zone-b';
export const POOL = 'small';

/** One compressed day: durations in ms. */
export interface OutageSettings {
  strategies: ZoneStrategyName[];
  faults: FaultName[];
  /** Steady load on a full pool before zone b breaks. */
  warmupMs: number;
  faultMs: number;
  /** After the heal. */
  afterMs: number;
  /** Lease requests a second, arriving as a Poisson process. */
  arrivalsPerSecond: number;
  /** A build holds its machine a uniform draw from this range. */
  holdMs: { min: number; max: number };
  /** The `wait` of each lease request. */
  leaseWaitMs: number;
  seed: number;
  warm: number;
  max: number;
  /** Simulated boots take bootMs plus a uniform 0..bootSpreadMs. */
  bootMs: number;
  bootSpreadMs: number;
  breaker: { windowMs: number; minOutcomes: number; failureRate: number; openForMs: number; maxOpenForMs: number; probes: number; slowBootFloorMs: number };
  capacityTtlMs: number;
  sampleEveryMs: number;
  logLevel: string;
  /** Set: CPU profiles of every process go here (see bench/cluster.ts). */
  profileDir?: string;
}

/**
 * The default run: every fault in turn, the three strategies at once, about
 * four and a half minutes each. The breaker's periods are scaled down with the boots
 * (1-3 s instead of 1-3 minutes): a minute of the real day is about a second
 * here, so the three-minute fault is a long outage's worth of launches.
 */
export const DEFAULT_SETTINGS: OutageSettings = {
  strategies: ['redis-breaker', 'no-breaker', 'local-breaker'],
  faults: ['boot-fail', 'boot-fail-60', 'capacity'],
  warmupMs: 15_000,
  faultMs: 180_000,
  afterMs: 60_000,
  arrivalsPerSecond: 2,
  holdMs: { min: 2_000, max: 6_000 },
  leaseWaitMs: 30_000,
  seed: 20_240_501,
  warm: 12,
  max: 30,
  bootMs: 1_000,
  bootSpreadMs: 2_000,
  // As shipped: no growth (maxOpenFor = openFor), one probe; recentOutcomes is left to its default (2 x minOutcomes).
  breaker: { windowMs: 30_000, minOutcomes: 5, failureRate: 0.5, openForMs: 8_000, maxOpenForMs: 8_000, probes: 1, slowBootFloorMs: 6_000 },
  capacityTtlMs: 10_000,
  sampleEveryMs: 100,
  logLevel: 'warn',
};

/** `--quick`: the three strategies under a total boot failure only, shorter phases and periods: about a minute and a half. */
export const QUICK_SETTINGS: OutageSettings = {
  ...DEFAULT_SETTINGS,
  faults: ['boot-fail'],
  warmupMs: 8_000,
  faultMs: 45_000,
  afterMs: 25_000,
  breaker: { ...DEFAULT_SETTINGS.breaker, windowMs: 20_000, openForMs: 4_000, maxOpenForMs: 4_000 },
};

const ms = (n: number) => `${Math.round(n)}ms`;

/** The cluster's config for one run, as an operator would write it. */
export function clusterOverrides(s: OutageSettings, strategy: ZoneStrategyName): Record<string, unknown> {
  const b = s.breaker;
  return {
    zones: { strategy },
    breaker: { window: ms(b.windowMs), minOutcomes: b.minOutcomes, failureRate: b.failureRate, openFor: ms(b.openForMs), maxOpenFor: ms(b.maxOpenForMs), probes: b.probes, slowBootFloor: ms(b.slowBootFloorMs) },
    capacityCache: { ttl: ms(s.capacityTtlMs) },
    allZonesOpen: { probeEvery: ms(b.openForMs / 2) },
    producer: { reconcileEvery: '1s' },
    booter: { describeEvery: '250ms' },
    ssh: { connectTimeout: '2s', retryEvery: '200ms' },
    reaper: { every: '5s', stuckAfter: '20s' },
    shutdown: { grace: '3s' },
    // The pool pulls no agent: the sim serves no registry, so its fixed ports (4601, 4602) cannot clash with another sim's.
    sim: { bootDelay: ms(s.bootMs), bootSpread: ms(s.bootSpreadMs), registries: [] },
    pools: [benchPool(POOL, { warm: s.warm, max: s.max, bootTimeout: '20s', scaleInCooldown: '30s' })],
  };
}
