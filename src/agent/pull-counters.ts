import type { Redis } from 'ioredis';

/** What became of one attempt to pull the agent from one registry. */
export type PullResult = 'ok' | 'failed' | 'timeout';

/**
 * Agent pull attempts by registry and result, kept in Redis so the web role
 * exports what every booter process did (`vmpool_agent_pulls_total`).
 */
export class PullCounters {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = `${prefix}:agent-pulls`;
  }

  async count(registry: string, result: PullResult): Promise<void> {
    await this.redis.hincrby(this.key, `${registry}|${result}`, 1);
  }

  async read(): Promise<{ registry: string; result: PullResult; value: number }[]> {
    const raw = await this.redis.hgetall(this.key);
    return Object.entries(raw).map(([field, value]) => {
      const at = field.lastIndexOf('|');
      return { registry: field.slice(0, at), result: field.slice(at + 1) as PullResult, value: Number(value) };
    });
  }
}
