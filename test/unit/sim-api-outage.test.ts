import { describe, expect, it } from 'vitest';
import { answer, call } from '../helpers/gate-answers.js';
import { createLogger } from '../../src/log.js';
import { answerApiControl } from '../../src/sim/api-control.js';
import { ApiGate } from '../../src/sim/api-gate.js';


const deps = (gate: ApiGate) => ({ gate, actions: ['RunInstances', 'DescribeInstances', 'TerminateInstances', 'CreateTags'], logger: createLogger({ level: 'silent', pretty: false }) });

describe('an outage of one action of the simulated EC2 API', () => {
  it('answers every request of the action with its 5xx, before throttling and DryRun, until healed; other actions go on', () => {
    const gate = new ApiGate({ enabled: true, actions: { DescribeInstances: { request: { size: 1, refill: 0 } } } });
    gate.fail('DescribeInstances');
    gate.fail('RunInstances', { code: 'InternalError', status: 500 });
    expect([answer(gate, call('DescribeInstances')), answer(gate, call('DescribeInstances', { dryRun: true })), answer(gate, call('RunInstances'))]).toEqual([
      'ServiceUnavailable 503',
      'ServiceUnavailable 503',
      'InternalError 500',
    ]);
    expect(answer(gate, call('TerminateInstances'))).toBe('ok');
    expect(gate.report().failing).toEqual({ DescribeInstances: { code: 'ServiceUnavailable', status: 503 }, RunInstances: { code: 'InternalError', status: 500 } });
    gate.heal('DescribeInstances');
    // No token was spent while it failed.
    expect(answer(gate, call('DescribeInstances'))).toBe('ok');
    gate.heal();
    expect(gate.report().failing).toBeUndefined();
    expect(answer(gate, call('RunInstances'))).toBe('ok');
  });

  it('is set and ended over the control API, which refuses a bad code, status or action naming the field', () => {
    const gate = new ApiGate({ enabled: false });
    const put = (path: string, body: unknown) => answerApiControl(deps(gate), { method: 'PUT', path, body: JSON.stringify(body) });
    expect(put('/v1/sim/api/failing/RunInstances', { code: 'InternalError' })).toMatchObject({ status: 200, body: { failing: { RunInstances: { code: 'InternalError', status: 500 } } } });
    expect(answerApiControl(deps(gate), { method: 'PUT', path: '/v1/sim/api/failing/DescribeInstances', body: '' })).toMatchObject({ status: 200, body: { failing: { DescribeInstances: { code: 'ServiceUnavailable', status: 503 } } } });
    expect(put('/v1/sim/api/failing/RunInstances', { code: 'InsufficientInstanceCapacity' })).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^code: /) as unknown } });
    expect(put('/v1/sim/api/failing/RunInstances', { status: 404 })).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^status: /) as unknown } });
    expect(put('/v1/sim/api/failing/RunInstances', { when: 'now' })).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^when: unknown field/) as unknown } });
    expect(put('/v1/sim/api/failing/StopInstances', {})).toMatchObject({ status: 404, body: { error: 'UnknownAction' } });
    expect(answerApiControl(deps(gate), { method: 'DELETE', path: '/v1/sim/api/failing/RunInstances', body: '' })).toMatchObject({ status: 200 });
    expect(gate.report().failing).toEqual({ DescribeInstances: { code: 'ServiceUnavailable', status: 503 } });
    expect(answerApiControl(deps(gate), { method: 'DELETE', path: '/v1/sim/api/failing', body: '' })).toMatchObject({ status: 200 });
    expect(gate.report().failing).toBeUndefined();
  });
});
