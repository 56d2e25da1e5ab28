import { Worker, type Job } from 'bullmq';
import type { AppDeps } from '../app-deps.js';
import { QUEUE_NAMES, type MachineJob } from '../queues.js';
import { bootMachine } from '../boot/boot.js';
import { InstanceWatcher } from '../boot/instance-watcher.js';
import { BootTimes, slowBootSettings } from '../boot/boot-times.js';
import { LoopStarvation, measureLoopLag } from '../boot/loop-starvation.js';
import { requestTermination } from '../pool/terminate.js';
import { describeError } from '../errors.js';
import { closeWorkers, handBack, QUICK_HANDOVER, watchWorker, type RoleHandle } from './role.js';
import { RegistryGuards } from '../agent/registry-guards.js';

export type BooterDeps = AppDeps & {
  /** The login key, read and checked once at start. */
  privateKey: Buffer;
};

/** The booter role: takes launched machines to ready (or to a clean end). */
export function startBooter(deps: BooterDeps): RoleHandle {
  const { config, redis, logger } = deps;
  const watcher = new InstanceWatcher(config.booter.describeEvery, logger, deps.now);
  const bootTimes = new BootTimes(redis, config.redis.prefix, slowBootSettings(config.breaker), deps.now);
  const guards = new RegistryGuards(config.agent.registryBreaker, logger);
  const loopLag = measureLoopLag();
  const starvation = new LoopStarvation(loopLag.lagMs, config.booter.starvedLoopLag, logger.child({ component: 'booter' }));
  const bootDeps = { ...deps, watcher, bootTimes, guards, starvation };
  const shutdown = new AbortController();
  const worker = watchWorker(
    new Worker<MachineJob>(QUEUE_NAMES.boot, (job, token) => runBoot(job, token, bootDeps, shutdown.signal), {
      connection: redis,
      prefix: config.redis.prefix,
      concurrency: config.booter.concurrency,
      ...QUICK_HANDOVER,
    }),
    logger,
  );
  return {
    close: async () => {
      await closeWorkers([worker], config.shutdown.grace, logger, shutdown);
      watcher.close();
      guards.close();
      loopLag.close();
    },
  };
}

async function runBoot(job: Job<MachineJob>, token: string | undefined, deps: Parameters<typeof bootMachine>[1], signal: AbortSignal): Promise<void> {
  try {
    await bootMachine(job.data.machineId, deps, signal);
  } catch (err) {
    if (signal.aborted) return handBack(job, token); // another booter resumes it
    // Out of retries for an unexpected error: end the machine rather than leave it half-booted.
    if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
      const failed = await deps.store.transition(job.data.machineId, 'failed', deps.now(), { failure: 'boot-error', failureDetail: describeError(err) }, ['booting', 'preparing']);
      if (failed.ok) await requestTermination(job.data.machineId, deps);
    }
    throw err;
  }
}
