import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import type { Redis } from 'ioredis';

export interface ReconcileJob { pool: string }
export interface MachineJob { machineId: string }
export type ReapJob = Record<string, never>;

export const QUEUE_NAMES = { reconcile: 'reconcile', launch: 'launch', boot: 'boot', terminate: 'terminate', reap: 'reap' } as const;

// Failed jobs are kept a day for post-mortems, bounded so Redis does not grow. Completed ones go at once:
// a machine's record and log (GET /v1/machines/:id) tell its story, and keeping them cost 4 of a job's 45 commands.
const KEEP: DefaultJobOptions = { removeOnComplete: true, removeOnFail: { age: 86_400, count: 5_000 } };

/** Retry budgets per kind of work; handlers are idempotent so a retry is always safe. */
export const JOB_OPTIONS = {
  reconcile: { ...KEEP, removeOnComplete: true, removeOnFail: { count: 100 } },
  launch: { ...KEEP, attempts: 3, backoff: { type: 'exponential', delay: 1_000 } },
  boot: { ...KEEP, attempts: 3, backoff: { type: 'exponential', delay: 1_000 } },
  // A machine whose termination is not confirmed still bills: keep trying for about an hour.
  terminate: { ...KEEP, attempts: 12, backoff: { type: 'exponential', delay: 1_000 } },
  // Scheduled: a failed run is not retried, the next one comes on schedule.
  reap: { removeOnComplete: true, removeOnFail: { count: 100 } },
} satisfies Record<keyof typeof QUEUE_NAMES, DefaultJobOptions>;

export interface Queues {
  reconcile: Queue<ReconcileJob>;
  launch: Queue<MachineJob>;
  boot: Queue<MachineJob>;
  terminate: Queue<MachineJob>;
  /** The reaper's schedule (no payload): one job per `reaper.every`, run by one producer. */
  reap: Queue<ReapJob>;
}

/** Every queue shares the prefix (a Redis Cluster hash tag) with the machine store. */
export function createQueues(connection: ConnectionOptions, prefix: string): Queues {
  const make = <T>(name: keyof typeof QUEUE_NAMES) =>
    new Queue<T>(QUEUE_NAMES[name], { connection, prefix, defaultJobOptions: JOB_OPTIONS[name] });
  return {
    reconcile: make<ReconcileJob>('reconcile'),
    launch: make<MachineJob>('launch'),
    boot: make<MachineJob>('boot'),
    terminate: make<MachineJob>('terminate'),
    reap: make<ReapJob>('reap'),
  };
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q: Queue) => q.close()));
}

/** A pool's extra reconciles are at most one per this period, across every process. */
const RECONCILE_THROTTLE_MS = 250;
/** Per reconcile queue (so per app) and pool: when this process last asked, and the ask it owes at the period's end. */
const asks = new WeakMap<Queue<ReconcileJob>, Map<string, { last: number; owed?: NodeJS.Timeout }>>();

/**
 * Asks for an extra reconcile of a pool now (after a lease, a failure).
 * Throttled per pool so a burst of events makes one run, not hundreds;
 * concurrent runs are harmless because machine creation checks the limits
 * atomically. An ask within the period is not dropped but deferred to its
 * end: the run already asked for may have read the pool before this event
 * (a lease now waiting, raising the target), and the scheduled reconcile is
 * seconds away. The queue deduplicates across processes.
 */
export async function requestReconcile(queues: Queues, pool: string): Promise<void> {
  const byPool = asks.get(queues.reconcile) ?? new Map<string, { last: number; owed?: NodeJS.Timeout }>();
  asks.set(queues.reconcile, byPool);
  const ask = byPool.get(pool) ?? { last: -Infinity };
  byPool.set(pool, ask);
  const wait = ask.last + RECONCILE_THROTTLE_MS - Date.now();
  if (wait > 0) {
    ask.owed ??= setTimeout(() => {
      ask.owed = undefined;
      // A queue closed meanwhile (shutdown) has nobody left to reconcile for.
      requestReconcile(queues, pool).catch(() => undefined);
    }, wait).unref();
    return;
  }
  ask.last = Date.now();
  await queues.reconcile.add('reconcile', { pool }, { deduplication: { id: `reconcile-${pool}`, ttl: RECONCILE_THROTTLE_MS } });
  // The queue's deduplication period started when the add ran, not when it was sent: the owed ask must come after it.
  ask.last = Date.now();
}

/**
 * Enqueues a machine's job again unless one with its id is still pending
 * (waiting, backing off, or running in a live worker). A job that finished or
 * gave up keeps its id for a while, which would make a plain add with that id
 * a no-op: it is removed first. So is an active job whose lock has expired:
 * its worker died, and BullMQ's stall check would only hand it on later.
 * Returns false when one was still pending.
 */
export async function addFresh(redis: Redis, queue: Queue<MachineJob>, name: string, machineId: string): Promise<boolean> {
  const job = await queue.getJob(machineId);
  const state = job ? await job.getState() : 'unknown';
  if (state === 'failed' || state === 'completed' || (state === 'active' && !(await isLocked(redis, queue, machineId)))) {
    // Removal refuses a job a worker has locked meanwhile: then it is pending after all.
    if (!(await job!.remove().then(() => true, () => false))) return false;
  } else if (state !== 'unknown') return false;
  await queue.add(name, { machineId }, { jobId: machineId });
  return true;
}

/** BullMQ keeps a running job's lock at `<job key>:lock` while its worker lives. */
async function isLocked(redis: Redis, queue: Queue<MachineJob>, jobId: string): Promise<boolean> {
  return (await redis.exists(`${queue.toKey(jobId)}:lock`)) === 1;
}
