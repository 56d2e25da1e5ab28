import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machines/machine.js';
import { LeaseHandout } from '../../src/pool/lease-handout.js';
import { waitFor } from '../helpers/wait-for.js';

const machine = (id: string) => ({ id, pool: 'small', zone: 'sim/zone-a', state: 'leased' }) as Machine;

/** A store whose ready machines are whatever the test puts in `ready`; counts the lease attempts. */
function fakeStore() {
  const store = {
    ready: [] as Machine[],
    attempts: 0,
    /** Resolves the attempt in flight when set: lets a test act in the middle of one. */
    hold: undefined as Promise<void> | undefined,
    leaseMany: async (_pool: string, _now: number, count: number) => {
      store.attempts++;
      await store.hold;
      return store.ready.splice(0, count);
    },
  };
  return store;
}

describe('LeaseHandout', () => {
  it('hands machines to waiting requests oldest first', async () => {
    const store = fakeStore();
    const handout = new LeaseHandout(store, Date.now);
    const answers = ['first', 'second', 'third'].map(() => handout.wait('small', Date.now() + 10_000));
    store.ready.push(machine('m-1'), machine('m-2'), machine('m-3'));
    expect((await Promise.all(answers)).map((m) => m?.id)).toEqual(['m-1', 'm-2', 'm-3']);
    expect(handout.waiting('small')).toBe(0);
  });

  it('makes one lease attempt per tick for the pool, however many requests wait', async () => {
    const store = fakeStore();
    const handout = new LeaseHandout(store, Date.now);
    const started = Date.now();
    const answers = Array.from({ length: 20 }, () => handout.wait('small', started + 300));
    expect(await Promise.all(answers)).toEqual(Array<undefined>(20).fill(undefined));
    // One request polling on its own every 50 ms would make about 6 attempts in 300 ms; twenty would make 120.
    expect(store.attempts).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 50) + 1);
  });

  it('answers nothing at once to a request whose client left before its turn, and never leases for it', async () => {
    const store = fakeStore();
    const handout = new LeaseHandout(store, Date.now);
    let release = () => undefined as void;
    store.hold = new Promise((resolve) => (release = resolve));
    const first = handout.wait('small', Date.now() + 10_000);
    await waitFor(() => store.attempts === 1);
    const gone = new AbortController();
    const second = handout.wait('small', Date.now() + 10_000, { signal: gone.signal });
    gone.abort();
    expect(await second).toBeUndefined();
    store.ready.push(machine('m-1'));
    release();
    expect((await first)?.id).toBe('m-1');
    expect(handout.waiting('small')).toBe(0);
  });

  it('still hands over a machine leased while its client was leaving, for the caller to release', async () => {
    const store = fakeStore();
    const handout = new LeaseHandout(store, Date.now);
    let release = () => undefined as void;
    store.hold = new Promise((resolve) => (release = resolve));
    const gone = new AbortController();
    const answer = handout.wait('small', Date.now() + 10_000, { signal: gone.signal });
    await waitFor(() => store.attempts === 1);
    gone.abort();
    store.ready.push(machine('m-1'));
    release();
    expect((await answer)?.id).toBe('m-1');
  });

  it('serves requests for one agent version apart: they get only that version, and never hold up the others', async () => {
    const ready: Machine[] = [];
    const take = (version?: string) => {
      const at = ready.findIndex((m) => version === undefined || m.agentVersion === version);
      return at < 0 ? undefined : ready.splice(at, 1)[0];
    };
    const leaseMany = (_pool: string, _now: number, count: number, version?: string) => {
      const taken: Machine[] = [];
      for (let m = take(version); m; m = taken.length < count ? take(version) : undefined) taken.push(m);
      return Promise.resolve(taken);
    };
    const handout = new LeaseHandout({ leaseMany }, Date.now);
    const canary = handout.wait('small', Date.now() + 10_000, { agentVersion: '1.6.0' });
    const any = handout.wait('small', Date.now() + 10_000);
    expect([handout.waiting('small', '1.6.0'), handout.waiting('small')]).toEqual([1, 1]);
    ready.push({ ...machine('m-stable'), agentVersion: '1.5.0' });
    expect((await any)?.id).toBe('m-stable');
    ready.push({ ...machine('m-canary'), agentVersion: '1.6.0' });
    expect((await canary)?.id).toBe('m-canary');
  });

  it('serves a burst of requests with one lease call and one tagging call, oldest first', async () => {
    const store = fakeStore();
    store.ready.push(...Array.from({ length: 60 }, (_, i) => machine(`m-${i}`)));
    const tagged: string[][] = [];
    const handout = new LeaseHandout(store, Date.now, (machines) => Promise.resolve(void tagged.push(machines.map((m) => m.id))));
    const answers = Array.from({ length: 50 }, () => handout.wait('small', Date.now()));
    const ids = (await Promise.all(answers)).map((m) => m?.id);
    expect(ids).toEqual(Array.from({ length: 50 }, (_, i) => `m-${i}`));
    expect(store.attempts).toBe(1);
    expect(tagged).toEqual([ids]);
  });

  it('answers a request without waiting for the tagging call, and tells when the tags it sent have landed', async () => {
    const store = fakeStore();
    store.ready.push(machine('m-1'));
    let tagDone = () => undefined as void;
    const tagging = new Promise<void>((resolve) => (tagDone = resolve));
    let tagged: string[] = [];
    const handout = new LeaseHandout(store, Date.now, (machines) => ((tagged = machines.map((m) => m.id)), tagging));
    expect((await handout.wait('small', Date.now()))?.id).toBe('m-1');
    expect(tagged).toEqual(['m-1']);
    let sent = false;
    const allSent = handout.tagsSent().then(() => (sent = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toBe(false);
    tagDone();
    await allSent;
    expect(sent).toBe(true);
  });

  it('leaves no listener on a request’s signal once it is answered or has given up', async () => {
    const store = fakeStore();
    store.ready.push(machine('m-1'));
    const handout = new LeaseHandout(store, Date.now);
    const shutdown = new AbortController();
    expect((await handout.wait('small', Date.now(), { signal: shutdown.signal }))?.id).toBe('m-1');
    expect(await handout.wait('small', Date.now(), { signal: shutdown.signal })).toBeUndefined();
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('still answers when the tagging call fails', async () => {
    const store = fakeStore();
    store.ready.push(machine('m-1'));
    const handout = new LeaseHandout(store, Date.now, () => Promise.reject(new Error('cloud API down')));
    expect((await handout.wait('small', Date.now()))?.id).toBe('m-1');
    await handout.tagsSent();
  });

  it('gives a request that may not wait exactly one attempt, and calls it waiting only when it may wait', async () => {
    const store = fakeStore();
    const handout = new LeaseHandout(store, Date.now);
    let waits = 0;
    expect(await handout.wait('small', Date.now(), { onWait: () => waits++ })).toBeUndefined();
    expect([store.attempts, waits]).toEqual([1, 0]);
    const later = handout.wait('small', Date.now() + 10_000, { onWait: () => waits++ });
    await waitFor(() => store.attempts >= 3);
    expect(waits).toBe(1);
    store.ready.push(machine('m-1'));
    expect((await later)?.id).toBe('m-1');
    expect(waits).toBe(1);
  });
});
