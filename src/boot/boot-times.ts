import type { Redis } from 'ioredis';

const SAMPLES = 100;
const CACHE_MS = 10_000;

/**
 * Recent launch-to-ready times of healthy boots (any zone, any process), to
 * tell when a boot in progress is slow: three times the median, never less
 * than the configured floor.
 */
export class BootTimes {
  private cached: { at: number; value: number } | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly floorMs: number,
    private readonly now: () => number,
  ) {}

  private get key(): string {
    return `${this.prefix}:boot-times`;
  }

  async record(ms: number): Promise<void> {
    // A pipeline, not MULTI: a sample list one longer for a moment harms nobody, and it is two commands, not four.
    await this.redis.pipeline().lpush(this.key, Math.round(ms)).ltrim(this.key, 0, SAMPLES - 1).exec();
  }

  /** Milliseconds after launch at which an unfinished boot counts as slow. */
  async slowAfter(): Promise<number> {
    if (this.cached && this.now() - this.cached.at < CACHE_MS) return this.cached.value;
    const samples = (await this.redis.lrange(this.key, 0, -1)).map(Number).sort((a, b) => a - b);
    const median = samples.length > 0 ? samples[Math.floor(samples.length / 2)]! : 0;
    const value = Math.max(this.floorMs, 3 * median);
    this.cached = { at: this.now(), value };
    return value;
  }
}
