import type { AppDeps } from '../app-deps.js';
import type { PoolConfig } from '../config.js';
import { splitZoneId } from '../providers/zone-id.js';
import type { ZoneCandidate } from '../zones/selector.js';

/**
 * A pool's zones as selection sees them right now: breaker state (shared by
 * every process), instance types not sold out (shared), and whether this
 * process can reach each zone's cloud API (its own).
 */
export async function zoneCandidates(pool: PoolConfig, deps: Pick<AppDeps, 'breaker' | 'capacity' | 'providers' | 'now'>): Promise<ZoneCandidate[]> {
  const [health, available] = await Promise.all([deps.breaker.read(pool.zones, deps.now()), deps.capacity.available(pool.zones, pool.instanceTypes)]);
  return pool.zones.map((zone) => {
    const h = health.get(zone)!;
    const provider = deps.providers.get(splitZoneId(zone).provider);
    return {
      zone,
      state: h.state,
      failureRate: h.failureRate,
      openUntil: h.openUntil,
      instanceTypes: available.get(zone) ?? [],
      reachable: provider?.isAvailable?.() ?? provider !== undefined,
    };
  });
}
