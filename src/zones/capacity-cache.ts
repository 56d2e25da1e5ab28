import type { Redis } from 'ioredis';

/**
 * Offerings the cloud just said it has no room for: a capacity error marks
 * the (zone, instance type) pair for a few minutes, in Redis so every
 * producer skips it, and the very next launch tries another type or zone.
 */
export class CapacityCache {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  private key(zone: string, instanceType: string): string {
    return `${this.prefix}:capacity:${zone}|${instanceType}`;
  }

  async markUnavailable(zone: string, instanceType: string): Promise<void> {
    await this.redis.set(this.key(zone, instanceType), '1', 'PX', this.ttlMs);
  }

  /** For each zone, its instance types that are not marked, in the order given. */
  async available(zones: readonly string[], instanceTypes: readonly string[]): Promise<Map<string, string[]>> {
    const pairs = zones.flatMap((zone) => instanceTypes.map((type) => [zone, type] as const));
    const marks = pairs.length > 0 ? await this.redis.mget(pairs.map(([zone, type]) => this.key(zone, type))) : [];
    const result = new Map<string, string[]>(zones.map((zone) => [zone, []]));
    pairs.forEach(([zone, type], i) => {
      if (!marks[i]) result.get(zone)!.push(type);
    });
    return result;
  }
}
