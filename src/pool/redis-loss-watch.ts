import type { AppDeps } from '../app-deps.js';
import { describeError } from '../errors.js';
import { splitZoneId } from '../providers/zone-id.js';
import { applyRecovery, planRecovery } from './recovery.js';
import { withRunLock } from './run-lock.js';

export type RedisLossDeps = Pick<AppDeps, 'config' | 'redis' | 'store' | 'queues' | 'providers' | 'epoch' | 'logger' | 'now'>;

/**
 * A provider's rebuild lock lives this long unless renewed (a third of it,
 * while the rebuild runs): a producer killed mid-rebuild holds up that
 * provider's pools for this long at most, however long a listing takes.
 */
export const RECOVERY_LOCK_MS = 15_000;

/**
 * Watches for Redis coming back empty (the epoch marker gone) and rebuilds
 * the machine store from the cloud's tags, provider by provider, one producer
 * per provider at a time, before that provider's pools plan launches again;
 * then tells every producer (through the new epoch, once every provider is
 * rebuilt) to recreate what BullMQ lost (the job schedulers). A provider that
 * cannot be listed is logged and tried again next tick; the others' pools go
 * on meanwhile.
 */
export function watchForRedisLoss(deps: RedisLossDeps, onNewEpoch: () => Promise<void>, everyMs: number): { stop(): void; firstCheck: Promise<void> } {
  let seen: string | null | undefined;
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const epoch = await deps.redis.get(`${deps.config.redis.prefix}:epoch`);
      // The schedulers went with the loss: recreated as soon as some pools may launch again, not when the last provider is back.
      if (epoch === null && (await recoverMissing(deps)) > 0) await onNewEpoch();
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

/** Rebuilds every provider not rebuilt yet; renews the epoch once all are. Returns how many this call rebuilt. */
async function recoverMissing(deps: RedisLossDeps): Promise<number> {
  const names = [...deps.providers.keys()];
  let rebuilt = 0;
  for (const name of names) {
    if (await deps.epoch.rebuilt([name])) continue;
    const lock = `${deps.config.redis.prefix}:recovery-lock:${name}`;
    try {
      // Taken by another producer: it rebuilds this provider, this one the next.
      if (await withRunLock(deps.redis, lock, RECOVERY_LOCK_MS, () => recoverProvider(name, deps))) rebuilt++;
    } catch (err) {
      const pools = deps.config.pools.filter((p) => p.zones.some((z) => splitZoneId(z).provider === name)).map((p) => p.name);
      deps.logger.error({ provider: name, pools, error: describeError(err) }, `cannot rebuild the machine store for provider ${name}: its pools (${pools.join(', ') || 'none'}) launch nothing until it can be listed; retrying`);
    }
  }
  if (await deps.epoch.rebuilt(names)) await deps.epoch.renewIfMissing(names);
  return rebuilt;
}

/** One provider's rebuild, under its lock; false if another producer had finished it first. */
async function recoverProvider(name: string, deps: RedisLossDeps): Promise<boolean> {
  if (await deps.epoch.rebuilt([name])) return false;
  const provider = deps.providers.get(name)!;
  const plan = await planRecovery({ ...deps, providers: new Map([[name, provider]]) });
  if (plan.recreate.length === 0) {
    // A new keyspace (first start), or a loss with nothing left to save: just mark it.
    await deps.epoch.markRebuilt(name);
    deps.logger.info({ provider: name, known: plan.known, unattributed: plan.unattributed.length }, `new redis keyspace: nothing to rebuild for provider ${name}`);
    return true;
  }
  deps.logger.error({ provider: name, toRecreate: plan.recreate.length }, `redis came back empty (epoch marker missing): rebuilding the machine store from provider ${name}'s tags`);
  const restored = await applyRecovery(plan, deps);
  await deps.epoch.markRebuilt(name);
  deps.logger.warn(
    { provider: name, restored, leased: plan.recreate.filter((m) => m.state === 'leased').length, known: plan.known, unattributed: plan.unattributed.length },
    `machine store rebuilt for provider ${name}`,
  );
  return true;
}
