import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { nextArrivalMs } from '../stats.js';
import type { LeaseClient } from '../lease-client.js';

/** One lease request: when it was sent, how long its answer took, what it was. */
export interface LeaseRecord {
  at: number;
  waitMs: number;
  status: number;
  zone?: string;
}

export interface PoissonLoadOptions {
  perSecond: number;
  holdMs: { min: number; max: number };
  wait: string;
  /** Seeded: draws are made at each arrival, so every strategy sees the same arrivals and build durations. */
  random: () => number;
}

/**
 * Builds arriving at random (a Poisson process), each leasing a machine,
 * holding it for a random build duration, then releasing it.
 */
export class PoissonLoad {
  readonly records: LeaseRecord[] = [];
  /** Answers that are neither a machine nor "none ready in time" (what a healthy API never says). */
  readonly unexpected: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly arrivals: Promise<void>;

  constructor(
    private readonly client: LeaseClient,
    private readonly options: PoissonLoadOptions,
  ) {
    // Every build holding a machine waits on this signal: many listeners are expected.
    setMaxListeners(0, this.stopping.signal);
    this.arrivals = this.arrive();
  }

  /** No more arrivals; builds end now (their machines released); resolves when every request is answered. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.arrivals;
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private async arrive(): Promise<void> {
    const { random, perSecond, holdMs } = this.options;
    for (;;) {
      const gap = nextArrivalMs(random, perSecond);
      const hold = holdMs.min + random() * (holdMs.max - holdMs.min);
      if (!(await this.pause(gap))) return;
      const build = this.build(hold).catch((err: unknown) => void this.unexpected.push(`request failed: ${String(err)}`));
      this.inFlight.add(build);
      void build.then(() => this.inFlight.delete(build));
    }
  }

  private async build(holdMs: number): Promise<void> {
    const at = Date.now();
    const answer = await this.client.lease(this.options.wait);
    this.records.push({ at, waitMs: answer.ms, status: answer.status, zone: answer.zone });
    if (answer.status !== 200 || !answer.id) {
      if (answer.status !== 503) this.unexpected.push(`lease answered ${answer.status}`);
      return;
    }
    await this.pause(holdMs);
    const status = await this.client.release(answer.id);
    if (status !== 200) this.unexpected.push(`release of ${answer.id} answered ${status}`);
  }

  /** Waits `ms`, or less when the load stops; false when it stopped. */
  private async pause(ms: number): Promise<boolean> {
    await delay(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
    return !this.stopping.signal.aborted;
  }
}
