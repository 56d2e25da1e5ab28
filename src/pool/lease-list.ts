import type { AppDeps } from '../app-deps.js';
import type { Machine } from '../machines/machine.js';

/** One lease as `GET /v1/leases` and `vmpool leases` show it; times as ISO strings. */
export interface LeaseEntry {
  id: string;
  pool: string;
  zone: string;
  address?: string;
  port?: number;
  instanceId?: string;
  agentVersion?: string;
  leasedAt?: string;
  /** Whole seconds since the lease. */
  ageSeconds?: number;
  leasedBy?: string;
}

/** Every leased machine of `pools`, oldest lease first: what an operator hunts for when a pool stops refilling. */
export async function listLeases(pools: readonly string[], deps: Pick<AppDeps, 'store' | 'now'>): Promise<LeaseEntry[]> {
  const now = deps.now();
  const leased = (await Promise.all(pools.map((pool) => deps.store.list(pool, 'leased')))).flat();
  return leased.sort((a, b) => (a.leasedAt ?? a.stateSince) - (b.leasedAt ?? b.stateSince)).map((m) => leaseEntry(m, now));
}

function leaseEntry(m: Machine, now: number): LeaseEntry {
  const leasedAt = m.leasedAt ?? m.stateSince;
  return {
    id: m.id,
    pool: m.pool,
    zone: m.zone,
    address: m.address,
    port: m.port,
    instanceId: m.instanceId,
    agentVersion: m.agentVersion,
    leasedAt: new Date(leasedAt).toISOString(),
    ageSeconds: Math.max(0, Math.floor((now - leasedAt) / 1_000)),
    leasedBy: m.leasedBy,
  };
}
