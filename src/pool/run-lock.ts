import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Deletes the lock only if it still holds this run's token: a run that
 * outlived its lock must not free the lock of the run that took it over.
 * KEYS[1] lock key
 * ARGV[1] token
 * Returns 1 if this call released it, 0 otherwise.
 */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Extends the lock only while it still holds this run's token.
 * KEYS[1] lock key
 * ARGV[1] token, ARGV[2] new time to live (ms)
 * Returns 1 if extended, 0 if the lock was lost.
 */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

interface LockScripts {
  vmpoolReleaseLock(key: string, token: string): Promise<number>;
  vmpoolRenewLock(key: string, token: string, ttlMs: number): Promise<number>;
}

/**
 * Runs `fn` only if no other process (or call) holds the lock at `key`, and
 * returns its result; returns undefined at once when the lock is taken. The
 * lock is short and renewed every third of `ttlMs` while `fn` runs, so a
 * process that dies mid-run blocks the next run for at most `ttlMs`, however
 * long runs take. A stalled event loop can still let it expire: `fn` must be
 * safe to overlap a successor (every change a compare-and-set).
 */
export async function withRunLock<T>(redis: Redis, key: string, ttlMs: number, fn: () => Promise<T>): Promise<T | undefined> {
  const token = randomUUID();
  if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return undefined;
  // A failed renewal is retried on the next beat; the lock's expiry is the backstop.
  const renewal = setInterval(() => void scripts(redis).vmpoolRenewLock(key, token, ttlMs).catch(() => undefined), Math.ceil(ttlMs / 3));
  try {
    return await fn();
  } finally {
    clearInterval(renewal);
    // A failed release is harmless: the lock expires on its own.
    await scripts(redis)
      .vmpoolReleaseLock(key, token)
      .catch(() => undefined);
  }
}

function scripts(redis: Redis): Redis & LockScripts {
  if (!('vmpoolReleaseLock' in redis)) redis.defineCommand('vmpoolReleaseLock', { numberOfKeys: 1, lua: RELEASE });
  if (!('vmpoolRenewLock' in redis)) redis.defineCommand('vmpoolRenewLock', { numberOfKeys: 1, lua: RENEW });
  return redis as Redis & LockScripts;
}
