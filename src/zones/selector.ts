import { WARMING_STATES } from '../machines/machine.js';
import type { PoolCounts } from '../machines/store.js';
import type { BreakerState } from './breaker.js';

/** A pool's zone as zone selection sees it. */
export interface ZoneCandidate {
  zone: string;
  /** The breaker's effective state (override included). */
  state: BreakerState;
  failureRate: number;
  openUntil?: number;
  /** Instance types not sold out here right now, in the pool's preference order. */
  instanceTypes: readonly string[];
  /** False while this process fails fast on the zone's cloud API. */
  reachable: boolean;
  /** Most machines with no outcome yet the zone may hold (it has failures against it); undefined: no limit. */
  inFlightLimit?: number;
}

export interface Placement {
  zone: string;
  instanceType: string;
  /** Launched as a half-open zone's probe. */
  probe: boolean;
}

export interface Selection {
  placements: Placement[];
  /** No zone is closed and usable: the pool runs on probes alone. */
  allZonesOpen: boolean;
}

const usable = (c: ZoneCandidate) => c.reachable && c.instanceTypes.length > 0;

/** Half-open zones worth a probe reservation: reachable, with an instance type to try. */
export function probeCandidates(candidates: readonly ZoneCandidate[]): string[] {
  return candidates.filter((c) => c.state === 'half-open' && usable(c)).map((c) => c.zone);
}

/** True when no zone of the pool can take an ordinary launch. */
export function allZonesBlocked(candidates: readonly ZoneCandidate[]): boolean {
  return !candidates.some((c) => c.state === 'closed' && usable(c));
}

/**
 * Where the next machines of a pool go. Closed zones take the deficit, spread
 * so each holds an even share of the warm pool; half-open zones get exactly
 * their reserved probe slots (launched even when the pool is full, so a healed
 * zone is noticed and used again); open zones get nothing, except that when
 * every zone is open one launch may go to the least-bad zone, at a pace the
 * caller enforces (`allOpenProbe`), so the pool neither stops dead nor storms.
 * A closed zone with failures against it takes new machines only while its
 * machines with no outcome yet (`inFlight`, every pool's) stay under its
 * `inFlightLimit`: the rest go to other zones, or wait for the next reconcile.
 */
export function selectZones(input: {
  candidates: readonly ZoneCandidate[];
  counts: PoolCounts;
  deficit: number;
  probeSlots: ReadonlyMap<string, number>;
  allOpenProbe: boolean;
  inFlight?: ReadonlyMap<string, number>;
}): Selection {
  const { candidates, counts, deficit, probeSlots, inFlight } = input;
  const byZone = new Map(candidates.map((c) => [c.zone, c]));
  const placements: Placement[] = [];
  for (const [zone, slots] of probeSlots) {
    const type = byZone.get(zone)?.instanceTypes[0];
    for (let i = 0; type && i < slots; i++) placements.push({ zone, instanceType: type, probe: true });
  }
  const closed = candidates.filter((c) => c.state === 'closed' && usable(c));
  const rest = Math.max(0, deficit - placements.length);
  for (const zone of spreadZones(closed.map((c) => c.zone), counts, rest, roomOf(closed, inFlight))) {
    placements.push({ zone, instanceType: byZone.get(zone)!.instanceTypes[0]!, probe: false });
  }
  const allZonesOpen = closed.length === 0;
  if (allZonesOpen && input.allOpenProbe && rest > 0 && probeSlots.size === 0) {
    const least = leastBad(candidates.filter(usable));
    if (least) placements.push({ zone: least.zone, instanceType: least.instanceTypes[0]!, probe: false });
  }
  return { placements, allZonesOpen };
}

/** Per limited zone, how many more machines it may take: its in-flight limit less those in flight. */
function roomOf(closed: readonly ZoneCandidate[], inFlight: ReadonlyMap<string, number> | undefined): Map<string, number> {
  const room = new Map<string, number>();
  for (const c of closed) if (c.inFlightLimit !== undefined) room.set(c.zone, c.inFlightLimit - (inFlight?.get(c.zone) ?? 0));
  return room;
}

/**
 * Where a machine goes when the store refused its zone (the zone reached its
 * in-flight limit meanwhile, through another producer or pool): the closed,
 * usable zone holding the fewest, among those not refused yet; undefined when
 * none is left.
 */
export function fallbackPlacement(input: {
  candidates: readonly ZoneCandidate[];
  counts: PoolCounts;
  refused: ReadonlySet<string>;
  inFlight?: ReadonlyMap<string, number>;
}): Placement | undefined {
  const closed = input.candidates.filter((c) => c.state === 'closed' && usable(c) && !input.refused.has(c.zone));
  const [zone] = spreadZones(closed.map((c) => c.zone), input.counts, 1, roomOf(closed, input.inFlight));
  const type = closed.find((c) => c.zone === zone)?.instanceTypes[0];
  return zone && type ? { zone, instanceType: type, probe: false } : undefined;
}

/** The open zone most likely to work: lowest failure rate, then the one due to reopen soonest. */
export function leastBad(candidates: readonly ZoneCandidate[]): ZoneCandidate | undefined {
  return [...candidates].sort((a, b) => a.failureRate - b.failureRate || (a.openUntil ?? 0) - (b.openUntil ?? 0))[0];
}

/**
 * Picks a zone for each of `n` new machines, keeping the warm pool spread
 * evenly: every pick goes to the zone holding the fewest ready or warming
 * machines so far (ties to the earlier zone in `zones`). Leased machines do
 * not count: they are leaving the pool, and the zone they leave needs
 * refilling; nor do slow boots, which the pool no longer counts on. A zone
 * in `room` takes at most that many picks; when no zone can take one, fewer
 * than `n` are returned.
 */
export function spreadZones(zones: readonly string[], counts: PoolCounts, n: number, room: ReadonlyMap<string, number> = new Map()): string[] {
  const held = new Map(zones.map((zone) => [zone, WARMING_STATES.reduce((sum, s) => sum + (counts[zone]?.[s] ?? 0), 0) - (counts[zone]?.slow ?? 0)]));
  const left = new Map(room);
  const picks: string[] = [];
  for (let i = 0; i < n; i++) {
    let best: string | undefined;
    for (const zone of zones) if ((left.get(zone) ?? 1) > 0 && (best === undefined || held.get(zone)! < held.get(best)!)) best = zone;
    if (best === undefined) break;
    picks.push(best);
    held.set(best, held.get(best)! + 1);
    if (left.has(best)) left.set(best, left.get(best)! - 1);
  }
  return picks;
}
