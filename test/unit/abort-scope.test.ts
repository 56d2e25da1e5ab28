import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { abortScope } from '../../src/abort-scope.js';

describe('abortScope', () => {
  it('aborts with its parent, and with the reason of whichever parent aborts first', () => {
    const shutdown = new AbortController();
    const client = new AbortController();
    const scope = abortScope(client.signal, shutdown.signal);
    expect(scope.signal.aborted).toBe(false);
    shutdown.abort(new Error('grace over'));
    expect(scope.signal.aborted).toBe(true);
    expect((scope.signal.reason as Error).message).toBe('grace over');
  });

  it('starts aborted under a parent that already is, and never aborts its parents itself', () => {
    const done = new AbortController();
    done.abort('gone');
    expect(abortScope(done.signal).signal.reason).toBe('gone');
    const parent = new AbortController();
    abortScope(parent.signal).abort('own reason');
    expect(parent.signal.aborted).toBe(false);
  });

  it('leaves a long-lived parent with no listener once each piece of work is over, however many there were', () => {
    const shutdown = new AbortController();
    for (let i = 0; i < 1_000; i++) {
      const scope = abortScope(shutdown.signal, undefined);
      scope.signal.addEventListener('abort', () => undefined);
      if (i % 2 === 0) scope.dispose();
      else scope.abort('ended early');
    }
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    const after = abortScope(shutdown.signal);
    shutdown.abort();
    expect(after.signal.aborted).toBe(true);
  });
});
