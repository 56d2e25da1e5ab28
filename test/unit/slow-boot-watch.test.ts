import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log.js';
import type { Machine } from '../../src/machines/machine.js';
import { LoopStarvation } from '../../src/boot/loop-starvation.js';
import { watchForSlowBoot, type SlowWatchDeps } from '../../src/boot/zone-report.js';
import { ApiOutages } from '../../src/boot/api-outages.js';

const T0 = 1_800_000_000_000;
const machine: Machine = { id: 'm-1', pool: 'small', zone: 'sim/zone-a', state: 'booting', stateSince: T0, createdAt: T0, launchedAt: T0, instanceType: 't3.small', imageId: 'ami-1' };

/** Log lines, parsed. */
function capture(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', pretty: false, destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { lines, logger };
}

/** The watch's collaborators, recording what it marks and reports; slow after 3 s, lag as `lag()` says. */
function watchDeps(lag: () => number, slowAfter: number | 'too-few-samples' = 3_000) {
  const marked: string[] = [];
  const recorded: string[] = [];
  const { lines, logger } = capture();
  const deps = {
    now: () => Date.now(),
    bootTimes: { slowAfter: () => Promise.resolve(slowAfter === 'too-few-samples' ? undefined : slowAfter), record: () => Promise.resolve() },
    store: { markSlow: (m: { id: string }) => Promise.resolve(marked.push(m.id) > 0), claimOutcome: () => Promise.resolve(true) },
    breaker: { record: (zone: string, outcome: string) => Promise.resolve(void recorded.push(`${zone} ${outcome}`)) },
    counters: { boot: () => Promise.resolve() },
    queues: { reconcile: { add: () => Promise.resolve() } },
    starvation: new LoopStarvation(lag, 500, logger),
  } as unknown as SlowWatchDeps;
  return { deps, marked, recorded, lines, logger };
}

describe('judging a boot slow', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('marks a boot slow once its kind’s slow time has passed, and counts it against the zone', async () => {
    const { deps, marked, recorded, logger } = watchDeps(() => 0);
    await watchForSlowBoot(machine, deps, logger);
    await vi.advanceTimersByTimeAsync(2_999);
    expect(marked).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(marked).toEqual(['m-1']);
    expect(recorded).toEqual(['sim/zone-a slow']);
  });

  it('judges nothing while the kind has too few boots on record', async () => {
    const { deps, marked, logger } = watchDeps(() => 0, 'too-few-samples');
    await watchForSlowBoot(machine, deps, logger);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(marked).toEqual([]);
  });

  it('judges a boot that started before its kind had enough samples once they are on record', async () => {
    const { deps, marked, logger } = watchDeps(() => 0, 'too-few-samples');
    const kind: { slowAfter?: number } = {};
    deps.bootTimes.slowAfter = () => Promise.resolve(kind.slowAfter);
    await watchForSlowBoot(machine, deps, logger);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(marked).toEqual([]);
    kind.slowAfter = 3_000; // more boots of its kind finished meanwhile: this one is already past three times their median
    await vi.advanceTimersByTimeAsync(5_000);
    expect(marked).toEqual(['m-1']);
  });

  it('does not judge a boot slow while the booter’s own event loop is starved, logging once when it starts and stops skipping', async () => {
    let lag = 2_000;
    const { deps, marked, recorded, lines, logger } = watchDeps(() => lag);
    await watchForSlowBoot(machine, deps, logger);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(marked).toEqual([]);
    expect(lines.filter((l) => String(l.msg).startsWith('event loop starved'))).toHaveLength(1);

    lag = 10;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(marked).toEqual(['m-1']);
    expect(recorded).toEqual(['sim/zone-a slow']);
    expect(lines.filter((l) => String(l.msg).startsWith('event loop recovered'))).toHaveLength(1);
  });

  it('judges nothing while the provider’s DescribeInstances fails, and leaves the outage out of the boot’s time', async () => {
    const { deps, marked, recorded, logger } = watchDeps(() => 0);
    const outages = new ApiOutages(() => Date.now());
    outages.failed('sim', T0 + 1_000);
    await watchForSlowBoot(machine, { ...deps, outages }, logger);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(marked).toEqual([]);

    outages.answered('sim'); // at T0 + 20 s: 19 s of outage, 1 s of the boot's own time
    await vi.advanceTimersByTimeAsync(1_999);
    expect(marked).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(marked).toEqual(['m-1']);
    expect(recorded).toEqual(['sim/zone-a slow']);
  });

  it('ignores outages of another provider', async () => {
    const { deps, marked, logger } = watchDeps(() => 0);
    const outages = new ApiOutages(() => Date.now());
    outages.failed('aws-east', T0);
    await watchForSlowBoot(machine, { ...deps, outages }, logger);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(marked).toEqual(['m-1']);
  });

  it('stops watching when cancelled (SSH answered): prepare is never judged slow', async () => {
    const { deps, marked, logger } = watchDeps(() => 0);
    const stop = await watchForSlowBoot(machine, deps, logger);
    await vi.advanceTimersByTimeAsync(1_000);
    stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(marked).toEqual([]);
  });
});
