import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { withRunLock } from '../../src/pool/run-lock.js';
import { waitFor } from '../helpers/wait-for.js';

let redis: Redis;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await redis.quit();
});

const TTL_MS = 300;
const freshKey = () => `{vmpool-test-${randomBytes(4).toString('hex')}}:lock`;

describe('the run lock', () => {
  it('stays held for a run that lasts many times its time to live, and is free the moment the run ends', async () => {
    const key = freshKey();
    const started = performance.now();
    const rivals: (string | undefined)[] = [];
    const result = await withRunLock(redis, key, TTL_MS, async () => {
      // A rival tries to take the lock until the run has lasted 4 TTLs: every try must be refused.
      await waitFor(
        async () => {
          rivals.push(await withRunLock(redis, key, TTL_MS, () => Promise.resolve('rival')));
          return performance.now() - started > 4 * TTL_MS;
        },
        { everyMs: 20, what: 'the run to outlast its lock’s TTL four times' },
      );
      return 'done';
    });
    expect(result).toBe('done');
    expect(rivals.length).toBeGreaterThan(4);
    expect(rivals.filter((r) => r !== undefined)).toEqual([]);
    expect(await redis.exists(key)).toBe(0);
    expect(await withRunLock(redis, key, TTL_MS, () => Promise.resolve('next'))).toBe('next');
  });

  it('expires soon after its holder is gone without releasing it', async () => {
    const key = freshKey();
    // What a producer killed mid-run leaves behind: a token nobody renews or releases.
    await redis.set(key, 'dead-holder', 'PX', TTL_MS);
    expect(await withRunLock(redis, key, TTL_MS, () => Promise.resolve('too soon'))).toBeUndefined();
    await waitFor(async () => (await redis.exists(key)) === 0, { everyMs: 10, timeoutMs: 10 * TTL_MS, what: 'the abandoned lock to expire' });
    expect(await withRunLock(redis, key, TTL_MS, () => Promise.resolve('taken over'))).toBe('taken over');
  });

  it('does not free a successor’s lock when a run outlived its own', async () => {
    const key = freshKey();
    await withRunLock(redis, key, TTL_MS, async () => {
      // Another process took over (the lock expired while this one stalled): the release must leave its lock alone.
      await redis.set(key, 'successor', 'PX', 60_000);
    });
    expect(await redis.get(key)).toBe('successor');
  });
});
