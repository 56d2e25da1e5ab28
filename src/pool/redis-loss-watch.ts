import type { AppDeps } from '../app-deps.js';
import { describeError } from '../errors.js';
import { applyRecovery, planRecovery } from './recovery.js';

export type RedisLossDeps = Pick<AppDeps, 'config' | 'redis' | 'store' | 'queues' | 'providers' | 'epoch' | 'logger' | 'now'>;

/**
 * Watches for Redis coming back empty (the epoch marker gone) and rebuilds
 * the machine store from the cloud's tags, one producer at a time, before
 * anyone plans launches again; then tells every producer (through the new
 * epoch) to recreate what BullMQ lost (the job schedulers).
 */
export function watchForRedisLoss(deps: RedisLossDeps, onNewEpoch: () => Promise<void>, everyMs: number): { stop(): void; firstCheck: Promise<void> } {
  let seen: string | null | undefined;
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const epoch = await deps.redis.get(`${deps.config.redis.prefix}:epoch`);
      if (epoch === null) await recoverOnce(deps);
      const current = await deps.redis.get(`${deps.config.redis.prefix}:epoch`);
      if (seen !== undefined && current !== null && current !== seen) await onNewEpoch();
      if (current !== null) seen = current;
    } catch (err) {
      deps.logger.error({ error: describeError(err) }, 'redis loss check failed; retrying');
    } finally {
      running = false;
    }
  };
  const firstCheck = tick();
  const timer = setInterval(() => void tick(), everyMs);
  return { stop: () => clearInterval(timer), firstCheck };
}

async function recoverOnce(deps: RedisLossDeps): Promise<void> {
  const lock = `${deps.config.redis.prefix}:recovery-lock`;
  if ((await deps.redis.set(lock, String(process.pid), 'PX', 120_000, 'NX')) !== 'OK') return;
  try {
    if (await deps.epoch.present()) return; // another producer finished first
    const plan = await planRecovery(deps);
    if (plan.recreate.length === 0) {
      // A new keyspace (first start), or a loss with nothing left to save: just mark it.
      await deps.epoch.renew();
      deps.logger.info({ known: plan.known, unattributed: plan.unattributed.length }, 'new redis keyspace: nothing to rebuild');
      return;
    }
    deps.logger.error({ toRecreate: plan.recreate.length }, 'redis came back empty (epoch marker missing): rebuilding the machine store from the cloud tags');
    const restored = await applyRecovery(plan, deps);
    await deps.epoch.renew();
    deps.logger.warn({ restored, leased: plan.recreate.filter((m) => m.state === 'leased').length, known: plan.known, unattributed: plan.unattributed.length }, 'machine store rebuilt');
  } finally {
    await deps.redis.del(lock);
  }
}
