import { describe, expect, it } from 'vitest';
import { poolTarget } from '../../src/pool/target.js';

const at = (iso: string) => Date.parse(iso);
const weekdays = {
  warm: 5,
  max: 8,
  timezone: 'UTC',
  schedule: [
    { cron: '0 7 * * 1-5', warm: 6 },
    { cron: '0 20 * * 1-5', warm: 2 },
    { cron: '0 0 * * 6', warm: 1 },
  ],
};

describe('poolTarget', () => {
  it('is `warm` without a schedule', () => {
    expect(poolTarget({ ...weekdays, schedule: [] }, at('2026-11-18T12:00:00Z'), 0)).toEqual({ target: 5, scheduled: 5, waiting: 0 });
  });

  it('follows the schedule entry that fired most recently', () => {
    expect(poolTarget(weekdays, at('2026-11-18T12:00:00Z'), 0).target).toBe(6); // Wednesday noon
    expect(poolTarget(weekdays, at('2026-11-18T23:00:00Z'), 0).target).toBe(2); // Wednesday night
    expect(poolTarget(weekdays, at('2026-11-21T12:00:00Z'), 0).target).toBe(1); // Saturday
    expect(poolTarget(weekdays, at('2026-11-23T06:59:00Z'), 0).target).toBe(1); // Monday before 7
    expect(poolTarget(weekdays, at('2026-11-23T07:00:00Z'), 0).target).toBe(6);
  });

  it('reads the schedule in the pool time zone', () => {
    const tokyo = { ...weekdays, timezone: 'Asia/Tokyo' };
    // 22:00 UTC on Tuesday is 07:00 on Wednesday in Tokyo.
    expect(poolTarget(tokyo, at('2026-11-17T22:00:00Z'), 0).target).toBe(6);
  });

  it('adds one per waiting lease request, never beyond max', () => {
    expect(poolTarget(weekdays, at('2026-11-18T23:00:00Z'), 3)).toEqual({ target: 5, scheduled: 2, waiting: 3 });
    expect(poolTarget(weekdays, at('2026-11-18T12:00:00Z'), 10).target).toBe(8);
  });
});
