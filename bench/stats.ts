/** Percentiles and seeded draws for the benchmarks: pure, no I/O. */

export interface Spread {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of ascending `sorted`; 0 when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** p50, p95, p99 and max of `values`, rounded to `digits` decimals. */
export function spread(values: readonly number[], digits = 1): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (x: number) => Number(x.toFixed(digits));
  return { n: sorted.length, p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? 0) };
}

/** Time to the next arrival of a Poisson process with `perSecond` arrivals a second, in ms. */
export function nextArrivalMs(random: () => number, perSecond: number): number {
  return (-Math.log(1 - random()) / perSecond) * 1_000;
}

/** `a / b`, or null when b is 0 (a ratio against nothing is not a figure). */
export function ratio(a: number, b: number, digits = 3): number | null {
  return b === 0 ? null : Number((a / b).toFixed(digits));
}
