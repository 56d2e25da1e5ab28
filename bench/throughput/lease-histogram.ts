/** Cumulative counts of `vmpool_lease_wait_seconds` for leased answers, by bucket bound in seconds, summed over web processes. */
export type LeaseBuckets = Map<number, number>;

const BUCKET = /^vmpool_lease_wait_seconds_bucket\{([^}]*)\} (\d+)$/;

/** Reads every web process's `/metrics`: the time each lease spent inside vmpool, as its own histogram has it. */
export async function leaseBuckets(apiUrls: readonly string[]): Promise<LeaseBuckets> {
  const buckets: LeaseBuckets = new Map();
  for (const url of apiUrls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const line of text.split('\n')) {
      const match = BUCKET.exec(line);
      if (!match || !match[1]!.includes('result="leased"')) continue;
      const le = /le="([^"]+)"/.exec(match[1]!)?.[1];
      const bound = le === '+Inf' ? Infinity : Number(le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + Number(match[2]));
    }
  }
  return buckets;
}

/**
 * The smallest bucket bound, in ms, holding 99% of the leases answered
 * between two readings: the server's side of the lease latency, at the
 * histogram's resolution (1, 5, 10, 50 ms...). Undefined without leases.
 */
export function p99BoundMs(before: LeaseBuckets, after: LeaseBuckets): number | undefined {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total <= 0) return undefined;
  const bound = bounds.find((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0) >= 0.99 * total);
  return bound === undefined || bound === Infinity ? Infinity : bound * 1_000;
}
