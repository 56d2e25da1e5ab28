import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log.js';
import { LocalBreakerStrategy } from '../../src/zones/local-breaker.js';
import { noBreakerStrategy } from '../../src/zones/zone-strategy.js';

const ZONE = 'sim/zone-b';
const settings = { window: 60_000, minOutcomes: 5, failureRate: 0.5, openFor: 10_000 };
const capacityError = () => Object.assign(new Error('no room'), { name: 'InsufficientInstanceCapacity', $metadata: { httpStatusCode: 400 } });
const throttled = () => Object.assign(new Error('slow down'), { name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } });

let strategies: LocalBreakerStrategy[] = [];
function localBreaker(): LocalBreakerStrategy {
  const strategy = new LocalBreakerStrategy(settings, createLogger({ level: 'silent', pretty: false }));
  strategies.push(strategy);
  return strategy;
}

const stateOf = async (strategy: LocalBreakerStrategy) => (await strategy.health([ZONE])).get(ZONE)?.state;

async function launches(strategy: LocalBreakerStrategy, outcomes: ('ok' | 'capacity' | 'throttle')[]): Promise<void> {
  for (const outcome of outcomes) {
    const call = () => (outcome === 'ok' ? Promise.resolve('i-1') : Promise.reject(outcome === 'capacity' ? capacityError() : throttled()));
    await strategy.observeLaunch(ZONE, call).catch(() => undefined);
  }
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  for (const strategy of strategies) strategy.close();
  strategies = [];
  vi.useRealTimers();
});

describe('the local-breaker zone strategy', () => {
  it('opens on minOutcomes launch answers at the failure rate, and only on zone faults', async () => {
    const strategy = localBreaker();
    await launches(strategy, ['ok', 'ok', 'capacity', 'throttle', 'throttle']);
    expect(await stateOf(strategy)).toBe('closed');
    await launches(strategy, ['capacity', 'capacity', 'capacity']);
    expect(await strategy.health([ZONE])).toEqual(new Map([[ZONE, { state: 'open', failureRate: 0.5 }]]));
  });

  it('never opens on boots that fail: it only sees launch calls, and those succeed', async () => {
    const strategy = localBreaker();
    await launches(strategy, Array<'ok'>(20).fill('ok'));
    expect(await stateOf(strategy)).toBe('closed');
  });

  it('still makes a launch planned into an open zone (another producer planned it), without counting it', async () => {
    const strategy = localBreaker();
    await launches(strategy, Array<'capacity'>(5).fill('capacity'));
    const call = vi.fn(() => Promise.resolve('i-2'));
    await expect(strategy.observeLaunch(ZONE, call)).resolves.toBe('i-2');
    expect(call).toHaveBeenCalledOnce();
    expect(await stateOf(strategy)).toBe('open');
  });

  it('grants one trial per half-open period, closes when it succeeds, and lets an unused reservation lapse after openFor', async () => {
    const strategy = localBreaker();
    await launches(strategy, Array<'capacity'>(5).fill('capacity'));
    expect(await strategy.reserveProbe(ZONE, Date.now())).toBe(false);
    vi.advanceTimersByTime(settings.openFor);
    expect(await stateOf(strategy)).toBe('half-open');
    const at = Date.now();
    expect(await strategy.reserveProbe(ZONE, at)).toBe(true);
    expect(await strategy.reserveProbe(ZONE, at + 1)).toBe(false);
    // The trial went to another producer's launch worker: this process may plan one again later.
    expect(await strategy.reserveProbe(ZONE, at + settings.openFor)).toBe(true);
    await launches(strategy, ['ok']);
    expect(await stateOf(strategy)).toBe('closed');
  });

  it('opens again when the trial fails', async () => {
    const strategy = localBreaker();
    await launches(strategy, Array<'capacity'>(5).fill('capacity'));
    vi.advanceTimersByTime(settings.openFor);
    await launches(strategy, ['capacity']);
    expect(await stateOf(strategy)).toBe('open');
  });
});

describe('the no-breaker zone strategy', () => {
  it('reports every zone closed with every instance type, and never grants a probe', async () => {
    const strategy = noBreakerStrategy();
    expect(await strategy.health(['sim/zone-a', ZONE], 0)).toEqual(new Map([['sim/zone-a', { state: 'closed', failureRate: 0 }], [ZONE, { state: 'closed', failureRate: 0 }]]));
    expect(await strategy.available([ZONE], ['t3.small', 't3.medium'])).toEqual(new Map([[ZONE, ['t3.small', 't3.medium']]]));
    expect(await strategy.reserveProbe(ZONE, 0)).toBe(false);
    await expect(strategy.observeLaunch(ZONE, () => Promise.reject(capacityError()))).rejects.toThrow('no room');
  });
});
