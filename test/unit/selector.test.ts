import { describe, expect, it } from 'vitest';
import { allZonesBlocked, probeCandidates, selectZones, spreadZones, type ZoneCandidate } from '../../src/zones/selector.js';

const zones = ['sim/zone-a', 'sim/zone-b', 'sim/zone-c'];

describe('spreadZones', () => {
  it('spreads an empty pool evenly across zones', () => {
    expect(spreadZones(zones, {}, 3)).toEqual(zones);
    expect(spreadZones(zones, {}, 5)).toEqual(['sim/zone-a', 'sim/zone-b', 'sim/zone-c', 'sim/zone-a', 'sim/zone-b']);
  });

  it('fills the zones that hold the fewest ready or warming machines first', () => {
    const counts = { 'sim/zone-a': { ready: 2 }, 'sim/zone-b': { booting: 1 } };
    expect(spreadZones(zones, counts, 3)).toEqual(['sim/zone-c', 'sim/zone-b', 'sim/zone-c']);
  });

  it('refills the zone a lease emptied, since leased machines are leaving the pool', () => {
    const counts = { 'sim/zone-a': { ready: 1 }, 'sim/zone-b': { leased: 3 }, 'sim/zone-c': { ready: 1 } };
    expect(spreadZones(zones, counts, 1)).toEqual(['sim/zone-b']);
  });

  it('ignores machines that are on their way out or leased', () => {
    const counts = { 'sim/zone-a': { terminating: 5, failed: 2, leased: 4 } };
    expect(spreadZones(zones, counts, 1)).toEqual(['sim/zone-a']);
  });

  it('gives a zone with room no more picks than its room, the rest to the others, and stops when no zone has room', () => {
    expect(spreadZones(zones, {}, 6, new Map([['sim/zone-b', 1]]))).toEqual(['sim/zone-a', 'sim/zone-b', 'sim/zone-c', 'sim/zone-a', 'sim/zone-c', 'sim/zone-a']);
    expect(spreadZones(['sim/zone-b'], {}, 3, new Map([['sim/zone-b', 2]]))).toEqual(['sim/zone-b', 'sim/zone-b']);
    expect(spreadZones(['sim/zone-b'], {}, 3, new Map([['sim/zone-b', -1]]))).toEqual([]);
  });

  it('returns nothing when there is no zone or nothing to launch', () => {
    expect(spreadZones([], {}, 3)).toEqual([]);
    expect(spreadZones(zones, {}, 0)).toEqual([]);
  });
});

const candidate = (zone: string, extra: Partial<ZoneCandidate> = {}): ZoneCandidate => ({
  zone,
  state: 'closed',
  failureRate: 0,
  instanceTypes: ['t3.small', 't3.medium'],
  reachable: true,
  ...extra,
});

describe('selectZones', () => {
  const none = new Map<string, number>();

  it('spreads the deficit over closed zones only, never into an open one', () => {
    const candidates = [candidate('sim/zone-a'), candidate('sim/zone-b', { state: 'open', failureRate: 1 }), candidate('sim/zone-c')];
    const { placements, allZonesOpen } = selectZones({ candidates, counts: {}, deficit: 4, probeSlots: none, allOpenProbe: true });
    expect(placements.map((p) => p.zone)).toEqual(['sim/zone-a', 'sim/zone-c', 'sim/zone-a', 'sim/zone-c']);
    expect(placements.every((p) => !p.probe && p.instanceType === 't3.small')).toBe(true);
    expect(allZonesOpen).toBe(false);
  });

  it('sends a half-open zone exactly its reserved probe slots, which count toward the deficit', () => {
    const candidates = [candidate('sim/zone-a'), candidate('sim/zone-b', { state: 'half-open' })];
    const { placements } = selectZones({ candidates, counts: {}, deficit: 3, probeSlots: new Map([['sim/zone-b', 2]]), allOpenProbe: false });
    expect(placements).toEqual([
      { zone: 'sim/zone-b', instanceType: 't3.small', probe: true },
      { zone: 'sim/zone-b', instanceType: 't3.small', probe: true },
      { zone: 'sim/zone-a', instanceType: 't3.small', probe: false },
    ]);
  });

  it('launches reserved probes even when the pool is full, so a healed zone is used again', () => {
    const candidates = [candidate('sim/zone-a'), candidate('sim/zone-b', { state: 'half-open' })];
    const { placements } = selectZones({ candidates, counts: {}, deficit: 0, probeSlots: new Map([['sim/zone-b', 1]]), allOpenProbe: false });
    expect(placements).toEqual([{ zone: 'sim/zone-b', instanceType: 't3.small', probe: true }]);
  });

  it('keeps the machines in flight in a zone with failures against it within its inFlightLimit, counting every pool\'s', () => {
    // Zone b has emptied (its boots fail): the spread alone would send it every new machine.
    const counts = { 'sim/zone-a': { ready: 4 }, 'sim/zone-b': { booting: 2 }, 'sim/zone-c': { ready: 4 } };
    const candidates = [candidate('sim/zone-a'), candidate('sim/zone-b', { inFlightLimit: 3 }), candidate('sim/zone-c')];
    // Two of this pool's and none of another's in flight: one more fits.
    const one = selectZones({ candidates, counts, deficit: 4, probeSlots: none, allOpenProbe: false, inFlight: new Map([['sim/zone-b', 2]]) });
    expect(one.placements.map((p) => p.zone)).toEqual(['sim/zone-b', 'sim/zone-a', 'sim/zone-c', 'sim/zone-a']);
    // Another pool's machine in flight there too: zone b is full.
    const full = selectZones({ candidates, counts, deficit: 2, probeSlots: none, allOpenProbe: false, inFlight: new Map([['sim/zone-b', 3]]) });
    expect(full.placements.map((p) => p.zone)).toEqual(['sim/zone-a', 'sim/zone-c']);
    // No limit: a zone with nothing against it takes its spread share, however many are in flight.
    const free = selectZones({ candidates: [candidate('sim/zone-b')], counts, deficit: 3, probeSlots: none, allOpenProbe: false, inFlight: new Map([['sim/zone-b', 9]]) });
    expect(free.placements).toHaveLength(3);
  });

  it('uses the next instance type where the preferred one is sold out, and skips zones with none left', () => {
    const candidates = [candidate('sim/zone-a', { instanceTypes: ['t3.medium'] }), candidate('sim/zone-b', { instanceTypes: [] })];
    const { placements } = selectZones({ candidates, counts: {}, deficit: 2, probeSlots: none, allOpenProbe: false });
    expect(placements).toEqual([
      { zone: 'sim/zone-a', instanceType: 't3.medium', probe: false },
      { zone: 'sim/zone-a', instanceType: 't3.medium', probe: false },
    ]);
  });

  it('skips the zones of a cloud API this process cannot reach', () => {
    const candidates = [candidate('sim/zone-a', { reachable: false }), candidate('sim/zone-b')];
    expect(selectZones({ candidates, counts: {}, deficit: 2, probeSlots: none, allOpenProbe: false }).placements.map((p) => p.zone)).toEqual(['sim/zone-b', 'sim/zone-b']);
  });

  it('with every zone open, launches one machine into the least-bad zone when the pace allows, and none otherwise', () => {
    const candidates = [
      candidate('sim/zone-a', { state: 'open', failureRate: 0.9, openUntil: 50 }),
      candidate('sim/zone-b', { state: 'open', failureRate: 0.6, openUntil: 90 }),
      candidate('sim/zone-c', { state: 'open', failureRate: 0.6, openUntil: 70 }),
    ];
    const allowed = selectZones({ candidates, counts: {}, deficit: 3, probeSlots: none, allOpenProbe: true });
    expect(allowed).toEqual({ placements: [{ zone: 'sim/zone-c', instanceType: 't3.small', probe: false }], allZonesOpen: true });
    const paced = selectZones({ candidates, counts: {}, deficit: 3, probeSlots: none, allOpenProbe: false });
    expect(paced).toEqual({ placements: [], allZonesOpen: true });
  });
});

describe('probeCandidates and allZonesBlocked', () => {
  it('offers probes only in reachable half-open zones with an instance type to try', () => {
    const candidates = [
      candidate('sim/zone-a', { state: 'half-open' }),
      candidate('sim/zone-b', { state: 'half-open', reachable: false }),
      candidate('sim/zone-c', { state: 'half-open', instanceTypes: [] }),
    ];
    expect(probeCandidates(candidates)).toEqual(['sim/zone-a']);
    expect(allZonesBlocked(candidates)).toBe(true);
    expect(allZonesBlocked([...candidates, candidate('sim/zone-d')])).toBe(false);
  });
});
