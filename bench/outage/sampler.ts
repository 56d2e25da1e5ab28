import type { Redis } from 'ioredis';
import { BOOT_VERDICTS } from '../../src/errors.js';
import { WARMING_STATES } from '../../src/machines/machine.js';
import { MachineStore } from '../../src/machines/store.js';
import { OutcomeCounters, type BootOutcome } from '../../src/outcome-counters.js';
import { CapacityCache } from '../../src/zones/capacity-cache.js';

/** The pool as Redis held it at one moment, per zone. */
export interface Sample {
  at: number;
  ready: Record<string, number>;
  /** Requested, launching, booting or preparing. */
  warming: Record<string, number>;
  /** Zone faults so far: failed or slow boots, failed launches. */
  bad: Record<string, number>;
  /** Boots that ended ready so far. */
  good: Record<string, number>;
  /** Zones the shared capacity cache marks sold out (for every instance type of the pool). */
  soldOut: string[];
}

/** Reads the pool's counts and the outcome counters every `everyMs`, as any dashboard would. */
export class Sampler {
  readonly samples: Sample[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly store: MachineStore;
  private readonly counters: OutcomeCounters;
  private readonly capacity: CapacityCache;
  private reading: Promise<void> = Promise.resolve();

  constructor(
    redis: Redis,
    prefix: string,
    private readonly pool: { name: string; zones: readonly string[]; instanceTypes: readonly string[] },
    everyMs: number,
  ) {
    this.store = new MachineStore(redis, prefix);
    this.counters = new OutcomeCounters(redis, prefix);
    this.capacity = new CapacityCache(redis, prefix, 0);
    this.timer = setInterval(() => {
      this.reading = this.reading.then(() => this.sample()).catch(() => undefined);
    }, everyMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.reading;
  }

  private async sample(): Promise<void> {
    const { name, zones, instanceTypes } = this.pool;
    const [counts, outcomes, available] = await Promise.all([this.store.counts(name), this.counters.read(), this.capacity.available(zones, instanceTypes)]);
    const soldOut = [...available].filter(([, types]) => types.length === 0).map(([zone]) => zone);
    const sample: Sample = { at: Date.now(), ready: {}, warming: {}, bad: {}, good: {}, soldOut };
    for (const [zone, byState] of Object.entries(counts)) {
      sample.ready[zone] = byState.ready ?? 0;
      sample.warming[zone] = WARMING_STATES.reduce((sum, s) => sum + (s === 'ready' ? 0 : (byState[s] ?? 0)), 0);
    }
    const add = (field: Record<string, number>, zone: string, n: number) => (field[zone] = (field[zone] ?? 0) + n);
    for (const row of outcomes.boots.filter((r) => r.pool === name)) {
      const verdict = BOOT_VERDICTS[row.result as BootOutcome];
      if (verdict === 'healthy') add(sample.good, row.zone, row.value);
      else if (verdict === 'zone-fault') add(sample.bad, row.zone, row.value);
    }
    for (const row of outcomes.launches.filter((r) => r.pool === name && r.result === 'error')) add(sample.bad, row.zone, row.value);
    this.samples.push(sample);
  }
}
