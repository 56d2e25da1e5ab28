import { formatDuration } from '../duration.js';

/** What a lease wait shows on a terminal: how long so far, of how long, for what. */
export function formatWaitProgress(p: { pool: string; elapsedMs: number; waitMs: number; agentVersion?: string; why?: string }): string {
  const what = `a ready machine in pool ${p.pool}${p.agentVersion ? ` with agent ${p.agentVersion}` : ''}`;
  return `vmpool: waiting for ${what}: ${formatDuration(Math.floor(p.elapsedMs / 1_000) * 1_000)} of ${formatDuration(p.waitMs)}${p.why ? ` (${p.why})` : ''}`;
}

export interface ProgressStream {
  isTTY?: boolean;
  /** The terminal's width: a longer line would wrap, and `\r` could not rewrite it. */
  columns?: number;
  write(text: string): unknown;
}

/**
 * Rewrites one status line on `stream` every `everyMs` until stopped, then
 * erases it. Only on a terminal: piped or redirected output (a CI log) gets
 * nothing, so scripts read the answer alone.
 */
export function startProgress(stream: ProgressStream, line: () => string, everyMs = 1_000): { stop(): void } {
  if (!stream.isTTY) return { stop: () => undefined };
  let shown = false;
  const timer = setInterval(() => {
    const text = line();
    stream.write(`\r\x1b[K${stream.columns && text.length >= stream.columns ? `${text.slice(0, stream.columns - 2)}…` : text}`);
    shown = true;
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
