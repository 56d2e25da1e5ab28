import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A marker in the Redis that vmpool uses. When it is missing, Redis is new or
 * came back empty (a restart without persistence, a failover that lost
 * writes): producers rebuild the machine store from the cloud's tags
 * (nothing to rebuild on a first start), one provider at a time, marking each
 * provider rebuilt, and renew it once every provider is. A pool plans launches
 * once its own providers are rebuilt: a provider that cannot be listed holds
 * up its own pools only.
 */
export class Epoch {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private get key(): string {
    return `${this.prefix}:epoch`;
  }

  private rebuiltKey(provider: string): string {
    return `${this.prefix}:epoch:${provider}`;
  }

  async present(): Promise<boolean> {
    return (await this.redis.exists(this.key)) === 1;
  }

  /** Whether the store holds every machine of these providers: the epoch is present, or each of them was rebuilt since it went. One read. */
  async rebuilt(providers: readonly string[]): Promise<boolean> {
    const [epoch, ...marks] = await this.redis.mget(this.key, ...providers.map((p) => this.rebuiltKey(p)));
    return epoch !== null || marks.every((m) => m !== null);
  }

  /** Marks one provider's machines rebuilt (its pools may launch again before the others are). */
  async markRebuilt(provider: string): Promise<void> {
    await this.redis.set(this.rebuiltKey(provider), new Date().toISOString());
  }

  /**
   * Sets a new marker unless one is there (another producer renewed it
   * first); true if this call did. The providers' marks go with it: they speak
   * of this rebuild only, and the next loss must not find them.
   */
  async renewIfMissing(providers: readonly string[]): Promise<boolean> {
    if ((await this.redis.set(this.key, `${randomUUID()} ${new Date().toISOString()}`, 'NX')) !== 'OK') return false;
    if (providers.length > 0) await this.redis.del(...providers.map((p) => this.rebuiltKey(p)));
    return true;
  }

  /** Sets a new marker after a rebuild. */
  async renew(): Promise<string> {
    const value = `${randomUUID()} ${new Date().toISOString()}`;
    await this.redis.set(this.key, value);
    return value;
  }
}
