import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/sim/token-bucket.js';
import { ACTION_LIMITS, CATEGORY_LIMITS, limitsFor } from '../../src/providers/ec2-limits.js';

const T0 = 1_700_000_000_000;

describe('TokenBucket', () => {
  it('starts full and lets a burst of its size through, then refuses', () => {
    const bucket = new TokenBucket(5, 2, T0);
    for (let i = 0; i < 5; i++) expect(bucket.take(1, T0)).toBe(true);
    expect(bucket.take(1, T0)).toBe(false);
    expect(bucket.level(T0)).toBe(0);
  });

  it('refills at its rate per second, in fractions, never above its size', () => {
    const bucket = new TokenBucket(5, 2, T0);
    bucket.take(5, T0);
    expect(bucket.level(T0 + 250)).toBe(0.5);
    expect(bucket.take(1, T0 + 499)).toBe(false);
    expect(bucket.take(1, T0 + 500)).toBe(true);
    expect(bucket.level(T0 + 60_000)).toBe(5);
  });

  it('takes a cost of several tokens only when it holds them all', () => {
    const bucket = new TokenBucket(1000, 2, T0);
    expect(bucket.take(999, T0)).toBe(true);
    expect(bucket.take(2, T0)).toBe(false);
    expect(bucket.level(T0)).toBe(1);
    expect(bucket.take(2, T0 + 500)).toBe(true);
  });

  it('neither refills nor drains when the clock steps back', () => {
    const bucket = new TokenBucket(10, 1, T0);
    bucket.take(10, T0);
    expect(bucket.level(T0 - 5_000)).toBe(0);
    expect(bucket.level(T0 + 1_000)).toBe(1);
  });

  it('refuses a size of 0 or a negative refill', () => {
    expect(() => new TokenBucket(0, 1, T0)).toThrow(RangeError);
    expect(() => new TokenBucket(1, -1, T0)).toThrow(RangeError);
  });
});

describe("EC2's throttling figures", () => {
  it("are EC2's documented request and resource buckets for the actions vmpool calls", () => {
    expect(limitsFor('RunInstances')).toEqual({ request: { size: 5, refill: 2 }, resource: { size: 1000, refill: 2 } });
    expect(limitsFor('DescribeInstances')).toEqual({ request: { size: 100, refill: 20 }, resource: undefined });
    expect(limitsFor('TerminateInstances')).toEqual({ request: { size: 100, refill: 5 }, resource: { size: 1000, refill: 20 } });
    expect(limitsFor('CreateTags')).toEqual({ request: { size: 100, refill: 10 }, resource: undefined });
  });

  it("give an action without figures of its own its category's: reads 100 at 20/s, writes 50 at 5/s", () => {
    expect(ACTION_LIMITS.DescribeAvailabilityZones).toBeUndefined();
    expect(limitsFor('DescribeAvailabilityZones').request).toEqual(CATEGORY_LIMITS.nonMutating);
    expect(limitsFor('RebootInstances').request).toEqual(CATEGORY_LIMITS.mutating);
  });

  it('let a configured bucket replace one of the defaults, keeping the other', () => {
    expect(limitsFor('RunInstances', { RunInstances: { request: { size: 1, refill: 0 } } })).toEqual({ request: { size: 1, refill: 0 }, resource: { size: 1000, refill: 2 } });
  });
});
