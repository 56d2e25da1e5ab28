import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createLogger } from '../../src/log.js';
import { MachineStore, totalsByState } from '../../src/machines/store.js';
import type { Provider, TagMatch, TerminateResult } from '../../src/providers/provider.js';
import { sweepTerminations, type TerminateDeps } from '../../src/pool/terminate.js';
import { createQueues, closeQueues, type Queues } from '../../src/queues.js';
import { testConfig } from '../helpers/test-config.js';
import { Ec2Provider } from '../../src/providers/ec2.js';
import { TAGS } from '../../src/providers/provider.js';
import { startSimCloud } from '../../src/sim/sim-cloud.js';

let redis: Redis;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await redis.quit();
});

/** A cloud's answer that confirms `ids`. */
const confirming = (ids: readonly string[]): TerminateResult => ({ confirmed: new Set(ids), notFound: new Set() });

/**
 * A cloud that answers each TerminateInstances as the test says (confirming
 * every id by default), finds an instance for every machine looked up by tag
 * unless `found: false`, and records every call.
 */
function scriptedCloud(answers: ((ids: readonly string[]) => Promise<TerminateResult>)[], { found = true } = {}) {
  const terminateCalls: string[][] = [];
  const lookups: Record<string, TagMatch>[] = [];
  const provider = {
    name: 'sim',
    terminate: (ids: readonly string[]) => {
      terminateCalls.push([...ids]);
      return (answers.shift() ?? ((all) => Promise.resolve(confirming(all))))(ids);
    },
    listByTags: (tags: Readonly<Record<string, TagMatch>>) => {
      lookups.push({ ...tags });
      const machineIds = found ? [tags['vmpool:machine-id'] ?? []].flat() : [];
      return Promise.resolve(machineIds.map((id) => ({ instanceId: `i-found-${id}`, tags: { 'vmpool:machine-id': id } })));
    },
  } as unknown as Provider;
  return { provider, terminateCalls, lookups };
}

async function withStore(run: (deps: TerminateDeps & { queues: Queues; prefix: string; pool: string }, store: MachineStore) => Promise<void>, provider: Provider): Promise<void> {
  const config = testConfig();
  const store = new MachineStore(redis, config.redis.prefix);
  const queues = createQueues(redis, config.redis.prefix);
  try {
    await run({ config, pool: config.pools[0]!.name, prefix: config.redis.prefix, store, queues, providers: new Map([['sim', provider]]), logger: createLogger({ level: 'silent', pretty: false }), now: Date.now }, store);
  } finally {
    await closeQueues(queues);
  }
}

/** A machine of the default pool marked terminating, with its instance id (launched now) recorded unless `instanceId` is null. */
async function terminating(store: MachineStore, pool: string, id: string, instanceId: string | null): Promise<void> {
  await store.create({ id, pool, zone: 'sim/zone-a', instanceType: 't3.small', imageId: 'ami-1' }, { warm: 100, max: 100 }, Date.now());
  await store.transition(id, 'launching', Date.now());
  if (instanceId) await store.transition(id, 'booting', Date.now(), { instanceId, launchedAt: Date.now() });
  expect((await store.transition(id, 'terminating', Date.now())).ok).toBe(true);
}

describe('termination sweep', () => {
  it('ends every machine marked terminating with one TerminateInstances call, finding by tag (in one lookup) the instances whose ids were never recorded', async () => {
    const cloud = scriptedCloud([]);
    await withStore(async (deps, store) => {
      const { pool } = deps;
      for (let i = 0; i < 20; i++) await terminating(store, pool, `m-${i}`, `i-${i}`);
      await terminating(store, pool, 'm-lost', null);
      await terminating(store, pool, 'm-lost-2', null);
      expect(await sweepTerminations(deps)).toEqual({ terminated: 22, unconfirmed: 0 });
      expect(cloud.terminateCalls).toHaveLength(1);
      expect(cloud.terminateCalls[0]).toHaveLength(22);
      expect(cloud.terminateCalls[0]).toEqual(expect.arrayContaining(['i-found-m-lost', 'i-found-m-lost-2']));
      expect(cloud.lookups).toEqual([{ 'vmpool:machine-id': ['m-lost', 'm-lost-2'] }]);
      // The store counts no terminated machines (their records expire): every record says it, and none is left terminating.
      expect(totalsByState(await store.counts(pool))).toMatchObject({ terminating: 0 });
      const ids = [...Array.from({ length: 20 }, (_, i) => `m-${i}`), 'm-lost', 'm-lost-2'];
      expect([...(await store.getMany(ids)).values()].map((m) => m.state)).toEqual(Array<string>(22).fill('terminated'));
      expect(await store.listTerminating(100)).toEqual([]);
      expect(await sweepTerminations(deps)).toEqual({ terminated: 0, unconfirmed: 0 });
    }, cloud.provider);
  });

  it('leaves machines the cloud did not confirm, or could not be asked about, terminating for the next sweep', async () => {
    const cloud = scriptedCloud([
      () => Promise.reject(Object.assign(new Error('We encountered an internal error'), { name: 'InternalError' })),
      (ids) => Promise.resolve(confirming(ids.filter((id) => id !== 'i-2'))),
    ]);
    await withStore(async (deps, store) => {
      const { pool } = deps;
      for (let i = 0; i < 3; i++) await terminating(store, pool, `m-${i}`, `i-${i}`);
      expect(await sweepTerminations(deps)).toEqual({ terminated: 0, unconfirmed: 3 });
      expect(totalsByState(await store.counts(pool)).terminating).toBe(3);
      expect(await sweepTerminations(deps)).toEqual({ terminated: 2, unconfirmed: 1 });
      expect((await store.get('m-2'))?.state).toBe('terminating');
      expect(await sweepTerminations(deps)).toEqual({ terminated: 1, unconfirmed: 0 });
      // Each sweep tried each machine once, however many passes it made.
      expect(cloud.terminateCalls).toEqual([['i-0', 'i-1', 'i-2'], ['i-0', 'i-1', 'i-2'], ['i-2']]);
    }, cloud.provider);
  });

  it('ends a machine of a pool since removed from the config, and one marked before the index across pools existed once the reaper indexes it', async () => {
    const cloud = scriptedCloud([]);
    await withStore(async (deps, store) => {
      await terminating(store, 'retired-pool', 'm-retired', 'i-retired');
      await terminating(store, deps.pool, 'm-old', 'i-old');
      // What an older vmpool left: the machine in its pool's index only. The reaper indexes it once it is overdue.
      await redis.zrem(`${deps.prefix}:terminating`, 'm-old');
      expect(await sweepTerminations(deps)).toEqual({ terminated: 1, unconfirmed: 0 });
      expect((await store.get('m-old'))?.state).toBe('terminating');
      await store.indexTerminating((await store.get('m-old'))!);
      expect(await sweepTerminations(deps)).toEqual({ terminated: 1, unconfirmed: 0 });
      expect(cloud.terminateCalls).toEqual([['i-retired'], ['i-old']]);
      expect([(await store.get('m-retired'))?.state, (await store.get('m-old'))?.state]).toEqual(['terminated', 'terminated']);
      expect(await redis.zcard(`${deps.prefix}:terminating`)).toBe(0);
    }, cloud.provider);
  });

  it('takes machines marked while it runs in a further pass', async () => {
    let mark: (() => Promise<void>) | undefined;
    const cloud = scriptedCloud([
      async (ids) => {
        await mark?.();
        return confirming(ids);
      },
    ]);
    await withStore(async (deps, store) => {
      const { pool } = deps;
      await terminating(store, pool, 'm-first', 'i-first');
      mark = () => terminating(store, pool, 'm-later', 'i-later');
      expect(await sweepTerminations(deps)).toEqual({ terminated: 2, unconfirmed: 0 });
      expect(cloud.terminateCalls).toEqual([['i-first'], ['i-later']]);
    }, cloud.provider);
  });

  it('under a steady stream of terminations, stops after a bounded number of passes and asks for the next sweep', async () => {
    let next = 0;
    let mark: (() => Promise<void>) | undefined;
    const cloud = scriptedCloud(
      Array.from({ length: 100 }, () => async (ids: readonly string[]) => {
        await mark?.();
        return confirming(ids);
      }),
    );
    await withStore(async (deps, store) => {
      const { pool } = deps;
      mark = () => terminating(store, pool, `m-${++next}`, `i-${next}`);
      await terminating(store, pool, 'm-0', 'i-0');
      const result = await sweepTerminations(deps);
      expect(result.unconfirmed).toBe(0);
      expect(result.terminated).toBe(cloud.terminateCalls.length);
      expect(cloud.terminateCalls.length).toBeLessThan(100);
      // The machine marked by its last pass is left to the sweep it asked for.
      expect(totalsByState(await store.counts(pool)).terminating).toBe(1);
      expect(await deps.queues.terminate.count()).toBe(1);
    }, cloud.provider);
  });

  it('keeps a machine terminating while the cloud does not know its young instance, and closes it once the launch is older than the consistency grace', async () => {
    const unknown = (ids: readonly string[]) => Promise.resolve<TerminateResult>({ confirmed: new Set(), notFound: new Set(ids) });
    const cloud = scriptedCloud([unknown, unknown]);
    await withStore(async (deps, store) => {
      await terminating(store, deps.pool, 'm-new', 'i-new');
      // Right after a launch, EC2's "does not exist" may only mean "not visible yet".
      expect(await sweepTerminations(deps)).toEqual({ terminated: 0, unconfirmed: 1 });
      expect((await store.get('m-new'))?.state).toBe('terminating');
      const pastGrace = { ...deps, now: () => Date.now() + deps.config.reaper.consistencyGrace + 1_000 };
      expect(await sweepTerminations(pastGrace)).toEqual({ terminated: 1, unconfirmed: 0 });
      expect((await store.get('m-new'))?.state).toBe('terminated');
      expect(cloud.terminateCalls).toEqual([['i-new'], ['i-new']]);
    }, cloud.provider);
  });

  it('keeps a machine whose instance id was never recorded terminating while a tag lookup finds nothing, until the consistency grace has passed', async () => {
    const cloud = scriptedCloud([], { found: false });
    await withStore(async (deps, store) => {
      await terminating(store, deps.pool, 'm-lost', null);
      // A launch whose answer was lost may have made an instance the cloud does not list yet.
      expect(await sweepTerminations(deps)).toEqual({ terminated: 0, unconfirmed: 1 });
      expect((await store.get('m-lost'))?.state).toBe('terminating');
      const pastGrace = { ...deps, now: () => Date.now() + deps.config.reaper.consistencyGrace + 1_000 };
      expect(await sweepTerminations(pastGrace)).toEqual({ terminated: 1, unconfirmed: 0 });
      expect((await store.get('m-lost'))?.state).toBe('terminated');
      expect(cloud.terminateCalls).toEqual([]);
      expect(cloud.lookups).toEqual([{ [TAGS.machineId]: ['m-lost'] }, { [TAGS.machineId]: ['m-lost'] }]);
    }, cloud.provider);
  });

  it('under eventual consistency, closes a record only once the simulated cloud confirms its instance is shutting down', async () => {
    const config = testConfig();
    const clock = { offset: 0 };
    const logger = createLogger({ level: 'silent', pretty: false });
    const sim = await startSimCloud({ config: { ...config.sim, consistency: { delay: { minMs: 60_000, maxMs: 60_000 } } }, logger, now: () => Date.now() + clock.offset });
    const provider = new Ec2Provider({ ...config.providers[0]!, endpoint: sim.endpoint }, logger);
    try {
      await withStore(async (deps, store) => {
        const instance = await provider.launch({ machineId: 'm-1', pool: deps.pool, zone: 'zone-a', imageId: 'ami-test', instanceType: 't3.small', tags: {} });
        await store.create({ id: 'm-1', pool: deps.pool, zone: 'sim/zone-a', instanceType: 't3.small', imageId: 'ami-test' }, { warm: 100, max: 100 }, Date.now());
        await store.transition('m-1', 'launching', Date.now());
        await store.transition('m-1', 'booting', Date.now(), { instanceId: instance.instanceId, launchedAt: instance.launchedAt });
        await store.transition('m-1', 'terminating', Date.now());
        const simState = () => sim.instances().find((i) => i.instanceId === instance.instanceId)?.state;
        // The cloud does not know the instance yet: the record stays, and so does the instance.
        expect(await sweepTerminations(deps)).toEqual({ terminated: 0, unconfirmed: 1 });
        expect((await store.get('m-1'))?.state).toBe('terminating');
        expect(simState()).not.toMatch(/shutting-down|terminated/);
        clock.offset += 60_000;
        expect(await sweepTerminations(deps)).toEqual({ terminated: 1, unconfirmed: 0 });
        expect((await store.get('m-1'))?.state).toBe('terminated');
        expect(simState()).toMatch(/shutting-down|terminated/);
      }, provider);
    } finally {
      provider.close();
      await sim.close();
    }
  });
});
