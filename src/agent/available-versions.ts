import type { AppDeps } from '../app-deps.js';
import type { PoolConfig } from '../config.js';
import { wantedVersions } from './rollout.js';

/**
 * Agent versions a lease may ask for in `pool`: those the rollout wants (new
 * machines get them) and those ready machines carry now. A lease for any
 * other version could only wait, and its wait would raise the pool's target
 * for machines that never carry it; the API refuses it at once instead.
 */
export async function availableVersions(pool: PoolConfig, deps: Pick<AppDeps, 'store' | 'rollouts'>): Promise<string[]> {
  const rollout = await deps.rollouts.current(pool);
  const versions = new Set(rollout ? wantedVersions(rollout) : []);
  for (const machine of await deps.store.list(pool.name, 'ready')) if (machine.agentVersion) versions.add(machine.agentVersion);
  return [...versions].sort();
}
