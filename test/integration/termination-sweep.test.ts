import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createLogger } from '../../src/log.js';
import { MachineStore, totalsByState } from '../../src/machines/store.js';
import type { Provider } from '../../src/providers/provider.js';
import { sweepTerminations, type TerminateDeps } from '../../src/pool/terminate.js';
import { createQueues, closeQueues, type Queues } from '../../src/queues.js';
import { testConfig } from '../helpers/test-config.js';

let redis: Redis;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await redis.quit();
});

/** A cloud that answers each TerminateInstances as the test says, and records every call. */
function scriptedCloud(answers: ((ids: readonly string[]) => Promise<Set<string>>)[]) {
  const terminateCalls: string[][] = [];
  const lookups: Record<string, string>[] = [];
  const provider = {
    name: 'sim',
    terminate: (ids: readonly string[]) => {
      terminateCalls.push([...ids]);
      return (answers.shift() ?? ((all) => Promise.resolve(new Set(all))))(ids);
    },
    listByTags: (tags: Readonly<Record<string, string>>) => {
      lookups.push({ ...tags });
      return Promise.resolve([{ instanceId: `i-found-${tags['vmpool:machine-id']}` }]);
    },
  } as unknown as Provider;
  return { provider, terminateCalls, lookups };
}

async function withStore(run: (deps: TerminateDeps & { queues: Queues; prefix: string; pool: string }, store: MachineStore) => Promise<void>, provider: Provider): Promise<void> {
  const config = testConfig();
  const store = new MachineStore(redis, config.redis.prefix);
  const queues = createQueues(redis, config.redis.prefix);
  try {
    await run({ pool: config.pools[0]!.name, prefix: config.redis.prefix, store, queues, providers: new Map([['sim', provider]]), logger: createLogger({ level: 'silent', pretty: false }), now: Date.now }, store);
  } finally {
    await closeQueues(queues);
  }
}

/** A machine of the default pool marked terminating, with its instance id recorded unless `instanceId` is null. */
async function terminating(store: MachineStore, pool: string, id: string, instanceId: string | null): Promise<void> {
  await store.create({ id, pool, zone: 'sim/zone-a', instanceType: 't3.small', imageId: 'ami-1' }, { warm: 100, max: 100 }, Date.now());
  await store.transition(id, 'launching', Date.now());
  if (instanceId) await store.transition(id, 'booting', Date.now(), { instanceId });
  expect((await store.transition(id, 'terminating', Date.now())).ok).toBe(true);
}

describe('termination sweep', () => {
  it('ends every machine marked terminating with one TerminateInstances call, finding by tag an instance whose id was never recorded', async () => {
    const cloud = scriptedCloud([]);
    await withStore(async (deps, store) => {
      const { pool } = deps;
      for (let i = 0; i < 20; i++) await terminating(store, pool, `m-${i}`, `i-${i}`);
      await terminating(store, pool, 'm-lost', null);
      expect(await sweepTerminations(deps)).toEqual({ terminated: 21, unconfirmed: 0 });
      expect(cloud.terminateCalls).toHaveLength(1);
      expect(cloud.terminateCalls[0]).toHaveLength(21);
      expect(cloud.terminateCalls[0]).toContain('i-found-m-lost');
      expect(cloud.lookups).toEqual([{ 'vmpool:machine-id': 'm-lost' }]);
      // The store counts no terminated machines (their records expire): every record says it, and none is left terminating.
      expect(totalsByState(await store.counts(pool))).toMatchObject({ terminating: 0 });
      const ids = [...Array.from({ length: 20 }, (_, i) => `m-${i}`), 'm-lost'];
      expect([...(await store.getMany(ids)).values()].map((m) => m.state)).toEqual(Array<string>(21).fill('terminated'));
      expect(await store.listTerminating(100)).toEqual([]);
      expect(await sweepTerminations(deps)).toEqual({ terminated: 0, unconfirmed: 0 });
    }, cloud.provider);
  });

  it('leaves machines the cloud did not confirm, or could not be asked about, terminating for the next sweep', async () => {
    const cloud = scriptedCloud([
      () => Promise.reject(Object.assign(new Error('We encountered an internal error'), { name: 'InternalError' })),
      (ids) => Promise.resolve(new Set(ids.filter((id) => id !== 'i-2'))),
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
        return new Set(ids);
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
        return new Set(ids);
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
});
