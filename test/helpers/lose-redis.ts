import type { Redis } from 'ioredis';

/**
 * What FLUSHALL does to vmpool, confined to one test's keys (the run's
 * redis-server is shared by every test file). Returns how many keys went.
 */
export async function loseEverything(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) deleted += await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}
