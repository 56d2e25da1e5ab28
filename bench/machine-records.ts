import type { Redis } from 'ioredis';
import type { Machine } from '../src/machines/machine.js';
import { MachineStore } from '../src/machines/store.js';

/** Every machine record under `prefix`, terminated ones included (kept a day), oldest first. */
export async function machineRecords(redis: Redis, prefix: string): Promise<Machine[]> {
  const ids: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:machine:*`, 'COUNT', 1000);
    ids.push(...keys.map((key) => key.slice(`${prefix}:machine:`.length)));
    cursor = next;
  } while (cursor !== '0');
  const machines = await new MachineStore(redis, prefix).getMany(ids);
  return [...machines.values()].sort((a, b) => a.createdAt - b.createdAt);
}
