import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createLogger } from '../../src/log.js';
import { MachineStore } from '../../src/machines/store.js';
import { LeaseHandout } from '../../src/pool/lease-handout.js';
import { waitFor } from '../helpers/wait-for.js';

interface LogLine {
  level: number;
  msg: string;
  pool?: string;
  waiters?: number;
  error?: string;
}

let redis: Redis;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await redis.quit();
});

describe('LeaseHandout on a failing Redis', () => {
  it('logs a failed lease attempt with the pool and the requests it holds up, and serves them once Redis answers again', async () => {
    const prefix = `{vmpool-test-${randomBytes(4).toString('hex')}}`;
    const store = new MachineStore(redis, prefix);
    const lines: LogLine[] = [];
    const logger = createLogger({ level: 'info', pretty: false, destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) } });
    const handout = new LeaseHandout(store, Date.now, undefined, logger);
    // A real Redis error inside the lease script: the pool's ready index is not a sorted set.
    await redis.set(`${prefix}:state:small:ready`, 'not a sorted set');
    const answers = [handout.wait('small', Date.now() + 30_000), handout.wait('small', Date.now() + 30_000)];
    const failed = await waitFor(() => lines.find((l) => l.level === 50), { what: 'the failed lease attempt logged' });
    expect(failed).toMatchObject({ pool: 'small', waiters: 2, error: expect.stringContaining('WRONGTYPE') as string });
    expect(failed.msg).toContain('pool small');
    // Said once per failing spell, not once per retry.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(lines.filter((l) => l.level === 50)).toHaveLength(1);

    // Redis answers again and a machine becomes ready: the waiting requests are still served.
    await redis.del(`${prefix}:state:small:ready`);
    for (const id of ['m-1', 'm-2']) {
      await store.create({ id, pool: 'small', zone: 'sim/zone-a', instanceType: 't3.small', imageId: 'ami-1' }, { warm: 5, max: 5 }, Date.now());
      for (const to of ['launching', 'booting', 'preparing', 'ready'] as const) expect((await store.transition(id, to, Date.now())).ok).toBe(true);
    }
    expect((await Promise.all(answers)).map((m) => m?.id).sort()).toEqual(['m-1', 'm-2']);
    await waitFor(() => lines.some((l) => l.level === 30 && l.msg.includes('succeed again')), { what: 'the recovery logged' });
  });
});
