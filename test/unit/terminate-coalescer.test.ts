import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Provider, TerminateResult } from '../../src/providers/provider.js';
import { TerminateCoalescer } from '../../src/providers/terminate-coalescer.js';
import { waitFor } from '../helpers/wait-for.js';

/** A provider whose terminate calls stay in flight until the test settles them. */
function heldProvider() {
  /** Settled with the confirmed ids, the cloud's whole answer, or an error. */
  const calls: { ids: string[]; settle(answer: string[] | TerminateResult | Error): void }[] = [];
  const provider = {
    name: 'sim',
    terminate: (ids: readonly string[]) =>
      new Promise<TerminateResult>((resolve, reject) => {
        calls.push({ ids: [...ids], settle: (a) => (a instanceof Error ? reject(a) : resolve(Array.isArray(a) ? { confirmed: new Set(a), notFound: new Set() } : a)) });
      }),
  } as unknown as Provider;
  return { provider, calls };
}

describe('TerminateCoalescer', () => {
  it('sends a lone termination at once, and those asked for meanwhile together in the next call', async () => {
    const { provider, calls } = heldProvider();
    const coalescer = new TerminateCoalescer(provider);
    const first = coalescer.terminate(['i-1']);
    expect(calls.map((c) => c.ids)).toEqual([['i-1']]);
    const later = [coalescer.terminate(['i-2']), coalescer.terminate(['i-3', 'i-4']), coalescer.terminate(['i-5'])];
    expect(calls).toHaveLength(1);
    calls[0]!.settle(['i-1']);
    expect((await first).confirmed).toEqual(new Set(['i-1']));
    await waitFor(() => calls.length === 2);
    expect(calls[1]!.ids).toEqual(['i-2', 'i-3', 'i-4', 'i-5']);
    // The cloud confirmed some, did not know one, said nothing of the last: each caller hears about its own ids.
    calls[1]!.settle({ confirmed: new Set(['i-2', 'i-4']), notFound: new Set(['i-3']) });
    expect(await Promise.all(later)).toEqual([
      { confirmed: new Set(['i-2']), notFound: new Set() },
      { confirmed: new Set(['i-4']), notFound: new Set(['i-3']) },
      { confirmed: new Set(), notFound: new Set() },
    ]);
  });

  it('fails every caller of a failed call, and goes on with the next ones', async () => {
    const { provider, calls } = heldProvider();
    const coalescer = new TerminateCoalescer(provider);
    const first = coalescer.terminate(['i-1']);
    const second = coalescer.terminate(['i-2']);
    const third = coalescer.terminate(['i-3']);
    calls[0]!.settle(new Error('RequestLimitExceeded'));
    await expect(first).rejects.toThrow('RequestLimitExceeded');
    await waitFor(() => calls.length === 2);
    calls[1]!.settle(new Error('Unavailable'));
    await expect(Promise.all([second, third])).rejects.toThrow('Unavailable');
    const fourth = coalescer.terminate(['i-4']);
    await waitFor(() => calls.length === 3);
    calls[2]!.settle(['i-4']);
    expect((await fourth).confirmed).toEqual(new Set(['i-4']));
  });

  it('never sends the ids of a caller that gave up while waiting for its turn', async () => {
    const { provider, calls } = heldProvider();
    const coalescer = new TerminateCoalescer(provider);
    const first = coalescer.terminate(['i-1']);
    const gone = new AbortController();
    const abandoned = coalescer.terminate(['i-2'], { signal: gone.signal });
    const kept = coalescer.terminate(['i-3']);
    gone.abort(new Error('shutdown'));
    // Answered at once, while the call ahead of it is still in flight.
    await expect(abandoned).rejects.toThrow('shutdown');
    calls[0]!.settle(['i-1']);
    await first;
    await waitFor(() => calls.length === 2);
    expect(calls[1]!.ids).toEqual(['i-3']);
    calls[1]!.settle(['i-3']);
    expect((await kept).confirmed).toEqual(new Set(['i-3']));
  });

  it('leaves no listener on its callers’ long-lived signal once their ids are sent', async () => {
    const { provider, calls } = heldProvider();
    const coalescer = new TerminateCoalescer(provider);
    const shutdown = new AbortController();
    const asked = [coalescer.terminate(['i-1'], { signal: shutdown.signal }), coalescer.terminate(['i-2'], { signal: shutdown.signal })];
    calls[0]!.settle(['i-1']);
    await waitFor(() => calls.length === 2);
    calls[1]!.settle(['i-2']);
    await Promise.all(asked);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });
});
