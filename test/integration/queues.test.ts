import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { addFresh, closeQueues, createQueues, requestReconcile, type MachineJob } from '../../src/queues.js';
import { waitFor } from '../helpers/wait-for.js';

let redis: Redis;
let queue: Queue<MachineJob>;
let worker: Worker<MachineJob> | undefined;
let prefix: string;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
});
afterEach(async () => {
  await worker?.close(true);
  await queue.close();
  worker = undefined;
});
afterAll(async () => {
  await redis.quit();
});

function freshQueue(): Queue<MachineJob> {
  prefix = `{vmpool-test-${randomBytes(4).toString('hex')}}`;
  queue = new Queue<MachineJob>('terminate', { connection: redis, prefix });
  return queue;
}

/** A worker that takes jobs by hand (no processing loop, no lock renewal), as a process that dies holding one leaves it. */
function manualWorker(lockDuration: number): Worker<MachineJob> {
  worker = new Worker<MachineJob>('terminate', null, { connection: redis, prefix, lockDuration, autorun: false });
  return worker;
}

describe('addFresh', () => {
  it('adds a job when none exists', async () => {
    const q = freshQueue();
    expect(await addFresh(redis, q, 'terminate', 'm-1')).toBe(true);
    expect(await (await q.getJob('m-1'))?.getState()).toBe('waiting');
  });

  it('leaves a waiting job alone', async () => {
    const q = freshQueue();
    await q.add('terminate', { machineId: 'm-1' }, { jobId: 'm-1' });
    expect(await addFresh(redis, q, 'terminate', 'm-1')).toBe(false);
    expect(await q.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  it('replaces a job that gave up', async () => {
    const q = freshQueue();
    await q.add('terminate', { machineId: 'm-1' }, { jobId: 'm-1' });
    const w = manualWorker(30_000);
    const job = await w.getNextJob('token-1');
    await job.moveToFailed(new Error('cloud refused'), 'token-1');
    expect(await job.getState()).toBe('failed');
    expect(await addFresh(redis, q, 'terminate', 'm-1')).toBe(true);
    expect(await (await q.getJob('m-1'))?.getState()).toBe('waiting');
  });

  it('leaves a job alone while a live worker holds its lock', async () => {
    const q = freshQueue();
    await q.add('terminate', { machineId: 'm-1' }, { jobId: 'm-1' });
    await manualWorker(30_000).getNextJob('token-1');
    expect(await addFresh(redis, q, 'terminate', 'm-1')).toBe(false);
    expect(await (await q.getJob('m-1'))?.getState()).toBe('active');
  });

  it('takes back an active job whose worker died (its lock expired) at once', async () => {
    const q = freshQueue();
    await q.add('terminate', { machineId: 'm-1' }, { jobId: 'm-1' });
    await manualWorker(200).getNextJob('token-1');
    expect(await addFresh(redis, q, 'terminate', 'm-1')).toBe(false);
    await waitFor(async () => (await redis.exists(`${prefix}:terminate:m-1:lock`)) === 0, { what: 'the dead worker’s lock to expire' });
    expect(await (await q.getJob('m-1'))?.getState()).toBe('active');
    expect(await addFresh(redis, q, 'terminate', 'm-1')).toBe(true);
    expect(await (await q.getJob('m-1'))?.getState()).toBe('waiting');
  });
});

describe('requestReconcile', () => {
  it('makes one run of a burst of asks at once, and one more at the end of the throttle for the asks it held back', async () => {
    const queues = createQueues(redis, `{vmpool-test-${randomBytes(4).toString('hex')}}`);
    try {
      for (let i = 0; i < 5; i++) await requestReconcile(queues, 'small');
      expect(await queues.reconcile.getWaitingCount()).toBe(1);
      // Not dropped: the run already asked for may have read the pool before the events held back.
      await waitFor(async () => (await queues.reconcile.getWaitingCount()) === 2, { what: 'the held-back asks to be made, as one' });
    } finally {
      await closeQueues(queues);
    }
  });
});
