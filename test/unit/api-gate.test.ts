import { describe, expect, it } from 'vitest';
import { answer, call } from '../helpers/gate-answers.js';
import { ApiGate, type ThrottlingOptions } from '../../src/sim/api-gate.js';

const T0 = 1_700_000_000_000;

function setup(throttling: ThrottlingOptions = { enabled: true }) {
  const clock = { now: T0 };
  return { clock, gate: new ApiGate(throttling, () => clock.now) };
}


describe('ApiGate', () => {
  it("throttles RunInstances after EC2's burst of 5 with RequestLimitExceeded (503), and admits one more per 500 ms", () => {
    const { gate, clock } = setup();
    const answers = Array.from({ length: 6 }, () => answer(gate, call('RunInstances', { resourceCost: 1 })));
    expect(answers).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'RequestLimitExceeded 503']);
    clock.now += 500;
    expect(answer(gate, call('RunInstances', { resourceCost: 1 }))).toBe('ok');
    expect(answer(gate, call('RunInstances', { resourceCost: 1 }))).toBe('RequestLimitExceeded 503');
  });

  it('keeps one bucket per action: an empty RunInstances bucket does not throttle DescribeInstances', () => {
    const { gate } = setup({ enabled: true, actions: { RunInstances: { request: { size: 1, refill: 0 } } } });
    expect(answer(gate, call('RunInstances'))).toBe('ok');
    expect(answer(gate, call('RunInstances'))).toBe('RequestLimitExceeded 503');
    expect(answer(gate, call('DescribeInstances'))).toBe('ok');
  });

  it('charges RunInstances one resource token per instance and refuses a launch the resource bucket cannot cover', () => {
    const { gate } = setup({ enabled: true, actions: { RunInstances: { resource: { size: 5, refill: 0 } } } });
    expect(answer(gate, call('RunInstances', { resourceCost: 4 }))).toBe('ok');
    expect(answer(gate, call('RunInstances', { resourceCost: 2 }))).toBe('RequestLimitExceeded 503');
    expect(answer(gate, call('RunInstances', { resourceCost: 1 }))).toBe('ok');
  });

  it('draws unfiltered reads from the smaller unfiltered bucket (50), filtered ones from the action bucket (100)', () => {
    const { gate } = setup();
    const unfiltered = Array.from({ length: 51 }, () => answer(gate, call('DescribeInstances', { unfiltered: true })));
    expect(unfiltered.filter((a) => a === 'ok')).toHaveLength(50);
    expect(answer(gate, call('DescribeInstances'))).toBe('ok');
  });

  it('never throttles when throttling is off', () => {
    const { gate } = setup({ enabled: false });
    expect(Array.from({ length: 20 }, () => answer(gate, call('RunInstances', { resourceCost: 500 }))).every((a) => a === 'ok')).toBe(true);
  });

  it('answers a denied action UnauthorizedOperation (403), DryRun or not, until it is allowed again', () => {
    const { gate } = setup({ enabled: false });
    gate.deny('TerminateInstances');
    expect(answer(gate, call('TerminateInstances'))).toBe('UnauthorizedOperation 403');
    expect(answer(gate, call('TerminateInstances', { dryRun: true }))).toBe('UnauthorizedOperation 403');
    expect(answer(gate, call('RunInstances'))).toBe('ok');
    gate.allow('TerminateInstances');
    expect(answer(gate, call('TerminateInstances'))).toBe('ok');
    gate.deny('RunInstances');
    gate.deny('CreateTags');
    gate.allow();
    expect(gate.report().denied).toEqual([]);
  });

  it('answers an allowed DryRun with DryRunOperation (412) and spends no resource tokens on it', () => {
    const { gate } = setup({ enabled: true, actions: { RunInstances: { resource: { size: 2, refill: 0 } } } });
    expect(answer(gate, call('RunInstances', { dryRun: true, resourceCost: 2 }))).toBe('DryRunOperation 412');
    expect(answer(gate, call('RunInstances', { resourceCost: 2 }))).toBe('ok');
  });

  it('reports per action its calls, throttled, denied and DryRun answers and its bucket levels', () => {
    const { gate, clock } = setup({ enabled: true, actions: { RunInstances: { request: { size: 2, refill: 1 } } } });
    for (let i = 0; i < 3; i++) answer(gate, call('RunInstances', { resourceCost: 1 }));
    gate.deny('CreateTags');
    answer(gate, call('CreateTags'));
    answer(gate, call('DescribeInstances', { dryRun: true }));
    clock.now += 250;
    expect(gate.report()).toEqual({
      throttling: true,
      denied: ['CreateTags'],
      actions: [
        { action: 'CreateTags', calls: 1, throttled: 0, denied: 1, dryRuns: 0, buckets: { request: { size: 100, refill: 10, level: 100 } } },
        { action: 'DescribeInstances', calls: 1, throttled: 0, denied: 0, dryRuns: 1, buckets: { request: { size: 100, refill: 20, level: 100 } } },
        {
          action: 'RunInstances',
          calls: 3,
          throttled: 1,
          denied: 0,
          dryRuns: 0,
          buckets: { request: { size: 2, refill: 1, level: 0.25 }, resource: { size: 1000, refill: 2, level: 998.5 } },
        },
      ],
    });
  });
});
