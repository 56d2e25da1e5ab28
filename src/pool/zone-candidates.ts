import type { AppDeps } from '../app-deps.js';
import type { PoolConfig } from '../config.js';
import { splitZoneId } from '../providers/zone-id.js';
import type { ZoneCandidate } from '../zones/selector.js';

/**
 * A pool's zones as selection sees them right now: breaker state and
 * instance types not sold out (both shared by every process, under the
 * default zone strategy), and whether this process can reach each zone's
 * cloud API (its own).
 */
export async function zoneCandidates(pool: PoolConfig, deps: Pick<AppDeps, 'zoneStrategy' | 'providers' | 'now'>): Promise<ZoneCandidate[]> {
  const { zoneStrategy } = deps;
  const [health, available] = await Promise.all([zoneStrategy.health(pool.zones, deps.now()), zoneStrategy.available(pool.zones, pool.instanceTypes)]);
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
