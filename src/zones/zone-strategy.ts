import type { BreakerState, ZoneBreaker } from './breaker.js';
import type { CapacityCache } from './capacity-cache.js';
import type { ZoneGuard } from '../machines/store.js';

/** `zones.strategy` in the config: which zone health the producers' zone choice obeys. */
export const ZONE_STRATEGIES = ['redis-breaker', 'no-breaker', 'local-breaker'] as const;
export type ZoneStrategyName = (typeof ZONE_STRATEGIES)[number];

/** One zone as a strategy reports it to zone choice. */
export interface ZoneSignal {
  state: BreakerState;
  failureRate: number;
  openUntil?: number;
  /** Most machines with no outcome yet the zone should hold; undefined: no limit. */
  inFlightLimit?: number;
}

/**
 * What zone choice knows about zones, and what it learns from. vmpool runs
 * `redis-breaker`; the two others exist so a benchmark can show, in one run,
 * what the shared breaker buys over the designs it replaces.
 */
export interface ZoneStrategy {
  health(zones: readonly string[], now: number): Promise<Map<string, ZoneSignal>>;
  /** Per zone, the instance types not known to be sold out, in the order given. */
  available(zones: readonly string[], instanceTypes: readonly string[]): Promise<Map<string, string[]>>;
  /** Reserves one probe launch into a half-open zone. */
  reserveProbe(zone: string, now: number): Promise<boolean>;
  /** Makes one launch call into `zone`; a strategy that learns from launch answers watches it here. */
  observeLaunch<T>(zone: string, call: () => Promise<T>): Promise<T>;
  /**
   * What the store checks when it records a machine in `zone`, so the zone's
   * in-flight limit holds across producers; undefined when the strategy keeps
   * no such limit in Redis.
   */
  zoneGuard?(zone: string, otherPools: readonly string[]): ZoneGuard;
  /** Stops the strategy's timers, if it has any. */
  close?(): void;
}

/** vmpool as built: the breaker every process shares through Redis, and the shared capacity cache. */
export function redisBreakerStrategy(breaker: ZoneBreaker, capacity: CapacityCache): ZoneStrategy {
  return {
    health: (zones, now) => breaker.read(zones, now),
    available: (zones, types) => capacity.available(zones, types),
    reserveProbe: (zone, now) => breaker.reserveProbe(zone, now),
    observeLaunch: (_zone, call) => call(),
    zoneGuard: (zone, otherPools) => breaker.guard(zone, otherPools),
  };
}

/**
 * Zone health ignored: every zone closed, every instance type on offer, an
 * even spread only (drone's autoscaler, the GitHub runner module). The shared
 * capacity cache is ignored too: remembering a sold-out zone is zone health.
 */
export function noBreakerStrategy(): ZoneStrategy {
  return {
    health: (zones) => Promise.resolve(new Map(zones.map((zone) => [zone, { state: 'closed', failureRate: 0 }]))),
    available: (zones, types) => Promise.resolve(new Map(zones.map((zone) => [zone, [...types]]))),
    reserveProbe: () => Promise.resolve(false),
    observeLaunch: (_zone, call) => call(),
  };
}
