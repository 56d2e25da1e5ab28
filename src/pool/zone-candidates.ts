import type { AppDeps } from '../app-deps.js';
import type { PoolConfig } from '../config.js';
import { splitZoneId } from '../providers/zone-id.js';
import type { ZoneCandidate } from '../zones/selector.js';
import type { PoolCounts } from '../machines/store.js';
import { unresolvedByZone } from './planner.js';

/**
 * A pool's zones as selection sees them right now: breaker state and
 * instance types not sold out (both shared by every process, under the
 * default zone strategy), and whether launches into each zone can go: its
 * provider is not halted (shared; unless on `trial`), and this process is
 * not failing fast on the provider's launches (its own).
 */
export async function zoneCandidates(
  pool: PoolConfig,
  deps: Pick<AppDeps, 'zoneStrategy' | 'providers' | 'now'>,
  halts: ReadonlyMap<string, unknown> = new Map(),
  trials: ReadonlySet<string> = new Set(),
): Promise<ZoneCandidate[]> {
  const { zoneStrategy } = deps;
  const [health, available] = await Promise.all([zoneStrategy.health(pool.zones, deps.now()), zoneStrategy.available(pool.zones, pool.instanceTypes)]);
  return pool.zones.map((zone) => {
    const h = health.get(zone)!;
    const { provider: name } = splitZoneId(zone);
    const provider = deps.providers.get(name);
    const halted = halts.has(name) && !trials.has(name);
    return {
      zone,
      state: h.state,
      failureRate: h.failureRate,
      openUntil: h.openUntil,
      inFlightLimit: h.inFlightLimit,
      instanceTypes: available.get(zone) ?? [],
      reachable: !halted && (provider?.isAvailable?.() ?? provider !== undefined),
    };
  });
}

/**
 * Machines with no outcome yet per zone, for the zones that limit them: this
 * pool's counts, plus those of every other pool sharing such a zone (the
 * breaker is the zone's, not the pool's). Nothing more is read while no zone
 * has failures against it.
 */
export async function inFlightByZone(pool: PoolConfig, counts: PoolCounts, candidates: readonly ZoneCandidate[], deps: Pick<AppDeps, 'config' | 'store'>): Promise<Map<string, number>> {
  const limited = new Set(candidates.filter((c) => c.inFlightLimit !== undefined).map((c) => c.zone));
  if (limited.size === 0) return new Map();
  const others = deps.config.pools.filter((p) => p.name !== pool.name && p.zones.some((zone) => limited.has(zone)));
  return unresolvedByZone([counts, ...(await Promise.all(others.map((p) => deps.store.counts(p.name))))]);
}
