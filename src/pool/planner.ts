import { LIVE_STATES, WARMING_STATES } from '../machines/machine.js';
import type { CountKey } from '../machines/store.js';

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
