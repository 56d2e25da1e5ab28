import type { AppDeps } from '../app-deps.js';
import type { PoolConfig } from '../config.js';
import type { CountKey } from '../machines/store.js';
import { WARMING_STATES } from '../machines/machine.js';
import { requestTermination } from './terminate.js';

export type ScaleInDeps = Pick<AppDeps, 'redis' | 'config' | 'store' | 'queues' | 'logger' | 'now'>;

/**
 * How many ready machines are surplus: what the pool holds (ready and on
 * the way) beyond its target, without taking ready machines below the floor.
 */
export function scaleInExcess(pool: Pick<PoolConfig, 'min'>, totals: Readonly<Record<CountKey, number>>, target: number): number {
  const held = WARMING_STATES.reduce((sum, s) => sum + totals[s], 0) - totals.slow;
  return Math.max(0, Math.min(held - target, totals.ready - pool.min));
}

/**
 * Terminates surplus ready machines, oldest launch first, once the surplus
 * has lasted a whole cooldown without a break: demand oscillating around the
 * target never terminates a machine only to launch another. Leased machines
 * are never touched (the transition is taken from `ready` only).
 */
export async function scaleIn(pool: PoolConfig, excess: number, deps: ScaleInDeps): Promise<number> {
  const key = `${deps.config.redis.prefix}:surplus-since:${pool.name}`;
  if (excess <= 0) {
    await deps.redis.del(key);
    return 0;
  }
  await deps.redis.set(key, String(deps.now()), 'NX');
  const since = Number(await deps.redis.get(key));
  if (deps.now() - since < pool.scaleInCooldown) return 0;
  const oldest = (await deps.store.list(pool.name, 'ready')).sort((a, b) => (a.launchedAt ?? a.createdAt) - (b.launchedAt ?? b.createdAt));
  let removed = 0;
  for (const machine of oldest.slice(0, excess)) {
    if (await requestTermination(machine, deps, { retiredFor: 'scale-in' }, ['ready'])) removed++;
  }
  await deps.redis.del(key); // the next surplus must last a full cooldown again
  if (removed > 0) deps.logger.info({ pool: pool.name, removed, excess }, `pool ${pool.name}: scaled in by ${removed}`);
  return removed;
}
