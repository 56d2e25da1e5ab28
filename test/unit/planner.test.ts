import { describe, expect, it } from 'vitest';
import { STATES } from '../../src/machines/machine.js';
import type { CountKey } from '../../src/machines/store.js';
import { launchDeficit, unresolvedByZone } from '../../src/pool/planner.js';

const totals = (some: Partial<Record<CountKey, number>>) =>
  ({ ...Object.fromEntries([...STATES, 'slow'].map((s) => [s, 0])), ...some }) as Record<CountKey, number>;

describe('launchDeficit', () => {
  it('launches the gap to the warm target from an empty pool', () => {
    expect(launchDeficit({ warm: 3, max: 10 }, totals({}))).toBe(3);
  });

  it('counts machines on their way to ready, so a slow boot is not launched twice', () => {
    expect(launchDeficit({ warm: 3, max: 10 }, totals({ requested: 1, launching: 1, booting: 1 }))).toBe(0);
    expect(launchDeficit({ warm: 3, max: 10 }, totals({ preparing: 1, ready: 1 }))).toBe(1);
  });

  it('replaces leased machines while below max', () => {
    expect(launchDeficit({ warm: 3, max: 10 }, totals({ ready: 1, leased: 5 }))).toBe(2);
  });

  it('never exceeds max, counting leased machines', () => {
    expect(launchDeficit({ warm: 3, max: 4 }, totals({ ready: 1, leased: 2 }))).toBe(1);
    expect(launchDeficit({ warm: 3, max: 4 }, totals({ leased: 4 }))).toBe(0);
  });

  it('does not count machines on their way out', () => {
    expect(launchDeficit({ warm: 2, max: 4 }, totals({ failed: 3, terminating: 3 }))).toBe(2);
  });

  it('replaces boots judged slow, but still counts them against max', () => {
    expect(launchDeficit({ warm: 3, max: 10 }, totals({ booting: 2, ready: 1, slow: 2 }))).toBe(2);
    expect(launchDeficit({ warm: 3, max: 4 }, totals({ booting: 2, ready: 1, slow: 2 }))).toBe(1);
  });

  it('never returns a negative number above target', () => {
    expect(launchDeficit({ warm: 1, max: 4 }, totals({ ready: 3 }))).toBe(0);
  });
});

describe('unresolvedByZone', () => {
  it('counts machines whose outcome may still be to come, per zone, over every pool given', () => {
    const small = { 'sim/zone-a': { requested: 1, launching: 1, booting: 2, preparing: 1, ready: 5, leased: 3 }, 'sim/zone-b': { booting: 1 } };
    const large = { 'sim/zone-b': { launching: 2, terminating: 1, terminated: 7 } };
    expect(unresolvedByZone([small, large])).toEqual(new Map([['sim/zone-a', 5], ['sim/zone-b', 3]]));
  });

  it('counts failed machines until they are terminated: a booter reports a failure just after recording it', () => {
    expect(unresolvedByZone([{ 'sim/zone-b': { booting: 1, failed: 2 } }])).toEqual(new Map([['sim/zone-b', 3]]));
  });

  it('leaves out slow boots: their failure is already counted against the zone', () => {
    expect(unresolvedByZone([{ 'sim/zone-b': { booting: 3, slow: 2 } }])).toEqual(new Map([['sim/zone-b', 1]]));
  });
});
