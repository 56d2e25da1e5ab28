import type { AppDeps } from '../app-deps.js';
import type { PoolConfig } from '../config.js';
import { WARMING_STATES } from '../machines/machine.js';
import { totalsByState } from '../machines/store.js';
import { isWanted, wantedVersions, type Rollout } from '../agent/rollout.js';
import { requestTermination } from './terminate.js';

export type RolloutReplaceDeps = Pick<AppDeps, 'redis' | 'config' | 'store' | 'queues' | 'logger' | 'now'>;

/**
 * How many superseded machines may be in replacement at once: a share of
 * the pool's target, at least one, less the machines already on their way
 * to ready (replacements still booting count against it).
 */
export function replacementBudget(target: number, warming: number, maxShare: number): number {
  return Math.max(1, Math.floor(maxShare * target)) - warming;
}

/**
 * Retires one ready machine carrying a version the rollout no longer wants
 * (after `vmpool agent set`, a rollback, a halted canary, a canary beyond its
 * share by the machine-id rule), oldest launch
 * first, so the reconcile that called it launches its replacement on the
 * wanted version. At most one per `agent.rollout.every` per pool across every
 * producer, and never beyond the budget, so leases keep being served while
 * the warm pool converges. Leased machines are never touched.
 */
export async function replaceSuperseded(pool: PoolConfig, rollout: Rollout | undefined, target: number, deps: RolloutReplaceDeps): Promise<number> {
  if (!rollout) return 0;
  const wanted = wantedVersions(rollout);
  // A machine without a version predates the pool's agent section: left to age out, not churned on an upgrade.
  // One on the canary whose id does not select it is beyond the canary's share: replaced like any other.
  const superseded = (await deps.store.list(pool.name, 'ready')).filter((m) => m.agentVersion !== undefined && !isWanted(m.id, m.agentVersion, rollout));
  if (superseded.length === 0) return 0;
  const totals = totalsByState(await deps.store.counts(pool.name));
  const warming = WARMING_STATES.reduce((sum, s) => sum + totals[s], 0) - totals.ready - totals.slow;
  const { maxShare, every } = deps.config.agent.rollout;
  if (replacementBudget(target, warming, maxShare) <= 0) return 0;
  const paced = await deps.redis.set(`${deps.config.redis.prefix}:agent-rollout-pace:${pool.name}`, '1', 'PX', every, 'NX');
  if (paced !== 'OK') return 0;
  const [oldest] = superseded.sort((a, b) => (a.launchedAt ?? a.createdAt) - (b.launchedAt ?? b.createdAt));
  if (!(await requestTermination(oldest!, deps, { retiredFor: 'agent-rollout' }, ['ready']))) return 0;
  deps.logger.info(
    { pool: pool.name, machineId: oldest!.id, from: oldest!.agentVersion, to: [...wanted], left: superseded.length - 1 },
    `pool ${pool.name}: replacing a machine on agent ${oldest!.agentVersion ?? 'none'} (${superseded.length - 1} more to go)`,
  );
  return 1;
}
