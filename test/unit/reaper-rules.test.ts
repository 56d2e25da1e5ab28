import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machines/machine.js';
import { BOOT_JOB_GRACE_MS, BOOT_MARGIN_MS, LEASE_ANSWER_GRACE_MS, judge, pacedRecycling, recycleBudget, planOrphans, type InstanceFate, type ReaperPool } from '../../src/pool/reaper-rules.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const pool: ReaperPool = {
  bootTimeout: 5 * MIN,
  prepare: { steps: [{ name: 'a', run: 'true', timeout: 2 * MIN, zoneFault: 'timeout' }, { name: 'b', run: 'true', timeout: 3 * MIN, zoneFault: 'timeout' }] },
  maxAge: 12 * HOUR,
  maxLeaseDuration: 6 * HOUR,
  terminateOverdueLeases: false,
};
const reaper = { every: 30_000, stuckAfter: 5 * MIN, consistencyGrace: 5 * MIN };
const T0 = 1_800_000_000_000;

function machine(state: Machine['state'], extra: Partial<Machine> = {}): Machine {
  return { id: 'm-1', pool: 'small', zone: 'sim/zone-a', state, stateSince: T0, createdAt: T0, instanceType: 't3.small', imageId: 'ami-1', ...extra };
}
const RESUME_WINDOW = 2 * MIN;
const at = (now: number, fates?: Map<string, InstanceFate>) => ({ now, reaper, resumeWindow: RESUME_WINDOW, fates });

describe('judge', () => {
  it('fails requested and launching machines only after stuckAfter in that state', () => {
    for (const state of ['requested', 'launching'] as const) {
      expect(judge(machine(state), pool, at(T0 + 5 * MIN))).toBeUndefined();
      expect(judge(machine(state), pool, at(T0 + 5 * MIN + 1))).toEqual({ kind: 'stuck' });
    }
  });

  it('gives a booting machine bootTimeout plus a margin from its launch time', () => {
    const booting = machine('booting', { launchedAt: T0, stateSince: T0 + MIN });
    expect(judge(booting, pool, at(T0 + 5 * MIN + BOOT_MARGIN_MS))).not.toEqual({ kind: 'stuck' });
    expect(judge(booting, pool, at(T0 + 5 * MIN + BOOT_MARGIN_MS + 1))).toEqual({ kind: 'stuck' });
  });

  it('gives a preparing machine the prepare steps’ timeouts on top of its boot deadline', () => {
    const preparing = machine('preparing', { launchedAt: T0 });
    expect(judge(preparing, pool, at(T0 + 10 * MIN + BOOT_MARGIN_MS))).not.toEqual({ kind: 'stuck' });
    expect(judge(preparing, pool, at(T0 + 10 * MIN + BOOT_MARGIN_MS + 1))).toEqual({ kind: 'stuck' });
  });

  it('gives a boot taken over from a dead booter its resume window from the takeover, even past the launch-time deadline', () => {
    const resumedAt = T0 + 4 * MIN;
    const taken = machine('booting', { launchedAt: T0, stateSince: T0, bootResumedAt: resumedAt });
    expect(judge(taken, pool, at(T0 + 5 * MIN + BOOT_MARGIN_MS + 1))).not.toEqual({ kind: 'stuck' });
    expect(judge(taken, pool, at(resumedAt + RESUME_WINDOW + BOOT_MARGIN_MS))).not.toEqual({ kind: 'stuck' });
    expect(judge(taken, pool, at(resumedAt + RESUME_WINDOW + BOOT_MARGIN_MS + 1))).toEqual({ kind: 'stuck' });
    // An early takeover never shortens the launch-time deadline.
    const early = machine('booting', { launchedAt: T0, stateSince: T0, bootResumedAt: T0 + 1 });
    expect(judge(early, pool, at(T0 + 5 * MIN + BOOT_MARGIN_MS))).not.toEqual({ kind: 'stuck' });
  });

  it('judges no boot stuck while its provider’s DescribeInstances fails, and adds the time its booter saw it failing', () => {
    const booting = machine('booting', { launchedAt: T0, stateSince: T0 });
    const late = T0 + 5 * MIN + BOOT_MARGIN_MS + 1;
    expect(judge(booting, pool, { ...at(late), describeAnswered: false })).not.toEqual({ kind: 'stuck' });
    const paused = machine('booting', { launchedAt: T0, stateSince: T0, apiPausedMs: 2 * MIN });
    expect(judge(paused, pool, { ...at(late + 2 * MIN - 1), fates: new Map(), describeAnswered: true })).not.toEqual({ kind: 'stuck' });
    expect(judge(paused, pool, { ...at(late + 2 * MIN), fates: new Map(), describeAnswered: true })).toEqual({ kind: 'stuck' });
  });

  it('checks that a machine booting longer than a short grace still has a boot job, before any deadline', () => {
    for (const state of ['booting', 'preparing'] as const) {
      const m = machine(state, { launchedAt: T0 });
      expect(judge(m, pool, at(T0 + BOOT_JOB_GRACE_MS))).toBeUndefined();
      expect(judge(m, pool, at(T0 + BOOT_JOB_GRACE_MS + 1))).toEqual({ kind: 'check-boot-job' });
    }
  });

  it('takes a lease whose answer never left the api only after the answer grace, and never an answered one', () => {
    const pending = machine('leased', { leasedAt: T0, leaseAnswer: 'pending' });
    expect(judge(pending, pool, at(T0 + LEASE_ANSWER_GRACE_MS))).toBeUndefined();
    expect(judge(pending, pool, at(T0 + LEASE_ANSWER_GRACE_MS + 1))).toEqual({ kind: 'unanswered-lease' });
    expect(judge(machine('leased', { leasedAt: T0 }), pool, at(T0 + LEASE_ANSWER_GRACE_MS + 1))).toBeUndefined();
  });

  it('also gives a preparing machine one agent pull timeout per registry', () => {
    const withAgent: ReaperPool = { ...pool, prepare: { ...pool.prepare, agent: { pullTimeout: MIN, registries: ['primary', 'secondary'] } } };
    const preparing = machine('preparing', { launchedAt: T0 });
    expect(judge(preparing, withAgent, at(T0 + 12 * MIN + BOOT_MARGIN_MS))).not.toEqual({ kind: 'stuck' });
    expect(judge(preparing, withAgent, at(T0 + 12 * MIN + BOOT_MARGIN_MS + 1))).toEqual({ kind: 'stuck' });
  });

  it('restarts terminations of terminating and failed machines after stuckAfter', () => {
    for (const state of ['terminating', 'failed'] as const) {
      expect(judge(machine(state), pool, at(T0 + 5 * MIN))).toBeUndefined();
      expect(judge(machine(state), pool, at(T0 + 6 * MIN))).toEqual({ kind: 'retry-termination' });
    }
  });

  it('recycles a ready machine by its launch time, however recently it became ready', () => {
    const ready = machine('ready', { launchedAt: T0, stateSince: T0 + 12 * HOUR });
    expect(judge(ready, pool, at(T0 + 12 * HOUR))).toBeUndefined();
    expect(judge(ready, pool, at(T0 + 12 * HOUR + 1))).toEqual({ kind: 'too-old' });
  });

  it('never recycles a ready machine without a recorded launch time', () => {
    expect(judge(machine('ready'), pool, at(T0 + 100 * HOUR))).toBeUndefined();
  });

  it('reports a lease past maxLeaseDuration from leasedAt, terminating it only when the pool says so', () => {
    const leased = machine('leased', { launchedAt: T0 - 20 * HOUR, leasedAt: T0 });
    expect(judge(leased, pool, at(T0 + 6 * HOUR))).toBeUndefined();
    expect(judge(leased, pool, at(T0 + 6 * HOUR + 1))).toEqual({ kind: 'overdue-lease', terminate: false });
    expect(judge(leased, { ...pool, terminateOverdueLeases: true }, at(T0 + 6 * HOUR + 1))).toEqual({ kind: 'overdue-lease', terminate: true });
  });

  it('closes machines whose instance ended, before any deadline', () => {
    for (const fate of ['terminated', 'shutting-down'] as const) {
      for (const state of ['booting', 'preparing', 'ready', 'leased'] as const) {
        const m = machine(state, { instanceId: 'i-1', launchedAt: T0, leasedAt: T0 });
        expect(judge(m, pool, at(T0 + 1, new Map([['i-1', fate]])))).toEqual({ kind: 'vanished', fate });
      }
    }
  });

  it('takes an instance the cloud does not know as gone only after the consistency grace', () => {
    const m = machine('booting', { instanceId: 'i-1', launchedAt: T0 });
    const fates = new Map<string, InstanceFate>([['i-1', 'unknown']]);
    expect(judge(m, pool, at(T0 + reaper.consistencyGrace, fates))).not.toMatchObject({ kind: 'vanished' });
    expect(judge(m, pool, at(T0 + reaper.consistencyGrace + 1, fates))).toEqual({ kind: 'vanished', fate: 'unknown' });
  });

  it('closes nothing for a provider that could not be asked', () => {
    const m = machine('ready', { instanceId: 'i-1', launchedAt: T0 });
    expect(judge(m, pool, at(T0 + MIN, undefined))).toBeUndefined();
  });
});

describe('planOrphans', () => {
  it('marks an unknown instance the first time it is seen, and terminates it only once the mark is old enough', () => {
    expect(planOrphans(['i-1'], {}, 1_000, 15_000)).toEqual({ mark: ['i-1'], terminate: [], forget: [] });
    expect(planOrphans(['i-1'], { 'i-1': 1_000 }, 15_999, 15_000)).toEqual({ mark: [], terminate: [], forget: [] });
    expect(planOrphans(['i-1'], { 'i-1': 1_000 }, 16_000, 15_000)).toEqual({ mark: [], terminate: ['i-1'], forget: [] });
  });

  it('forgets the mark of an instance that is known again or gone', () => {
    expect(planOrphans(['i-2'], { 'i-1': 1_000 }, 2_000, 15_000)).toEqual({ mark: ['i-2'], terminate: [], forget: ['i-1'] });
  });
});

describe('paced recycling', () => {
  it('recycles a quarter of a pool’s ready machines per run, at least one', () => {
    expect([0, 1, 2, 4, 5, 8, 20].map(recycleBudget)).toEqual([1, 1, 1, 1, 2, 2, 5]);
  });

  it('takes each pool’s oldest launches first, each pool within its own budget', () => {
    const old = (id: string, pool: string, launchedAt: number) => machine('ready', { id, pool, launchedAt });
    const tooOld = [old('s-3', 'small', 3), old('s-1', 'small', 1), old('s-2', 'small', 2), old('l-1', 'large', 1)];
    const chosen = pacedRecycling(tooOld, new Map([['small', 8], ['large', 1]]));
    expect([...chosen].sort()).toEqual(['l-1', 's-1', 's-2']);
  });
});
