import type { Redis } from 'ioredis';

/** How often a status sample is taken (by one web process at a time). */
export const SAMPLE_EVERY_MS = 30_000;
/** Samples kept: two hours at one per 30 s; the dashboard draws the last hour. */
export const SAMPLES_KEPT = 240;
/** A sample's lease wait p95 is over the waits of this long before it: smooth enough to read, recent enough to matter. */
export const WAIT_WINDOW_MS = 5 * 60_000;
/** Lease waits kept per pool (approximately: trimmed by Redis in whole nodes); the p95 of a busier window is of its latest ones. */
const WAITS_KEPT = 2_000;

/** One point of the dashboard's chart. */
export interface StatusSample {
  /** ISO 8601 UTC. */
  at: string;
  readyByPool: Record<string, number>;
  /** p95 of the lease waits of the last five minutes, in seconds; null without any. */
  leaseWaitP95ByPool: Record<string, number | null>;
  /** Lease requests of the last five minutes (answered or timed out). */
  leasesByPool: Record<string, number>;
}

/**
 * vmpool's own history for the dashboard, in Redis (no external service): a
 * capped stream of lease waits per pool (one XADD per lease request, its id
 * carrying the time) and a capped list of samples taken every 30 s.
 */
export class StatusHistory {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private waitsKey(pool: string): string {
    return `${this.prefix}:lease-waits:${pool}`;
  }

  private get samplesKey(): string {
    return `${this.prefix}:status-samples`;
  }

  /** One command per lease request, O(1): the stream trims itself to about WAITS_KEPT entries. */
  async recordLeaseWait(pool: string, seconds: number): Promise<void> {
    await this.redis.xadd(this.waitsKey(pool), 'MAXLEN', '~', WAITS_KEPT, '*', 's', seconds.toFixed(3));
  }

  /**
   * Takes a sample unless another process took one less than a period ago
   * (one SET NX decides, so any number of web processes make one series).
   * `ready` gives each pool's ready machines. Returns the sample taken, if any.
   */
  async sample(pools: readonly string[], ready: (pool: string) => Promise<number>, now: number): Promise<StatusSample | undefined> {
    const mine = await this.redis.set(`${this.prefix}:status-sample-lock`, '1', 'PX', SAMPLE_EVERY_MS - 1_000, 'NX');
    if (mine !== 'OK') return undefined;
    const sample: StatusSample = { at: new Date(now).toISOString(), readyByPool: {}, leaseWaitP95ByPool: {}, leasesByPool: {} };
    for (const pool of pools) {
      const [count, waits] = await Promise.all([ready(pool), this.redis.xrange(this.waitsKey(pool), String(now - WAIT_WINDOW_MS), '+')]);
      const seconds = waits.map(([, fields]) => Number(fields[1]));
      sample.readyByPool[pool] = count;
      sample.leaseWaitP95ByPool[pool] = p95(seconds);
      sample.leasesByPool[pool] = seconds.length;
    }
    await this.redis.multi().lpush(this.samplesKey, JSON.stringify(sample)).ltrim(this.samplesKey, 0, SAMPLES_KEPT - 1).exec();
    return sample;
  }

  /** Samples taken since `since` (epoch ms), oldest first. */
  async read(since: number): Promise<StatusSample[]> {
    const raw = await this.redis.lrange(this.samplesKey, 0, SAMPLES_KEPT - 1);
    return raw
      .map((text) => JSON.parse(text) as StatusSample)
      .filter((s) => Date.parse(s.at) >= since)
      .reverse();
  }
}

/** The nearest-rank 95th percentile, or null for no values. */
export function p95(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(0.95 * sorted.length) - 1]!;
}
