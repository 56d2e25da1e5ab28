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

  /** Requests still waiting at `now`. */
  async count(pool: string, now: number): Promise<number> {
    return this.redis.zcount(this.key(pool), `(${now}`, '+inf');
  }
}
