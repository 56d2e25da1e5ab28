import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log.js';
import { BootDeadlineError, InstanceWatcher } from '../../src/boot/instance-watcher.js';
import type { Instance, Provider } from '../../src/providers/provider.js';

const T0 = 1_800_000_000_000;
const pending: Instance = { instanceId: 'i-0123456789abcdef0', state: 'pending', zone: 'zone-a', instanceType: 't3.small', imageId: 'ami-1', launchedAt: T0, tags: {} };
const serviceUnavailable = () => Object.assign(new Error('ServiceUnavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });

/** A provider whose DescribeInstances answers as `answer` says at each call. */
function provider(answer: { failing: boolean; state: Instance['state'] }): Provider {
  const unused = () => Promise.reject(new Error('not used'));
  return {
    name: 'sim',
    zones: () => ['zone-a'],
    launch: unused,
    terminate: unused,
    listByTags: unused,
    tag: unused,
    describe: () => (answer.failing ? Promise.reject(serviceUnavailable()) : Promise.resolve(new Map([[pending.instanceId, { ...pending, state: answer.state }]]))),
  };
}

let watcher: InstanceWatcher;
beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  watcher = new InstanceWatcher(1_000, createLogger({ level: 'silent', pretty: false }), () => Date.now());
});
afterEach(() => {
  watcher.close();
  vi.useRealTimers();
});

describe('InstanceWatcher under a DescribeInstances outage', () => {
  it('lets no boot deadline pass while describe fails, and moves each deadline by the outage', async () => {
    const answer = { failing: false, state: 'pending' as Instance['state'] };
    const settled = vi.fn();
    void watcher.waitUntilRunning(provider(answer), pending.instanceId, T0 + 10_000).then(settled, settled);
    await vi.advanceTimersByTimeAsync(2_000);
    answer.failing = true; // from the tick at T0 + 3 s
    await vi.advanceTimersByTimeAsync(60_000);
    expect(settled).not.toHaveBeenCalled();
    expect(watcher.outages.failing('sim')).toBe(true);

    answer.failing = false; // answered at the tick at T0 + 63 s: 60 s of outage
    await vi.advanceTimersByTimeAsync(8_000);
    expect(settled).not.toHaveBeenCalled();
    expect(watcher.outages.pausedSince('sim', T0)).toBe(60_000);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(settled).toHaveBeenCalledWith(expect.any(BootDeadlineError));
  });

  it('resolves a boot the moment describe answers again with its instance running', async () => {
    const answer = { failing: true, state: 'running' as Instance['state'] };
    const running = watcher.waitUntilRunning(provider(answer), pending.instanceId, T0 + 5_000);
    await vi.advanceTimersByTimeAsync(30_000);
    answer.failing = false;
    await vi.advanceTimersByTimeAsync(1_000);
    await expect(running).resolves.toMatchObject({ instanceId: pending.instanceId, state: 'running' });
  });
});
