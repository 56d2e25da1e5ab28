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

interface LockScripts {
  vmpoolReleaseLock(key: string, token: string): Promise<number>;
}

/**
 * Runs `fn` only if no other process (or call) holds the lock at `key`, and
 * returns its result; returns undefined at once when the lock is taken. The
 * lock expires after `ttlMs` so a process that dies mid-run cannot block the
 * next run forever: `fn` must therefore be safe to overlap a successor that
 * starts after the expiry (every change a compare-and-set).
 */
export async function withRunLock<T>(redis: Redis, key: string, ttlMs: number, fn: () => Promise<T>): Promise<T | undefined> {
  const token = randomUUID();
  if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return undefined;
  try {
    return await fn();
  } finally {
    // A failed release is harmless: the lock expires on its own.
    await scripts(redis)
      .vmpoolReleaseLock(key, token)
      .catch(() => undefined);
  }
}

function scripts(redis: Redis): Redis & LockScripts {
  if (!('vmpoolReleaseLock' in redis)) redis.defineCommand('vmpoolReleaseLock', { numberOfKeys: 1, lua: RELEASE });
  return redis as Redis & LockScripts;
}
