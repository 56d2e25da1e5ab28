import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createLogger } from '../../src/log.js';
import { seededRandom } from '../../src/local/seeded-random.js';
import { ZoneBreaker, type BreakerSettings } from '../../src/zones/breaker.js';

// As shipped (recentOutcomes twice minOutcomes, no growth), with two probes to show they are counted.
const settings: BreakerSettings = { window: 300_000, recentOutcomes: 10, minOutcomes: 5, failureRate: 0.5, openFor: 120_000, maxOpenFor: 120_000, probes: 2 };
const quiet = createLogger({ level: 'silent', pretty: false });
const ZONE = 'sim/zone-b';
const OTHER_ZONE = 'sim/zone-c';
const T0 = 1_700_000_000_000;

let connections: Redis[] = [];
beforeAll(() => {
  connections = [new Redis(inject('redisUrl')), new Redis(inject('redisUrl'))];
});
afterAll(async () => {
  await Promise.all(connections.map((c) => c.quit()));
});

/** Two breaker clients on two connections sharing one prefix: what two processes see. */
function twoClients(overrides: Partial<BreakerSettings> = {}): [ZoneBreaker, ZoneBreaker] {
  const prefix = `{vmpool-test-${randomBytes(4).toString('hex')}}`;
  const s = { ...settings, ...overrides };
  return [new ZoneBreaker(connections[0]!, prefix, s, quiet), new ZoneBreaker(connections[1]!, prefix, s, quiet)];
}

async function succeed(breaker: ZoneBreaker, times: number, now: number, probe = false) {
  for (let i = 0; i < times; i++) await breaker.record(ZONE, 'ok', { probe, now });
}

async function fail(breaker: ZoneBreaker, times: number, now: number, probe = false) {
  for (let i = 0; i < times; i++) await breaker.record(ZONE, 'bad', { probe, now });
}

const stateOf = async (breaker: ZoneBreaker, now: number) => (await breaker.read([ZONE], now)).get(ZONE)!;

describe('ZoneBreaker', () => {
  it('opens after minOutcomes failures in total, whichever process observed them', async () => {
    const [a, b] = twoClients();
    await fail(a, 2, T0);
    await fail(b, 2, T0 + 1_000);
    expect((await stateOf(a, T0 + 2_000)).state).toBe('closed');
    const health = await b.record(ZONE, 'bad', { probe: false, now: T0 + 2_000 });
    expect(health).toMatchObject({ state: 'open', failures: 5, outcomes: 5, failureRate: 1, openUntil: T0 + 2_000 + settings.openFor });
    expect((await stateOf(a, T0 + 3_000)).state).toBe('open');
  });

  it('stays closed while fewer than failureRate of the recent outcomes fail and no minOutcomes failures come in a row', async () => {
    const [a] = twoClients();
    await succeed(a, 6, T0);
    for (let i = 0; i < 8; i++) {
      await fail(a, 1, T0);
      await succeed(a, 2, T0);
    }
    // One failure in three: never 5 among any 10 in a row.
    expect(await stateOf(a, T0)).toMatchObject({ state: 'closed', outcomes: 10, failures: 3 });
  });

  it('opens on the failure rate with failures and successes interleaved, and only ever on a failure', async () => {
    const [a] = twoClients();
    for (const outcome of ['bad', 'bad', 'ok', 'bad'] as const) await a.record(ZONE, outcome, { probe: false, now: T0 });
    // 3 of 5 failed, but a success never opens a zone.
    expect(await a.record(ZONE, 'ok', { probe: false, now: T0 })).toMatchObject({ state: 'closed', outcomes: 5, failures: 3 });
    expect(await a.record(ZONE, 'bad', { probe: false, now: T0 })).toMatchObject({ state: 'open', outcomes: 6, failures: 4 });
  });

  it('judges a zone on its latest recentOutcomes: one that starts failing 60% of boots after a long healthy spell opens within minOutcomes failures', async () => {
    const [a] = twoClients();
    await succeed(a, 200, T0);
    let failures = 0;
    let health = await stateOf(a, T0);
    // 60% failures, never more than two in a row: the streak rule alone would not open it.
    for (const outcome of ['bad', 'ok', 'bad', 'bad', 'ok', 'bad', 'ok', 'bad', 'bad', 'ok'] as const) {
      health = await a.record(ZONE, outcome, { probe: false, now: T0 + 1 });
      if (outcome === 'bad') failures++;
      if (health.state === 'open') break;
    }
    expect(health).toMatchObject({ state: 'open', outcomes: 10, failures: 5 });
    expect(failures).toBe(settings.minOutcomes);
  });

  it('opens on minOutcomes failures in a row however many successes the recent outcomes still hold: a zone that just died', async () => {
    const [a] = twoClients({ recentOutcomes: 30 });
    await succeed(a, 20, T0);
    await fail(a, 4, T0 + 1);
    await a.record(ZONE, 'ok', { probe: false, now: T0 + 2 });
    await fail(a, 4, T0 + 3);
    expect((await stateOf(a, T0 + 3)).state).toBe('closed');
    const opened = await a.record(ZONE, 'bad', { probe: false, now: T0 + 4 });
    expect(opened).toMatchObject({ state: 'open', outcomes: 30, failures: 9 });
    expect((await a.audit())[0]).toMatchObject({ from: 'closed', to: 'open', why: '5 failures in a row' });
  });

  it('keeps a healthy zone with a 5% background failure rate closed over 3,000 outcomes', async () => {
    const [a] = twoClients();
    const random = seededRandom(42);
    let failures = 0;
    for (let i = 0; i < 3_000; i++) {
      const bad = random() < 0.05;
      if (bad) failures++;
      const health = await a.record(ZONE, bad ? 'bad' : 'ok', { probe: false, now: T0 + i * 100 });
      expect(health.state, `outcome ${i}`).toBe('closed');
    }
    expect(failures).toBeGreaterThan(100);
    expect((await a.audit()).filter((t) => t.to === 'open')).toEqual([]);
  });

  it('keeps constant memory per zone: at most recentOutcomes outcomes are stored', async () => {
    const prefix = `{vmpool-test-${randomBytes(4).toString('hex')}}`;
    const a = new ZoneBreaker(connections[0]!, prefix, settings, quiet);
    await succeed(a, 50, T0);
    await fail(a, 50, T0 + 1);
    expect(await connections[0]!.keys(`${prefix}:breaker:${ZONE}*`)).toHaveLength(2);
    expect(await connections[0]!.llen(`${prefix}:breaker:${ZONE}:recent`)).toBe(settings.recentOutcomes);
  });

  it('reports how many more failures would open a closed zone, and limits its machines in flight to that once it has failures against it', async () => {
    const [a] = twoClients();
    await succeed(a, 10, T0);
    expect(await stateOf(a, T0)).toMatchObject({ failuresToOpen: 5, inFlightLimit: undefined });
    for (const left of [4, 3, 2, 1]) expect(await a.record(ZONE, 'bad', { probe: false, now: T0 })).toMatchObject({ failuresToOpen: left, inFlightLimit: left });
    // A success ends the streak; the four failures among the last ten still bring the zone within one of the rate.
    expect(await a.record(ZONE, 'ok', { probe: false, now: T0 })).toMatchObject({ state: 'closed', failuresToOpen: 1, inFlightLimit: 1 });
    // Once enough successes follow, the zone is trusted fully again.
    await succeed(a, 5, T0);
    expect(await stateOf(a, T0)).toMatchObject({ state: 'closed', failuresToOpen: 5, inFlightLimit: undefined });
  });

  it('forgets outcomes older than the window, and a streak of failures a window apart', async () => {
    const [a] = twoClients();
    await fail(a, 4, T0);
    expect((await stateOf(a, T0 + settings.window + 20_000)).outcomes).toBe(0);
    await fail(a, 1, T0 + settings.window + 20_000);
    expect((await stateOf(a, T0 + settings.window + 20_000)).state).toBe('closed');
  });

  it('goes half-open after openFor and grants exactly `probes` reservations to 20 concurrent callers', async () => {
    const [a, b] = twoClients();
    await fail(a, 5, T0);
    expect(await a.reserveProbe(ZONE, T0 + 1_000)).toBe(false);
    const later = T0 + settings.openFor;
    const grants = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).reserveProbe(ZONE, later)));
    expect(grants.filter(Boolean)).toHaveLength(settings.probes);
    expect(await stateOf(a, later)).toMatchObject({ state: 'half-open', probesGranted: 2 });
  });

  it('closes when every probe succeeds, and ignores outcomes of machines that were not probes', async () => {
    const [a] = twoClients();
    await fail(a, 5, T0);
    const later = T0 + settings.openFor;
    await a.reserveProbe(ZONE, later);
    await a.reserveProbe(ZONE, later);
    await a.record(ZONE, 'bad', { probe: false, now: later + 1 });
    await a.record(ZONE, 'ok', { probe: true, now: later + 2 });
    expect((await stateOf(a, later + 3)).state).toBe('half-open');
    const closed = await a.record(ZONE, 'ok', { probe: true, now: later + 4 });
    // The recent failures are kept: the zone is closed on probation, one machine in flight at a time.
    expect(closed).toMatchObject({ state: 'closed', reopens: 0, outcomes: 8, failures: 6, failuresToOpen: 1, inFlightLimit: 1 });
  });

  it('re-opens a zone closed by its probes on its next failure, while its recent outcomes still hold the failures', async () => {
    const [a] = twoClients({ probes: 1 });
    await fail(a, 5, T0);
    const later = T0 + settings.openFor;
    expect(await a.reserveProbe(ZONE, later)).toBe(true);
    expect((await a.record(ZONE, 'ok', { probe: true, now: later + 1 })).state).toBe('closed');
    const reopened = await a.record(ZONE, 'bad', { probe: false, now: later + 2 });
    expect(reopened).toMatchObject({ state: 'open', openUntil: later + 2 + settings.openFor });
    expect((await a.audit())[0]).toMatchObject({ from: 'closed', to: 'open', why: 'failure rate reached' });
  });

  it('re-opens on a failed probe for openFor again each time, however long the zone keeps failing', async () => {
    const [a] = twoClients();
    await fail(a, 5, T0);
    let now = T0 + settings.openFor;
    for (let round = 0; round < 4; round++) {
      expect(await a.reserveProbe(ZONE, now)).toBe(true);
      const reopened = await a.record(ZONE, 'bad', { probe: true, now });
      expect(reopened).toMatchObject({ state: 'open', reopens: round + 1 });
      expect(reopened.openUntil! - now).toBe(settings.openFor);
      now = reopened.openUntil!;
    }
  });

  it('with maxOpenFor above openFor, re-opens for twice as long each time up to it, and resets after a clean close', async () => {
    const [a] = twoClients({ maxOpenFor: 600_000 });
    await fail(a, 5, T0);
    let now = T0 + settings.openFor;
    const expected = [240_000, 480_000, 600_000, 600_000];
    for (const openFor of expected) {
      expect(await a.reserveProbe(ZONE, now)).toBe(true);
      const reopened = await a.record(ZONE, 'bad', { probe: true, now });
      expect(reopened.state).toBe('open');
      expect(reopened.openUntil! - now).toBe(openFor);
      now = reopened.openUntil!;
    }
    await a.reserveProbe(ZONE, now);
    await a.reserveProbe(ZONE, now);
    await a.record(ZONE, 'ok', { probe: true, now });
    expect((await a.record(ZONE, 'ok', { probe: true, now })).state).toBe('closed');
    await fail(a, 5, now + 1);
    expect((await stateOf(a, now + 1)).openUntil).toBe(now + 1 + settings.openFor);
  });

  it('grants a new probe round when the last one never reported', async () => {
    const [a] = twoClients();
    await fail(a, 5, T0);
    const later = T0 + settings.openFor;
    expect(await a.reserveProbe(ZONE, later)).toBe(true);
    expect(await a.reserveProbe(ZONE, later)).toBe(true);
    expect(await a.reserveProbe(ZONE, later + 1)).toBe(false);
    expect(await a.reserveProbe(ZONE, later + settings.window)).toBe(true);
  });

  it('obeys a manual override in every process until it expires, then probes a forced-open zone before trusting it', async () => {
    const [a, b] = twoClients();
    await a.setMode(ZONE, 'forced-open', { reason: 'maintenance', by: 'alice', until: T0 + 60_000, now: T0 });
    expect(await stateOf(b, T0 + 1)).toMatchObject({ state: 'open', mode: 'forced-open', modeReason: 'maintenance', modeBy: 'alice', modeUntil: T0 + 60_000 });
    for (let i = 0; i < 10; i++) await b.record(ZONE, 'ok', { probe: false, now: T0 + 2 });
    expect((await stateOf(b, T0 + 3)).state).toBe('open');
    expect(await stateOf(b, T0 + 60_000)).toMatchObject({ state: 'half-open', mode: 'auto' });
  });

  it('keeps a forced-closed zone in use whatever its failures, and returns to auto on request', async () => {
    const [a] = twoClients();
    await a.setMode(ZONE, 'forced-closed', { reason: 'we know', by: 'bob', now: T0 });
    await fail(a, 10, T0);
    expect((await stateOf(a, T0)).state).toBe('closed');
    expect((await a.setMode(ZONE, 'auto', { reason: 'done', by: 'bob', now: T0 + 1 })).state).toBe('closed');
  });

  it('appends every transition, automatic or manual, to the audit stream with the failure rate', async () => {
    const [a] = twoClients();
    await fail(a, 5, T0);
    await a.read([ZONE], T0 + settings.openFor);
    await a.setMode(ZONE, 'forced-closed', { reason: 'drill', by: 'carol', now: T0 + settings.openFor + 1 });
    const entries = await a.audit();
    expect(entries.map((e) => `${e.from}>${e.to}:${e.why}`)).toEqual([
      'half-open>closed:manual forced-closed: drill',
      'open>half-open:open period over',
      'closed>open:failure rate reached',
    ]);
    expect(entries[2]).toMatchObject({ zone: ZONE, failureRate: 1, outcomes: 5, by: 'vmpool' });
    expect(entries[0]).toMatchObject({ by: 'carol' });
  });

  it('says in the audit when slow boots opened a zone: all of its failures, or how many of them', async () => {
    const [a, b] = twoClients();
    for (let i = 0; i < 5; i++) await a.record(ZONE, 'slow', { probe: false, now: T0 + i });
    expect((await stateOf(a, T0 + 10)).state).toBe('open');
    for (let i = 0; i < 3; i++) await b.record(OTHER_ZONE, 'bad', { probe: false, now: T0 + i });
    for (let i = 3; i < 5; i++) await b.record(OTHER_ZONE, 'slow', { probe: false, now: T0 + i });
    const whys = (await a.audit()).map((e) => `${e.zone}:${e.why}`);
    expect(whys).toContain(`${ZONE}:failure rate reached, all slow boots`);
    expect(whys).toContain(`${OTHER_ZONE}:failure rate reached, 2 of them slow boots`);
  });
});
