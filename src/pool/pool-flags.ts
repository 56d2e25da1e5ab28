import type { Redis } from 'ioredis';

/** The alert's reason while every zone of the pool is open (other reasons name the provider's API). */
export const ALL_ZONES_OPEN = 'every zone of the pool is open: probing the least-bad zone at a bounded rate';

export interface PoolFlag {
  reason: string;
  since: number;
}

/**
 * Conditions of a pool that an operator must see and that every producer
 * obeys: a halt (a fatal launch error such as bad credentials or a bad image
 * id: retries cannot help, so launching stops until it lapses or is resumed)
 * and an alert (every zone of the pool is open, or its provider's API
 * cannot take launches).
 */
export class PoolFlags {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(kind: 'halt' | 'alert', pool: string): string {
    return `${this.prefix}:pool-${kind}:${pool}`;
  }

  /** Halts launching for a pool; true if this call did it (so it is logged once). */
  async halt(pool: string, reason: string, now: number, forMs: number): Promise<boolean> {
    return (await this.redis.set(this.key('halt', pool), JSON.stringify({ reason, since: now }), 'PX', forMs, 'NX')) === 'OK';
  }

  async resume(pool: string): Promise<boolean> {
    return (await this.redis.del(this.key('halt', pool))) === 1;
  }

  /** Raises the alert; true if it was not raised already, or (`replace`) if its reason was replaced. */
  async raise(pool: string, reason: string, now: number, { replace = false }: { replace?: boolean } = {}): Promise<boolean> {
    const value = JSON.stringify({ reason, since: now });
    return (await (replace ? this.redis.set(this.key('alert', pool), value) : this.redis.set(this.key('alert', pool), value, 'NX'))) === 'OK';
  }

  /** Clears the alert; true if one was raised. */
  async clear(pool: string): Promise<boolean> {
    return (await this.redis.del(this.key('alert', pool))) === 1;
  }

  async read(pool: string): Promise<{ halted?: PoolFlag; alert?: PoolFlag }> {
    const [halted, alert] = await this.redis.mget(this.key('halt', pool), this.key('alert', pool));
    return { halted: parse(halted), alert: parse(alert) };
  }

  /** True at most once per `everyMs` per pool across every producer: the all-zones-open probe pace. */
  async allowProbe(pool: string, everyMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}:pool-probe:${pool}`, '1', 'PX', everyMs, 'NX')) === 'OK';
  }
}

function parse(text: string | null | undefined): PoolFlag | undefined {
  return text ? (JSON.parse(text) as PoolFlag) : undefined;
}
