import { describe, expect, it } from 'vitest';
import { drawDelay, parseDelayRange } from '../../src/sim/ec2-consistency.js';

describe('eventual consistency delay', () => {
  it('reads a single delay, a range, and a range whose lower bound borrows the upper unit', () => {
    expect(parseDelayRange('0s')).toEqual({ minMs: 0, maxMs: 0 });
    expect(parseDelayRange('2s')).toEqual({ minMs: 2000, maxMs: 2000 });
    expect(parseDelayRange('0-2s')).toEqual({ minMs: 0, maxMs: 2000 });
    expect(parseDelayRange('500ms-2s')).toEqual({ minMs: 500, maxMs: 2000 });
    expect(parseDelayRange('1.5-2s')).toEqual({ minMs: 1500, maxMs: 2000 });
  });

  it('refuses reversed bounds and anything else', () => {
    for (const bad of ['3s-1s', '2', 'soon', '1-2-3s', '']) expect(parseDelayRange(bad), bad).toBeUndefined();
  });

  it('draws uniformly within the range, and draws nothing when strongly consistent', () => {
    expect(drawDelay({ minMs: 500, maxMs: 2000 }, () => 0)).toBe(500);
    expect(drawDelay({ minMs: 500, maxMs: 2000 }, () => 0.999_999)).toBe(2000);
    let draws = 0;
    expect(drawDelay({ minMs: 0, maxMs: 0 }, () => (draws++, 0.5))).toBe(0);
    expect(draws).toBe(0);
  });
});
