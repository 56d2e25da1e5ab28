import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from '../log.js';

const SAMPLE_EVERY_MS = 1_000;
const RESOLUTION_MS = 20;

/**
 * Tells whether this process's own event loop is starved (its lag above a
 * threshold), so a booter on a CPU-starved machine does not blame zones for
 * boots its own lateness made slow. Logs once when it starts and once when
 * it stops skipping judgements.
 */
export class LoopStarvation {
  private skipping = false;

  constructor(
    /** Current lag of the event loop in ms. */
    private readonly lagMs: () => number,
    private readonly thresholdMs: number,
    private readonly logger: Logger,
  ) {}

  /** True while boots must not be judged slow by this process. */
  starved(): boolean {
    const lag = this.lagMs();
    const starved = lag > this.thresholdMs;
    if (starved !== this.skipping) {
      this.skipping = starved;
      if (starved) this.logger.warn({ lagMs: Math.round(lag), thresholdMs: this.thresholdMs }, 'event loop starved: not judging boots slow until it recovers');
      else this.logger.info({ lagMs: Math.round(lag), thresholdMs: this.thresholdMs }, 'event loop recovered: judging slow boots again');
    }
    return starved;
  }
}

/** The event loop's lag as `perf_hooks` measures it: the 99th percentile of the latest second, in ms. */
export function measureLoopLag(): { lagMs: () => number; close: () => void } {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let latest = 0;
  const sample = () => {
    // The histogram counts the resolution's own wait: what is above it is lag.
    latest = Math.max(0, histogram.percentile(99) / 1e6 - RESOLUTION_MS);
    histogram.reset();
  };
  const timer = setInterval(sample, SAMPLE_EVERY_MS);
  timer.unref();
  return {
    // A loop blocked since the last sample shows in the histogram only: take the worse of the two.
    lagMs: () => Math.max(latest, histogram.count > 0 ? histogram.percentile(99) / 1e6 - RESOLUTION_MS : 0),
    close: () => {
      clearInterval(timer);
      histogram.disable();
    },
  };
}
