import { Redis } from 'ioredis';
import { inject } from 'vitest';
import type { Machine } from '../../src/machines/machine.js';
import { MachineStore } from '../../src/machines/store.js';

/**
 * Every machine record under a prefix, terminated ones included (they are
 * kept for a day): what a test counts launches and outcomes from.
 */
export async function allMachines(prefix: string): Promise<Machine[]> {
  const redis = new Redis(inject('redisUrl'));
  try {
    const store = new MachineStore(redis, prefix);
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:machine:*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    const machines = await Promise.all(keys.map((key) => store.get(key.slice(`${prefix}:machine:`.length))));
    return machines.filter((m): m is Machine => m !== undefined).sort((a, b) => a.createdAt - b.createdAt);
  } finally {
    await redis.quit();
  }
}
