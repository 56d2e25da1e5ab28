/** Why a pool holds fewer ready machines than its target, as `kind` (for scripts) and words (for people). */
export interface BelowTarget {
  kind: 'halted' | 'provider-halted' | 'at-max' | 'every-zone-open' | 'refilling' | 'waiting-for-version' | 'launches-failing' | 'next-reconcile';
  reason: string;
}

export interface BelowTargetInput {
  name: string;
  target: number;
  max: number;
  /** Lease requests waiting for a machine. */
  waiting: number;
  machines: Record<'requested' | 'launching' | 'booting' | 'preparing' | 'ready' | 'leased' | 'failed' | 'terminating', number>;
  halted?: { reason: string };
  /** A provider of the pool whose launches an authorization refusal halted. */
  providerHalted?: { provider: string; reason: string };
  /** The pool's zones with their breaker state and failures in the window. */
  zones: readonly { zone: string; state: string; failures: number }[];
}

/**
 * The first reason that explains a pool below target, in the order an
 * operator can act on them: a halt (the pool's, its provider's), the max (leases left behind), every zone
 * open, then what is merely on its way. Pure: status and the CLI share it.
 */
export function belowTarget(pool: BelowTargetInput): BelowTarget | undefined {
  const m = pool.machines;
  if (m.ready >= pool.target) return undefined;
  const coming = m.requested + m.launching + m.booting + m.preparing;
  const live = coming + m.ready + m.leased;
  if (pool.halted) return { kind: 'halted', reason: `launches halted: ${pool.halted.reason}; after the fix: vmpool pool resume ${pool.name}` };
  const refused = pool.providerHalted;
  if (refused) return { kind: 'provider-halted', reason: `provider ${refused.provider} halted: ${refused.reason}; after the fix: vmpool provider resume ${refused.provider}` };
  if (live >= pool.max) {
    return { kind: 'at-max', reason: `at max: ${live} of ${pool.max} machines live, ${m.leased} of them leased; release the leases you no longer need (vmpool leases ${pool.name})` };
  }
  const open = pool.zones.filter((z) => z.state === 'open');
  if (pool.zones.length > 0 && open.length === pool.zones.length) return { kind: 'every-zone-open', reason: 'every zone is open: launches only as probes (vmpool breaker list)' };
  if (coming > 0) return { kind: 'refilling', reason: `refilling: ${coming} booting` };
  if (pool.waiting > 0 && m.ready > 0) {
    return { kind: 'waiting-for-version', reason: `${pool.waiting} lease request(s) waiting for an agent version no ready machine has` };
  }
  const failing = pool.zones.filter((z) => z.state !== 'closed' || z.failures > 0);
  if (failing.length > 0 || m.failed > 0) {
    const where = failing.map((z) => `${z.zone} ${z.state === 'closed' ? `${z.failures} failure(s)` : z.state}`).join(', ');
    return { kind: 'launches-failing', reason: `launches failing${where ? ` (${where})` : ''}; see vmpool breaker audit` };
  }
  return { kind: 'next-reconcile', reason: 'waiting for the next reconcile to launch' };
}
