import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createLogger } from '../../src/log.js';
import { ZoneBreaker, type BreakerSettings } from '../../src/zones/breaker.js';

const settings: BreakerSettings = { window: 300_000, minOutcomes: 5, failureRate: 0.5, openFor: 120_000, maxOpenFor: 600_000, probes: 2 };
const quiet = createLogger({ level: 'silent', pretty: false });
const ZONE = 'sim/zone-b';
const T0 = 1_700_000_000_000;

let connections: Redis[] = [];
beforeAll(() => {
  connections = [new Redis(inject('redisUrl')), new Redis(inject('redisUrl'))];
});
afterAll(async () => {
  await Promise.all(connections.map((c) => c.quit()));
});

/** Two breaker clients on two connections sharing one prefix: what two processes see. */
function twoClients(): [ZoneBreaker, ZoneBreaker] {
  const prefix = `{vmpool-test-${randomBytes(4).toString('hex')}}`;
  return [new ZoneBreaker(connections[0]!, prefix, settings, quiet), new ZoneBreaker(connections[1]!, prefix, settings, quiet)];
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

  it('stays closed while the failure rate is below the threshold and no minOutcomes failures come in a row', async () => {
    const [a] = twoClients();
    for (let i = 0; i < 6; i++) await a.record(ZONE, 'ok', { probe: false, now: T0 });
    for (let i = 0; i < 5; i++) {
      await fail(a, 1, T0);
      await a.record(ZONE, 'ok', { probe: false, now: T0 });
    }
    expect(await stateOf(a, T0)).toMatchObject({ state: 'closed', outcomes: 16, failures: 5 });
  });

  it('opens on the failure rate with failures and successes interleaved', async () => {
    const [a] = twoClients();
    for (const outcome of ['bad', 'bad', 'ok', 'bad'] as const) await a.record(ZONE, outcome, { probe: false, now: T0 });
    expect((await stateOf(a, T0)).state).toBe('closed');
    expect(await a.record(ZONE, 'ok', { probe: false, now: T0 })).toMatchObject({ state: 'open', outcomes: 5, failures: 3 });
  });

  it('opens on minOutcomes failures in a row however many successes the window still holds: a zone that just died', async () => {
    const [a] = twoClients();
    for (let i = 0; i < 20; i++) await a.record(ZONE, 'ok', { probe: false, now: T0 });
    await fail(a, 4, T0 + 1);
    await a.record(ZONE, 'ok', { probe: false, now: T0 + 2 });
    await fail(a, 4, T0 + 3);
    expect((await stateOf(a, T0 + 3)).state).toBe('closed');
    const opened = await a.record(ZONE, 'bad', { probe: false, now: T0 + 4 });
    expect(opened).toMatchObject({ state: 'open', outcomes: 30, failures: 9 });
    expect((await a.audit())[0]).toMatchObject({ from: 'closed', to: 'open', why: '5 failures in a row' });
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
    expect(closed).toMatchObject({ state: 'closed', reopens: 0, outcomes: 0 });
  });

  it('re-opens on a failed probe for twice as long each time, capped at maxOpenFor, and resets after a clean close', async () => {
    const [a] = twoClients();
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
});
