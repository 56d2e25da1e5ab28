/** Prepare outcomes of one version's machines since the rollout was last set. */
export interface VersionOutcomes {
  ok: number;
  failed: number;
}

export interface CanaryGuardSettings {
  /** The canary's failure rate must reach this multiple of the stable one's. */
  failureRatio: number;
  /** ...and count at least this many failures: a couple of unlucky machines prove nothing. */
  minFailures: number;
}

const rate = (o: VersionOutcomes): number => (o.ok + o.failed === 0 ? 0 : o.failed / (o.ok + o.failed));

/**
 * Why the canary must halt, or undefined while it may go on. Pure. A stable
 * version without failures has rate 0, so then the minimum count alone decides.
 */
export function canaryTrips(canary: VersionOutcomes, stable: VersionOutcomes, guard: CanaryGuardSettings): string | undefined {
  if (canary.failed < guard.minFailures) return undefined;
  const canaryRate = rate(canary);
  const stableRate = rate(stable);
  if (canaryRate === 0 || canaryRate < guard.failureRatio * stableRate) return undefined;
  const pct = (r: number) => `${Math.round(r * 100)}%`;
  return `canary failed prepare on ${canary.failed} of ${canary.ok + canary.failed} machines (${pct(canaryRate)}), stable on ${stable.failed} of ${stable.ok + stable.failed} (${pct(stableRate)}): at least ${guard.failureRatio}x`;
}
