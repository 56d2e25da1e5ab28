import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../src/config.js';
import { classify, isCapacityError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { Ec2Provider } from '../../src/providers/ec2.js';
import type { LaunchRequest } from '../../src/providers/provider.js';
import { startSimCloud, type SimCloud } from '../../src/sim/sim-cloud.js';
import { thrown } from '../helpers/sim-ec2.js';
import { testConfig } from '../helpers/test-config.js';

const logger = createLogger({ level: 'silent', pretty: false });
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The provider as vmpool builds it (its own SDK client and retry strategy), against a sim with `sim` overrides. */
async function start(maxAttempts: number, sim: Record<string, unknown> = {}): Promise<{ cloud: SimCloud; provider: Ec2Provider }> {
  const config = testConfig({ sim });
  const cloud = await startSimCloud({ config: config.sim, logger });
  cleanups.push(() => cloud.close());
  const providerConfig: ProviderConfig = { ...config.providers[0]!, endpoint: cloud.endpoint, maxAttempts };
  const provider = new Ec2Provider(providerConfig, logger);
  cleanups.push(() => provider.close());
  return { cloud, provider };
}

const request = (machineId: string, zone = 'zone-a'): LaunchRequest => ({ machineId, pool: 'small', zone, imageId: 'ami-test', instanceType: 't3.small', tags: {} });

describe('EC2 client retries', () => {
  it('hands a capacity error (HTTP 500) to vmpool after exactly one RunInstances, still classified as a capacity zone fault', async () => {
    const { cloud, provider } = await start(5);
    cloud.faults.set('zone-a', { capacityError: 1 });
    const err = await thrown(provider.launch(request('m-1')));
    expect(err.name).toBe('InsufficientInstanceCapacity');
    expect(err.$metadata?.httpStatusCode).toBe(500);
    expect(cloud.requests().RunInstances).toBe(1);
    expect(isCapacityError(err)).toBe(true);
    expect(classify(err)).toBe('zone-fault');
    // Each launch attempt costs one call, no more.
    await thrown(provider.launch(request('m-2')));
    expect(cloud.requests().RunInstances).toBe(2);
  });

  it('still retries other server errors up to maxAttempts', async () => {
    const { cloud, provider } = await start(3);
    cloud.faults.set('zone-a', { launchError: 1 });
    const err = await thrown(provider.launch(request('m-1')));
    expect(err.name).toBe('InternalError');
    expect(cloud.requests().RunInstances).toBe(3);
  });

  it('still retries RequestLimitExceeded until the bucket lets the call through', async () => {
    const { cloud, provider } = await start(8, { throttling: { enabled: true, actions: { RunInstances: { request: { size: 1, refill: 5 } } } } });
    for (const id of ['m-1', 'm-2', 'm-3']) await provider.launch(request(id));
    expect(cloud.instances()).toHaveLength(3);
    const run = cloud.api.report().actions.find((a) => a.action === 'RunInstances')!;
    expect(run.throttled).toBeGreaterThan(0);
    expect(run.calls).toBe(3 + run.throttled);
  });
});
