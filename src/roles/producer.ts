import { Worker, type Job } from 'bullmq';
import type { AppDeps } from '../app-deps.js';
import { QUEUE_NAMES, requestReconcile, requestTerminationSweep, type MachineJob, type ReapJob, type ReconcileJob, type TerminateJob } from '../queues.js';
import { reconcilePool } from '../pool/reconcile.js';
import { abandonLaunch, isFinal, launchMachine, toJobError } from '../pool/launch.js';
import { sweepTerminations } from '../pool/terminate.js';
import { reapOnce } from '../pool/reaper.js';
import { BootTimes, slowBootSettings } from '../boot/boot-times.js';
import { closeWorkers, handBack, QUICK_HANDOVER, retryLater, watchWorker, type RoleHandle } from './role.js';
import { classify } from '../errors.js';
import { watchForRedisLoss } from '../pool/redis-loss-watch.js';
import { warnOnPreflight } from '../pool/preflight.js';

export type ProducerDeps = AppDeps;

/**
 * The producer role: keeps every pool at its target (scheduled reconcile),
 * owns every mutating cloud call (launch, terminate), and runs the reaper.
 */
export async function startProducer(deps: ProducerDeps): Promise<RoleHandle> {
  const { config, redis, queues, logger } = deps;
  await scheduleReconciles(deps);
  const reaperDeps = { ...deps, logger: logger.child({ component: 'reaper' }), bootTimes: new BootTimes(redis, config.redis.prefix, slowBootSettings(config.breaker), deps.now) };
  const common = { connection: redis, prefix: config.redis.prefix };
  // Aborted when the shutdown grace runs out: cloud calls still in flight are abandoned and their jobs handed back.
  const shutdown = new AbortController();
  const workers = [
    new Worker<ReconcileJob>(
      QUEUE_NAMES.reconcile,
      async (job) => {
        const pool = config.pools.find((p) => p.name === job.data.pool);
        if (pool) await reconcilePool(pool, deps);
      },
      { ...common, concurrency: 1 },
    ),
    new Worker<MachineJob>(QUEUE_NAMES.launch, (job, token) => runLaunch(job, token, deps, shutdown.signal), { ...common, ...QUICK_HANDOVER, concurrency: config.producer.launchConcurrency }),
    // A sweep cut short by the shutdown is not handed back: what it left stays terminating for the next one.
    new Worker<TerminateJob>(QUEUE_NAMES.terminate, async () => void (await sweepTerminations(deps, shutdown.signal)), { ...common, ...QUICK_HANDOVER, concurrency: 1 }),
    // A run cut short by the shutdown is not handed back: the next one comes on schedule.
    new Worker<ReapJob>(QUEUE_NAMES.reap, async () => void (await reapOnce({ ...reaperDeps, signal: shutdown.signal })), { ...common, concurrency: 1 }),
  ].map((w: Worker) => watchWorker(w, logger));
  // A Redis that came back empty also lost BullMQ's schedulers: recreate them under the new epoch.
  const watch = watchForRedisLoss(
    { ...deps, logger: logger.child({ component: 'recovery' }) },
    async () => {
      await scheduleReconciles(deps);
      await scheduleReaper(deps);
      await scheduleTerminationSweeps(deps);
      for (const pool of config.pools) await requestReconcile(queues, pool.name);
    },
    config.producer.reconcileEvery,
  );
  // A first start marks the keyspace (or rebuilds the store) before any reconcile plans a launch.
  await watch.firstCheck;
  await scheduleReaper(deps);
  await scheduleTerminationSweeps(deps);
  await requestTerminationSweep(queues);
  for (const pool of config.pools) await requestReconcile(queues, pool.name);
  // Beside the running role, never holding it up: its findings are warnings.
  const preflight = config.producer.preflightAtStart ? warnOnPreflight({ ...deps, logger: logger.child({ component: 'preflight' }) }) : undefined;
  return {
    close: async () => {
      preflight?.stop();
      watch.stop();
      await closeWorkers(workers, config.shutdown.grace, logger, shutdown);
    },
  };
}

/**
 * A sweep per reconcile period besides the ones terminations ask for: what a
 * sweep left unconfirmed (the cloud refusing, a producer stopped mid-sweep)
 * is tried again within a period, asked for or not.
 */
async function scheduleTerminationSweeps({ config, queues }: ProducerDeps): Promise<void> {
  await queues.terminate.upsertJobScheduler('terminate-sweep', { every: config.producer.reconcileEvery }, { name: 'terminate', data: {} });
}

/** Every producer upserts the same scheduler: one reap job per period, whichever producer takes it. */
async function scheduleReaper({ config, queues }: ProducerDeps): Promise<void> {
  await queues.reap.upsertJobScheduler('reaper', { every: config.reaper.every }, { name: 'reap', data: {} });
}

/** A throttled launch job runs again after 1 to 2 of these (the shared budget's hold then applies to its call). */
const THROTTLED_LAUNCH_DELAY_MS = 1_000;

async function runLaunch(job: Job<MachineJob>, token: string | undefined, deps: ProducerDeps, shutdown: AbortSignal): Promise<void> {
  try {
    await launchMachine(job.data.machineId, deps, shutdown);
  } catch (err) {
    // Cut short by the shutdown: not the launch's failure; another producer repeats the call (same ClientToken).
    if (shutdown.aborted) return handBack(job, token);
    // Throttled even after the SDK's retries: the launch waits its turn again, never failed for it (nor its zone blamed).
    if (classify(err) === 'throttle') return retryLater(job, token, deps.now() + THROTTLED_LAUNCH_DELAY_MS * (1 + Math.random()));
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (lastAttempt || isFinal(err)) await abandonLaunch(job.data.machineId, err, deps);
    throw toJobError(err);
  }
}

/** One scheduler per configured pool (idempotent across producers); schedulers of removed pools go. */
async function scheduleReconciles({ config, queues }: ProducerDeps): Promise<void> {
  const wanted = new Set(config.pools.map((p) => `reconcile-${p.name}`));
  for (const scheduler of await queues.reconcile.getJobSchedulers()) {
    if (scheduler.key && !wanted.has(scheduler.key)) await queues.reconcile.removeJobScheduler(scheduler.key);
  }
  for (const pool of config.pools) {
    await queues.reconcile.upsertJobScheduler(`reconcile-${pool.name}`, { every: config.producer.reconcileEvery }, { name: 'reconcile', data: { pool: pool.name } });
  }
}
