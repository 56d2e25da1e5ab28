import { DelayedError, WaitingError, type Job, type Worker } from 'bullmq';
import type { Logger } from '../log.js';

/**
 * For workers of machine jobs (launch, boot, terminate): a process killed
 * mid-job leaves its machine in flight, counted against the pool, so its jobs
 * are handed on within seconds instead of BullMQ's default of about a minute.
 * Costs one lock renewal per worker every 5 s and one stall check per 5 s.
 */
export const QUICK_HANDOVER = { lockDuration: 10_000, stalledInterval: 5_000 } as const;

/** A running role in this process. */
export interface RoleHandle {
  /** Stops taking jobs and waits for running ones up to the grace, then hands the rest back. */
  close(): Promise<void>;
}

/**
 * Closes BullMQ workers gracefully: running jobs get `graceMs` to finish;
 * then `abort` tells the handlers still running to stop and hand their job
 * back (it fails and is retried by another process). A forced close would not
 * do: BullMQ's second close() returns the first one, which still waits.
 */
export async function closeWorkers(workers: readonly Worker[], graceMs: number, logger: Logger, abort?: AbortController): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = Promise.all(workers.map((w) => w.close()));
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
  const finished = await Promise.race([closed.then(() => true), expired]);
  clearTimeout(timer);
  if (finished) return;
  logger.warn({ graceMs }, 'jobs still running at the end of the grace period; handing them back');
  abort?.abort(new ShutdownError());
  await closed;
}

/** The reason running work stops at shutdown: not the machine's fault, retried elsewhere. */
export class ShutdownError extends Error {
  constructor() {
    super('process shutting down: job handed back');
    this.name = 'ShutdownError';
  }
}

/**
 * Puts a job cut short by the shutdown back in its queue for another process,
 * without spending one of its attempts (a hand-back is not a failure: a
 * rolling restart must not exhaust a boot's retries). Always throws.
 */
export async function handBack(job: Job, token: string | undefined): Promise<never> {
  await job.moveToWait(token);
  throw new WaitingError();
}

/**
 * Puts a job back in its queue to run again at `at` (epoch ms), without
 * spending one of its attempts: for a cloud call the cloud throttled, which
 * is no failure of the job's. Always throws.
 */
export async function retryLater(job: Job, token: string | undefined, at: number): Promise<never> {
  await job.moveToDelayed(at, token);
  throw new DelayedError();
}

/** Logs worker-level errors (lost connection, a handler's throw) instead of crashing the process. */
export function watchWorker(worker: Worker, logger: Logger): Worker {
  worker.on('error', (err) => logger.error({ err, queue: worker.name }, 'worker error'));
  worker.on('failed', (job, err) => logger.warn({ queue: worker.name, jobId: job?.id, attempt: job?.attemptsMade, error: err.message }, 'job failed'));
  return worker;
}
