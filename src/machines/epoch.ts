import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A marker in the Redis that vmpool uses. When it is missing, Redis is new or
 * came back empty (a restart without persistence, a failover that lost
 * writes): a producer rebuilds the machine store from the cloud's tags
 * (nothing to rebuild on a first start) and renews it before anyone plans
 * launches on an empty store.
 */
export class Epoch {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private get key(): string {
    return `${this.prefix}:epoch`;
  }

  async present(): Promise<boolean> {
    return (await this.redis.exists(this.key)) === 1;
  }

  /** Sets a new marker after a rebuild. */
  async renew(): Promise<string> {
    const value = `${randomUUID()} ${new Date().toISOString()}`;
    await this.redis.set(this.key, value);
    return value;
  }
}
