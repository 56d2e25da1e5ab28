import type { Redis } from 'ioredis';
import type { Machine } from '../machines/machine.js';
import { splitZoneId } from '../providers/zone-id.js';

const SAMPLES = 100;
const CACHE_MS = 10_000;

/** What a boot time is compared with: boots of the same provider, pool and instance type (a bigger image or type boots slower, and that is no zone's fault). */
export interface BootKind {
  provider: string;
  pool: string;
  instanceType: string;
}

export function bootKind(machine: Pick<Machine, 'zone' | 'pool' | 'instanceType'>): BootKind {
  return { provider: splitZoneId(machine.zone).provider, pool: machine.pool, instanceType: machine.instanceType };
}

export interface SlowBootSettings {
  /** Never slow before this. */
  floorMs: number;
  /** Fewer samples of a kind than this: none of its boots is judged slow (only the boot deadline counts). */
  minSamples: number;
}

export function slowBootSettings(breaker: { slowBootFloor: number; slowBootMinSamples: number }): SlowBootSettings {
  return { floorMs: breaker.slowBootFloor, minSamples: breaker.slowBootMinSamples };
}

/**
 * Recent launch-to-SSH-ready times of healthy boots (any zone, any process),
 * per kind of machine, to tell when a boot in progress is slow: three times
 * its kind's median, never less than the floor, and never judged before the
 * kind has `minSamples` samples.
 */
export class BootTimes {
  private readonly cached = new Map<string, { at: number; value: number }>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly settings: SlowBootSettings,
    private readonly now: () => number,
  ) {}

  private key(kind: BootKind): string {
    return `${this.prefix}:boot-times:${kind.provider}|${kind.pool}|${kind.instanceType}`;
  }

  async record(kind: BootKind, ms: number): Promise<void> {
    const key = this.key(kind);
    // A pipeline, not MULTI: a sample list one longer for a moment harms nobody, and it is two commands, not four.
    await this.redis.pipeline().lpush(key, Math.round(ms)).ltrim(key, 0, SAMPLES - 1).exec();
  }

  /** Milliseconds after launch at which an unfinished boot of this kind counts as slow; undefined while the kind has too few samples. */
  async slowAfter(kind: BootKind): Promise<number | undefined> {
    const key = this.key(kind);
    const hit = this.cached.get(key);
    if (hit && this.now() - hit.at < CACHE_MS) return hit.value;
    const samples = (await this.redis.lrange(key, 0, -1)).map(Number).sort((a, b) => a - b);
    const value = samples.length < Math.max(1, this.settings.minSamples) ? undefined : Math.max(this.settings.floorMs, 3 * samples[Math.floor(samples.length / 2)]!);
    // Too few samples is not cached: the kind's first judgements start with its minSamples-th boot.
    if (value !== undefined) this.cached.set(key, { at: this.now(), value });
    return value;
  }
}
