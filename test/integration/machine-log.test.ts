import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { MachineLog, type MachineLogEntry } from '../../src/machines/machine-log.js';

let redis: Redis;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await redis.quit();
});

const entry = (i: number): MachineLogEntry => ({ at: i, name: `step-${i}`, ok: true, ms: 1, exitCode: 0, timedOut: false, output: '' });

describe('MachineLog', () => {
  it('keeps a machine’s entries in order, the newest 100 of a runaway plan, and expires them with the record', async () => {
    const prefix = `{vmpool-test-${randomBytes(4).toString('hex')}}`;
    const log = new MachineLog(redis, prefix, 60_000);
    await log.append('m-1', entry(0));
    await log.append('m-1', entry(1));
    expect((await log.read('m-1')).map((e) => e.name)).toEqual(['step-0', 'step-1']);
    for (let i = 2; i < 105; i++) await log.append('m-1', entry(i));
    const kept = await log.read('m-1');
    expect(kept).toHaveLength(100);
    expect([kept[0]!.name, kept[99]!.name]).toEqual(['step-5', 'step-104']);
    const ttl = await redis.pttl(`${prefix}:machine-log:m-1`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await log.read('m-2')).toEqual([]);
  });
});
