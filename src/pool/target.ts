import { Cron } from 'croner';
import type { PoolConfig } from '../config.js';

export interface PoolTarget {
  /** Ready machines to keep now: the scheduled target raised by waiting leases, never above max. */
  target: number;
  /** What the schedule (or `warm`) says for this moment. */
  scheduled: number;
  /** Lease requests waiting for a machine right now. */
  waiting: number;
}

/**
 * The warm target of a pool at `now`: the schedule entry that fired most
 * recently wins (nights and weekends smaller), or `warm` without a schedule;
 * every lease request waiting for a machine adds one, up to `max`, so a
 * burst gets machines launched at once.
 */
export function poolTarget(pool: Pick<PoolConfig, 'warm' | 'max' | 'schedule' | 'timezone'>, now: number, waiting: number): PoolTarget {
  const scheduled = scheduledWarm(pool, now);
  return { target: Math.min(pool.max, scheduled + waiting), scheduled, waiting };
}

function scheduledWarm(pool: Pick<PoolConfig, 'warm' | 'schedule' | 'timezone'>, now: number): number {
  let latest: { at: number; warm: number } | undefined;
  for (const entry of pool.schedule) {
    // previousRuns() looks strictly before the start's whole second: +1 s so an entry firing this very second counts.
    const [fired] = new Cron(entry.cron, { paused: true, timezone: pool.timezone }).previousRuns(1, new Date(now + 1_000));
    if (fired && (!latest || fired.getTime() > latest.at)) latest = { at: fired.getTime(), warm: entry.warm };
  }
  return latest?.warm ?? pool.warm;
}
