/** A signal for one piece of work (a request, a call) that also aborts when a longer-lived one does. */
export interface AbortScope {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
  /** The work is over: the longer-lived signals forget this scope, so it can be collected. */
  dispose(): void;
}

/**
 * Why not `AbortSignal.any([own, shutdown])`: on Node 20 a signal made by
 * any() that has an abort listener (the AWS SDK, ssh2 and our own code all
 * add one) stays alive as long as any of its sources may still abort, and a
 * process's shutdown signal lives as long as the process. One per lease
 * request or cloud call is a leak without end (measured: about 1.3 KB each,
 * and any() itself slower as they pile up). A scope's listener on each
 * parent goes when the work ends.
 */
export function abortScope(...parents: readonly (AbortSignal | undefined)[]): AbortScope {
  const own = new AbortController();
  const live = parents.filter((p): p is AbortSignal => p !== undefined);
  const forward = (event: Event) => own.abort((event.target as AbortSignal).reason);
  const dispose = () => {
    for (const parent of live) parent.removeEventListener('abort', forward);
  };
  const already = live.find((p) => p.aborted);
  if (already) own.abort(already.reason);
  else for (const parent of live) parent.addEventListener('abort', forward, { once: true });
  own.signal.addEventListener('abort', dispose, { once: true });
  return { signal: own.signal, abort: (reason) => own.abort(reason), dispose };
}
