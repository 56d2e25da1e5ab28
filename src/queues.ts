import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import type { Redis } from 'ioredis';

export interface ReconcileJob { pool: string }
export interface MachineJob { machineId: string }
export type ReapJob = Record<string, never>;
/** One run that ends every machine marked terminating (all pools): no payload. */
export type TerminateJob = Record<string, never>;

export const QUEUE_NAMES = { reconcile: 'reconcile', launch: 'launch', boot: 'boot', terminate: 'terminate', reap: 'reap' } as const;

// Failed jobs are kept a day for post-mortems, bounded so Redis does not grow. Completed ones go at once:
// a machine's record and log (GET /v1/machines/:id) tell its story, and keeping them cost 4 of a job's 45 commands.
const KEEP: DefaultJobOptions = { removeOnComplete: true, removeOnFail: { age: 86_400, count: 5_000 } };

/** Retry budgets per kind of work; handlers are idempotent so a retry is always safe. */
export const JOB_OPTIONS = {
  reconcile: { ...KEEP, removeOnComplete: true, removeOnFail: { count: 100 } },
  launch: { ...KEEP, attempts: 3, backoff: { type: 'exponential', delay: 1_000 } },
  boot: { ...KEEP, attempts: 3, backoff: { type: 'exponential', delay: 1_000 } },
  // Not retried itself: a machine whose termination is not confirmed stays terminating, and the next sweep (asked for
  // by the next termination, or scheduled) tries it again, as long as it takes.
  terminate: { removeOnComplete: true, removeOnFail: { count: 100 } },
  // Scheduled: a failed run is not retried, the next one comes on schedule.
  reap: { removeOnComplete: true, removeOnFail: { count: 100 } },
} satisfies Record<keyof typeof QUEUE_NAMES, DefaultJobOptions>;

export interface Queues {
  reconcile: Queue<ReconcileJob>;
  launch: Queue<MachineJob>;
  boot: Queue<MachineJob>;
  /** Termination sweeps: asked for whenever a machine is marked terminating, and scheduled as a backstop. */
  terminate: Queue<TerminateJob>;
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
    terminate: make<TerminateJob>('terminate'),
    reap: make<ReapJob>('reap'),
  };
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q: Queue) => q.close()));
}

/** A pool's extra reconciles, and termination sweeps, are at most one per this period, across every process. */
const ASK_THROTTLE_MS = 250;
/**
 * An ask held back goes this long after the period, not at its very end:
 * Redis keeps the deduplication key through its last millisecond, so an ask
 * sent exactly one period after the last one met it and was dropped (seen
 * about once in ten bursts).
 */
const PAST_THE_PERIOD_MS = 20;
/** Per queue (so per app) and ask: when this process last asked, and the ask it owes at the period's end. */
const asks = new WeakMap<Queue, Map<string, { last: number; owed?: NodeJS.Timeout }>>();

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
  await askThrottled(queues.reconcile, `reconcile-${pool}`, { pool });
}

/**
 * Asks for a termination sweep now (a machine was marked terminating), with
 * the same throttle: a burst of releases makes one sweep, and one
 * TerminateInstances call, not one each. Overlapping sweeps are harmless:
 * terminating an instance twice is a no-op and the record's last step is a
 * compare-and-set.
 */
export async function requestTerminationSweep(queues: Queues): Promise<void> {
  await askThrottled(queues.terminate, 'terminate-sweep', {});
}

async function askThrottled<T>(queue: Queue<T>, id: string, data: T): Promise<void> {
  const byId = asks.get(queue) ?? new Map<string, { last: number; owed?: NodeJS.Timeout }>();
  asks.set(queue, byId);
  const ask = byId.get(id) ?? { last: -Infinity };
  byId.set(id, ask);
  const wait = ask.last + ASK_THROTTLE_MS + PAST_THE_PERIOD_MS - Date.now();
  if (wait > 0) {
    ask.owed ??= setTimeout(() => {
      ask.owed = undefined;
      // A queue closed meanwhile (shutdown) has nobody left to ask.
      askThrottled(queue, id, data).catch(() => undefined);
    }, wait).unref();
    return;
  }
  ask.last = Date.now();
  // The job's name is the queue's (reconcile, terminate): names of jobs are not read.
  await (queue as Queue).add(queue.name, data, { deduplication: { id, ttl: ASK_THROTTLE_MS } });
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
