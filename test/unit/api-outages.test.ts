import { describe, expect, it } from 'vitest';
import { ApiOutages } from '../../src/boot/api-outages.js';

describe('ApiOutages: the time a provider’s DescribeInstances was failing', () => {
  it('counts, for a clock started at `since`, only the outage after it, up to now while it lasts', () => {
    const clock = { now: 1_000 };
    const outages = new ApiOutages(() => clock.now);
    outages.failed('sim', 2_000);
    clock.now = 5_000;
    expect(outages.failing('sim')).toBe(true);
    expect(outages.pausedSince('sim', 0)).toBe(3_000);
    expect(outages.pausedSince('sim', 4_000)).toBe(1_000);
    outages.failed('sim', 4_500); // still the same outage
    clock.now = 6_000;
    outages.answered('sim');
    clock.now = 9_000;
    expect(outages.failing('sim')).toBe(false);
    expect(outages.pausedSince('sim', 0)).toBe(4_000);
    expect(outages.pausedSince('sim', 6_000)).toBe(0);
  });

  it('adds up separate outages, and keeps providers apart', () => {
    const clock = { now: 0 };
    const outages = new ApiOutages(() => clock.now);
    outages.failed('sim', 1_000);
    clock.now = 2_000;
    outages.answered('sim');
    outages.failed('sim', 3_000);
    clock.now = 4_500;
    outages.answered('sim');
    expect(outages.pausedSince('sim', 0)).toBe(2_500);
    expect(outages.pausedSince('aws-east', 0)).toBe(0);
    expect(outages.failing('aws-east')).toBe(false);
  });
});
