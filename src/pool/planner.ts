import { LIVE_STATES, UNRESOLVED_STATES, WARMING_STATES } from '../machines/machine.js';
import type { CountKey, PoolCounts } from '../machines/store.js';

export interface PoolLimits {
  /** Ready machines to keep waiting for builds. */
  warm: number;
  /** Ceiling on live machines. */
  max: number;
}

/**
 * How many machines to launch now. Counts every machine on its way to ready
 * (requested, launching, booting, preparing), so an ordinary boot never
 * triggers a second launch for the same gap; a boot judged slow no longer
 * counts (it is likely doomed, and waiting for its deadline leaves the pool
 * short). Every live machine counts against `max`, slow or not.
 */
export function launchDeficit(limits: PoolLimits, totals: Readonly<Record<CountKey, number>>): number {
  const warming = WARMING_STATES.reduce((sum, s) => sum + totals[s], 0) - totals.slow;
  const live = LIVE_STATES.reduce((sum, s) => sum + totals[s], 0);
  return Math.max(0, Math.min(limits.warm - warming, limits.max - live));
}

/**
 * Per zone, the machines whose outcome may still be to come (requested to
 * preparing, and failed), over every pool given. A slow boot already counted
 * against its zone, so it no longer does here.
 */
export function unresolvedByZone(pools: readonly PoolCounts[]): Map<string, number> {
  const byZone = new Map<string, number>();
  for (const counts of pools) {
    for (const [zone, c] of Object.entries(counts)) {
      const n = UNRESOLVED_STATES.reduce((sum, s) => sum + (c[s] ?? 0), 0) - (c.slow ?? 0);
      byZone.set(zone, (byZone.get(zone) ?? 0) + n);
    }
  }
  return byZone;
}
