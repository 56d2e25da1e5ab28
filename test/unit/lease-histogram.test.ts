import { describe, expect, it } from 'vitest';
import { p99BoundMs, type LeaseBuckets } from '../../bench/throughput/lease-histogram.js';

const buckets = (pairs: [number, number][]): LeaseBuckets => new Map(pairs);

describe('p99BoundMs', () => {
  it('is the smallest bound holding 99% of the leases answered between two readings', () => {
    const before = buckets([[0.001, 10], [0.005, 20], [0.01, 20], [0.05, 20], [Infinity, 20]]);
    // 100 more: 40 under 1 ms, 59 more under 5 ms, the last under 50 ms.
    const after = buckets([[0.001, 50], [0.005, 119], [0.01, 119], [0.05, 120], [Infinity, 120]]);
    expect(p99BoundMs(before, after)).toBe(5);
    const slow = buckets([[0.001, 50], [0.005, 100], [0.01, 110], [0.05, 120], [Infinity, 120]]);
    expect(p99BoundMs(before, slow)).toBe(50);
  });

  it('says Infinity when the 99th percentile is past the last bound, and nothing without leases', () => {
    const before = buckets([[0.01, 0], [Infinity, 0]]);
    expect(p99BoundMs(before, buckets([[0.01, 90], [Infinity, 100]]))).toBe(Infinity);
    expect(p99BoundMs(before, before)).toBeUndefined();
  });
});
