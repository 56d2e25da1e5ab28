import { createHash } from 'node:crypto';

/** Which agent versions a pool's new machines get, as every process sees it. */
export interface Rollout {
  image: string;
  /** The stable version. */
  version: string;
  canary?: { version: string; share: number };
  /** Set by the canary guard (or kept until an operator resumes): no new machine gets the canary. */
  canaryHalted?: { version: string; reason: string; since: number };
  /** `config` until an operator runs `vmpool agent set`; then who and when. */
  source: 'config' | 'operator';
  setBy?: string;
  setAt?: number;
}

/**
 * A machine id's fixed place in [0, 1): the same id always lands in the same
 * place, so a redelivered job or a second booter never changes a machine's
 * version, and ids spread evenly, so a share of 0.1 is a tenth of machines.
 */
export function idShare(machineId: string): number {
  return createHash('sha256').update(machineId).digest().readUInt32BE(0) / 2 ** 32;
}

/** True while the canary is set and not halted. */
export function canaryActive(rollout: Rollout): boolean {
  return rollout.canary !== undefined && rollout.canary.share > 0 && rollout.canaryHalted?.version !== rollout.canary.version;
}

/** The version a machine gets: the canary for the ids below its share, else the stable one. */
export function versionFor(machineId: string, rollout: Rollout): string {
  return canaryActive(rollout) && idShare(machineId) < rollout.canary!.share ? rollout.canary!.version : rollout.version;
}

/**
 * Whether the rollout wants a machine with this id on `version`: the stable
 * version always; the canary only for an id that selects it (as `versionFor`
 * chose for new machines), so the canary keeps its share and never more,
 * whatever the fleet ran before it was set (a rollback to stable with the
 * previous version as canary leaves only the canary's share on it).
 */
export function isWanted(machineId: string, version: string, rollout: Rollout): boolean {
  if (version === rollout.version) return true;
  return canaryActive(rollout) && version === rollout.canary!.version && idShare(machineId) < rollout.canary!.share;
}

/** Versions a ready machine may carry (the canary only on the ids that select it: `isWanted`). */
export function wantedVersions(rollout: Rollout): Set<string> {
  return new Set(canaryActive(rollout) ? [rollout.version, rollout.canary!.version] : [rollout.version]);
}
