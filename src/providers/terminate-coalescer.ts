import type { CallOptions, Instance, LaunchRequest, Provider, TagMatch, TerminateResult } from './provider.js';
import type { PreflightCheck, PreflightPool } from './preflight-check.js';
import { abortScope } from '../abort-scope.js';

interface Waiting {
  instanceIds: readonly string[];
  signal?: AbortSignal;
  /** Its listener on `signal` (often the process's shutdown signal): removed once it is sent. */
  onAbort?: () => void;
  resolve(result: TerminateResult): void;
  reject(err: unknown): void;
}

/**
 * Terminations asked for while one is in flight go out together in the next
 * call: a producer ending two hundred machines a second makes a few
 * TerminateInstances calls a second, not two hundred (EC2 throttles mutating
 * calls per account; the call takes up to a thousand ids). The first request
 * goes at once, so a lone termination waits for nobody. Every other method
 * passes straight through.
 */
export class TerminateCoalescer implements Provider {
  private waiting: Waiting[] = [];
  private inFlight = false;

  constructor(private readonly inner: Provider) {}

  get name(): string {
    return this.inner.name;
  }

  terminate(instanceIds: readonly string[], options: CallOptions = {}): Promise<TerminateResult> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { instanceIds, signal, resolve, reject };
      this.waiting.push(waiting);
      // Giving up while waiting for its turn (the shutdown): answered at once, never sent.
      if (signal) {
        waiting.onAbort = () => this.giveUp(waiting, abortError(signal));
        signal.addEventListener('abort', waiting.onAbort, { once: true });
      }
      if (!this.inFlight) void this.send();
    });
  }

  private giveUp(waiting: Waiting, err: Error): void {
    if (!this.waiting.includes(waiting)) return; // sent already: that call's answer is its answer
    this.waiting = this.waiting.filter((w) => w !== waiting);
    waiting.reject(err);
  }

  private async send(): Promise<void> {
    this.inFlight = true;
    while (this.waiting.length > 0) {
      const batch = this.waiting;
      this.waiting = [];
      for (const w of batch) if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      const signals = batch.flatMap((w) => (w.signal ? [w.signal] : []));
      // Callers abandon a call only at the end of their shutdown grace, all at once: any one aborting ends it.
      const scope = signals.length > 0 ? abortScope(...signals) : undefined;
      try {
        const answer = await this.inner.terminate(batch.flatMap((w) => w.instanceIds), scope ? { signal: scope.signal } : {});
        // Each caller hears what the cloud said of its own ids.
        for (const w of batch) w.resolve({ confirmed: only(answer.confirmed, w.instanceIds), notFound: only(answer.notFound, w.instanceIds) });
      } catch (err) {
        for (const w of batch) w.reject(err);
      } finally {
        scope?.dispose();
      }
    }
    this.inFlight = false;
  }

  zones(): readonly string[] {
    return this.inner.zones();
  }

  launch(request: LaunchRequest, options?: CallOptions): Promise<Instance> {
    return this.inner.launch(request, options);
  }

  describe(instanceIds: readonly string[], options?: CallOptions): Promise<Map<string, Instance>> {
    return this.inner.describe(instanceIds, options);
  }

  listByTags(tags: Readonly<Record<string, TagMatch>>, options?: CallOptions): Promise<Instance[]> {
    return this.inner.listByTags(tags, options);
  }

  tag(instanceIds: readonly string[], tags: Readonly<Record<string, string>>, options?: CallOptions): Promise<void> {
    return this.inner.tag(instanceIds, tags, options);
  }

  preflight(pool: PreflightPool, options?: CallOptions): Promise<PreflightCheck[]> {
    return this.inner.preflight ? this.inner.preflight(pool, options) : Promise.resolve([]);
  }

  close(): void {
    this.inner.close?.();
  }

  isAvailable(): boolean {
    return this.inner.isAvailable?.() ?? true;
  }
}

function only(ids: ReadonlySet<string>, wanted: readonly string[]): Set<string> {
  return new Set(wanted.filter((id) => ids.has(id)));
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted', { cause: signal.reason });
}
