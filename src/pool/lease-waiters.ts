import type { Redis } from 'ioredis';

/**
 * Lease requests waiting for a machine, per pool, in Redis so every producer
 * sees the demand that every web process holds. Each waiter is stored with
 * the time its wait ends, so a web process that dies mid-wait leaves no
 * phantom demand behind.
 */
export class LeaseWaiters {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(pool: string): string {
    return `${this.prefix}:waiting:${pool}`;
  }

  async start(pool: string, id: string, until: number): Promise<void> {
    await this.redis.zadd(this.key(pool), until, id);
  }

  async end(pool: string, id: string): Promise<void> {
    await this.redis.zrem(this.key(pool), id);
  }

  /**
   * Requests still waiting at `now`. Entries past their deadline are removed
   * here: a request that ended normally removed its own, so these are left by
   * a web process that died mid-wait, and every reader (producers' reconciles,
   * status) cleans them up rather than skipping them forever.
   */
  async count(pool: string, now: number): Promise<number> {
    const key = this.key(pool);
    const [, [, counted]] = (await this.redis.multi().zremrangebyscore(key, '-inf', now).zcount(key, `(${now}`, '+inf').exec()) as [[unknown, number], [unknown, number]];
    return counted;
  }
}
