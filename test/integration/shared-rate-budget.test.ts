import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Config, ProviderConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { CloudCallCounters, readCloudCalls } from '../../src/providers/cloud-calls.js';
import { Ec2Provider } from '../../src/providers/ec2.js';
import type { ActionLimits } from '../../src/providers/ec2-limits.js';
import type { LaunchRequest } from '../../src/providers/provider.js';
import { RateBudget } from '../../src/providers/rate-budget.js';
import { startSimCloud, type SimCloud } from '../../src/sim/sim-cloud.js';
import { thrown } from '../helpers/sim-ec2.js';
import { testConfig } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';

const logger = createLogger({ level: 'silent', pretty: false });
const cleanups: (() => Promise<unknown> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Buckets = Record<string, Partial<ActionLimits>>;

/** The simulated cloud throttling with `simBuckets`, and the config vmpool's processes share (one Redis prefix). */
async function startCloud(simBuckets: Buckets): Promise<{ config: Readonly<Config>; sim: SimCloud }> {
  const config = testConfig({ sim: { throttling: { enabled: true, actions: simBuckets } } });
  const sim = await startSimCloud({ config: config.sim, logger });
  cleanups.push(() => sim.close());
  return { config, sim };
}

interface VmpoolProcess {
  provider: Ec2Provider;
  calls: CloudCallCounters;
  redis: Redis;
}

/** What one vmpool process builds for the provider (app.ts): its own Redis connection, budget, call counters and SDK client. */
function vmpoolProcess(config: Readonly<Config>, sim: SimCloud, budget: Partial<ProviderConfig['rateBudget']>, maxAttempts = 5): VmpoolProcess {
  const redis = new Redis(inject('redisUrl'));
  cleanups.push(() => redis.quit());
  const base = config.providers[0]!;
  const providerConfig: ProviderConfig = { ...base, endpoint: sim.endpoint, maxAttempts, rateBudget: { ...base.rateBudget, ...budget } };
  const calls = new CloudCallCounters(redis, config.redis.prefix);
  cleanups.push(() => calls.close());
  const provider = new Ec2Provider(providerConfig, logger, { budget: new RateBudget(redis, config.redis.prefix, base.name, providerConfig.rateBudget), calls });
  cleanups.push(() => provider.close());
  return { provider, calls, redis };
}

const request = (machineId: string): LaunchRequest => ({ machineId, pool: 'small', zone: 'zone-a', imageId: 'ami-test', instanceType: 't3.small', tags: {} });

function runInstancesReport(sim: SimCloud) {
  return sim.api.report().actions.find((a) => a.action === 'RunInstances') ?? { calls: 0, throttled: 0 };
}

describe('one rate budget shared by every vmpool process', () => {
  it("keeps two processes inside the cloud's bucket together: never more RunInstances a second than its burst plus its refill, and no RequestLimitExceeded", async () => {
    const buckets = { RunInstances: { request: { size: 3, refill: 2 } } };
    const { config, sim } = await startCloud(buckets);
    // Room for a loaded machine's latency: the queue shifts later by it, its pace stays the bucket's.
    const processes = [0, 1].map(() => vmpoolProcess(config, sim, { actions: buckets, margin: 500 }));
    await Promise.all(processes.flatMap((p, i) => Array.from({ length: 6 }, (_, n) => p.provider.launch(request(`m-${i}-${n}`)))));

    expect(runInstancesReport(sim)).toMatchObject({ calls: 12, throttled: 0 });
    // The cloud's own record of when each call arrived: its instances' launch times.
    const arrivals = sim.instances().map((i) => i.launchedAt).sort((a, b) => a - b);
    expect(arrivals).toHaveLength(12);
    const perSecond = new Map<number, number>();
    for (const at of arrivals) {
      const second = Math.floor((at - arrivals[0]!) / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    for (const calls of perSecond.values()) expect(calls).toBeLessThanOrEqual(3 + 2);
  });

  it('holds every process after a throttled answer: the other process calls only once the hold is over, and the answer is counted as throttled', async () => {
    // The account's real bucket is smaller than vmpool was told (another tool spends it, or the figures are wrong).
    const { config, sim } = await startCloud({ RunInstances: { request: { size: 1, refill: 0.5 } } });
    const budget = { actions: { RunInstances: { request: { size: 10, refill: 10 } } }, firstBackoff: 4_000, margin: 0 };
    // One attempt per call, so the throttled answer comes back to the caller.
    const [a, b] = [vmpoolProcess(config, sim, budget, 1), vmpoolProcess(config, sim, budget, 1)];
    await a.provider.launch(request('m-1'));
    expect((await thrown(a.provider.launch(request('m-2')))).name).toBe('RequestLimitExceeded');
    const holdUntil = Number(await b.redis.hget(`${config.redis.prefix}:cloud-budget:${config.providers[0]!.name}:RunInstances`, 'until'));
    expect(holdUntil).toBeGreaterThan(0);

    // The hold (2 to 4 s) outlasts the cloud's refill of one token (2 s): b's call waits it out and goes through.
    const instance = await b.provider.launch(request('m-3'));
    const arrived = sim.instances().find((i) => i.instanceId === instance.instanceId)!.launchedAt;
    expect(arrived).toBeGreaterThanOrEqual(Math.floor(holdUntil));
    expect(runInstancesReport(sim)).toMatchObject({ calls: 3, throttled: 1 });

    await a.calls.flush();
    await b.calls.flush();
    const rows = await readCloudCalls(a.redis, config.redis.prefix);
    const count = (result: string) => rows.filter((r) => r.action === 'RunInstances' && r.result === result).reduce((n, r) => n + r.value, 0);
    expect([count('ok'), count('throttled')]).toEqual([2, 1]);
    expect(rows.every((r) => r.provider === config.providers[0]!.name)).toBe(true);
  });

  it('writes the counts to Redis on its own about once a second, whatever the number of calls', async () => {
    const { config, sim } = await startCloud({});
    const p = vmpoolProcess(config, sim, {});
    await p.provider.describe(['i-00000000000000001']);
    await waitFor(async () => (await readCloudCalls(p.redis, config.redis.prefix)).some((r) => r.action === 'DescribeInstances' && r.result === 'ok' && r.value === 1), { what: 'the DescribeInstances count in Redis' });
  });
});
