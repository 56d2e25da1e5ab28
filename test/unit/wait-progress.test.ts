import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatWaitProgress, startProgress } from '../../src/cli/wait-progress.js';

afterEach(() => vi.useRealTimers());

describe('the lease wait progress line', () => {
  it('says how long so far, of how long, and for what', () => {
    expect(formatWaitProgress({ pool: 'small', elapsedMs: 12_400, waitMs: 40_000 })).toBe('vmpool: waiting for a ready machine in pool small: 12s of 40s');
    expect(formatWaitProgress({ pool: 'small', elapsedMs: 61_000, waitMs: 120_000, agentVersion: '1.6.0', why: 'refilling: 2 booting' })).toBe(
      'vmpool: waiting for a ready machine in pool small with agent 1.6.0: 1m1s of 2m (refilling: 2 booting)',
    );
  });

  it('writes nothing when the stream is not a terminal (a CI log, a pipe)', () => {
    vi.useFakeTimers();
    const written: string[] = [];
    const progress = startProgress({ isTTY: false, write: (text: string) => written.push(text) }, () => 'waiting');
    vi.advanceTimersByTime(5_000);
    progress.stop();
    expect(written).toEqual([]);
  });

  it('on a terminal, rewrites one line each second and erases it at the end', () => {
    vi.useFakeTimers();
    const written: string[] = [];
    let n = 0;
    const progress = startProgress({ isTTY: true, columns: 80, write: (text: string) => written.push(text) }, () => `waited ${++n}s`);
    vi.advanceTimersByTime(2_000);
    progress.stop();
    expect(written).toEqual(['\r\x1b[Kwaited 1s', '\r\x1b[Kwaited 2s', '\r\x1b[K']);
  });
});
