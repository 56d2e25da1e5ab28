import CircuitBreaker from 'opossum';
import { classify, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CallOptions, Instance, LaunchRequest, Provider, TagMatch, TerminateResult } from './provider.js';
import { abortScope } from '../abort-scope.js';

/** `cloudApi` from the config, durations in ms. */
export interface CloudApiGuardOptions {
  /** A call slower than this is rejected and counted as a failure. */
  timeout: number;
  /** opossum opens only when the failure share is strictly above this. */
  errorThresholdPercentage: number;
  /** Calls in the rolling window (opossum's default, 10 s) before it may open. */
  volumeThreshold: number;
  resetTimeout: number;
}

export type CloudApiState = 'closed' | 'open' | 'half-open' | 'shut-down';
export type UnavailableReason = 'open' | 'timeout' | 'shutdown';

const DETAIL: Record<UnavailableReason, string> = { open: 'failing fast after repeated failures', timeout: 'no answer within the timeout', shutdown: 'provider closed' };
const REASON_BY_CODE: Record<string, UnavailableReason> = { EOPENBREAKER: 'open', ETIMEDOUT: 'timeout', ESHUTDOWN: 'shutdown' };

/** The guard's own refusal: the cloud API was not called, or its answer was not awaited. */
export class CloudApiUnavailableError extends Error {
  override readonly name = 'CloudApiUnavailable';

  constructor(
    readonly provider: string,
    readonly reason: UnavailableReason,
    options?: ErrorOptions,
  ) {
    super(`cloud API of provider "${provider}" unavailable: ${DETAIL[reason]}`, options);
  }
}

type ErrorShape = { name?: string; code?: string; $fault?: string; $metadata?: { httpStatusCode?: number } };

// Node's codes for a request that got no HTTP answer (the SDK retries the same set).
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * True when an error says the endpoint is down (no HTTP answer, a 5xx, the
 * guard's timeout); false for an answer the endpoint gave on purpose
 * (capacity, throttling, bad parameters, unknown ids, auth) and for errors
 * the provider raised without calling the cloud.
 */
export function isEndpointFailure(err: unknown): boolean {
  if (err instanceof CallAbortedError) return false;
  if (err instanceof Error && CircuitBreaker.isOurError(err)) return true;
  const shape = (err ?? {}) as ErrorShape;
  // By name first: EC2 sends InsufficientInstanceCapacity as a 500 and
  // RequestLimitExceeded as a 503 (the SDK marks both $fault 'server'), yet
  // both are deliberate answers. A name classify() knows without a status is one.
  if (classify({ name: shape.name ?? shape.code }) !== 'transient') return false;
  const status = shape.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500;
  if (shape.$fault === 'server') return true;
  // No HTTP answer: the SDK's retry stack stamps $metadata (attempts) on what
  // passed through it; raw socket errors carry a Node code.
  return shape.$metadata !== undefined || shape.name === 'TimeoutError' || NETWORK_CODES.has(shape.code ?? '');
}

type Call = () => Promise<unknown>;

/** After the guard's timeout rejected a call, the SDK request still runs this long before it is abandoned. */
const ABANDON_AFTER_TIMEOUT_MS = 1_000;

/** The caller gave up on the call (a shutdown's grace ran out): nothing the endpoint did. */
export class CallAbortedError extends Error {
  override readonly name = 'CallAborted';

  constructor(provider: string, reason: unknown) {
    super(`call to the cloud API of provider "${provider}" abandoned by its caller`, { cause: reason });
  }
}

/**
 * A `Provider` behind one per-process opossum breaker on its API endpoint:
 * while the endpoint keeps failing, calls fail fast with
 * `CloudApiUnavailableError` instead of piling up behind SDK retries, and
 * `isAvailable()` tells this process's zone choice to skip the provider.
 * Zone health across processes is the Redis breaker's job, not this one's.
 */
export class GuardedProvider implements Provider {
  readonly name: string;
  private readonly breaker: CircuitBreaker<[Call], unknown>;
  private lastFailure: unknown;
  private readonly timeoutMs: number;

  constructor(
    private readonly inner: Provider,
    options: CloudApiGuardOptions,
    logger: Logger,
  ) {
    this.name = inner.name;
    this.timeoutMs = options.timeout;
    const log = logger.child({ component: 'cloud-api-guard', provider: inner.name });
    // One generic action, so the five methods share one endpoint's statistics.
    // No opossum abortController: it holds one per breaker and a timeout would
    // abort every call in flight. Each call gets its own signal instead (guard()).
    this.breaker = new CircuitBreaker((call: Call) => call(), {
      name: `cloud-api:${inner.name}`,
      timeout: options.timeout,
      errorThresholdPercentage: options.errorThresholdPercentage,
      volumeThreshold: options.volumeThreshold,
      resetTimeout: options.resetTimeout,
      // Filtered errors still reject the caller unchanged; opossum counts them as successes.
      errorFilter: (err: unknown) => !isEndpointFailure(err),
      enableSnapshots: false,
    });
    this.breaker.on('failure', (err) => {
      this.lastFailure = err;
    });
    // opossum emits each transition once, so each is logged once.
    this.breaker.on('open', () => log.warn({ lastError: describeError(this.lastFailure), retryInMs: options.resetTimeout }, 'cloud API failing: failing fast'));
    this.breaker.on('halfOpen', () => log.info('cloud API: letting one trial call through'));
    this.breaker.on('close', () => log.info('cloud API answering again'));
  }

  zones(): readonly string[] {
    return this.inner.zones();
  }

  launch(request: LaunchRequest, options?: CallOptions): Promise<Instance> {
    return this.guard((o) => this.inner.launch(request, o), options);
  }

  describe(instanceIds: readonly string[], options?: CallOptions): Promise<Map<string, Instance>> {
    return this.guard((o) => this.inner.describe(instanceIds, o), options);
  }

  terminate(instanceIds: readonly string[], options?: CallOptions): Promise<TerminateResult> {
    return this.guard((o) => this.inner.terminate(instanceIds, o), options);
  }

  tag(instanceIds: readonly string[], tags: Readonly<Record<string, string>>, options?: CallOptions): Promise<void> {
    return this.guard((o) => this.inner.tag(instanceIds, tags, o), options);
  }

  listByTags(tags: Readonly<Record<string, TagMatch>>, options?: CallOptions): Promise<Instance[]> {
    return this.guard((o) => this.inner.listByTags(tags, o), options);
  }

  /**
   * False while calls would fail fast. True in half-open until the one trial
   * call is taken: if zone choice skipped half-open providers, a process that
   * only launches would never send the trial and never recover.
   */
  isAvailable(): boolean {
    return this.breaker.closed || (this.breaker.halfOpen && this.breaker.pendingClose);
  }

  /** For status and metrics: what this process does with the provider's calls right now. */
  state(): CloudApiState {
    if (this.breaker.isShutdown) return 'shut-down';
    if (this.breaker.opened) return 'open';
    return this.breaker.halfOpen ? 'half-open' : 'closed';
  }

  /** Stops the breaker's timers, then releases the inner provider's connections. */
  close(): void {
    this.breaker.shutdown();
    this.inner.close?.();
  }

  /**
   * Fires `call` through the breaker. Its signal aborts the SDK request a
   * little after the guard's timeout rejected it (so the socket is freed, not
   * left to a hung endpoint), and when the caller aborts: then the call ends
   * with the caller's reason, which is no failure of the endpoint.
   */
  private async guard<T>(call: (options: CallOptions) => Promise<T>, { signal }: CallOptions = {}): Promise<T> {
    // The caller's signal is often its process's shutdown signal: a scope per call, gone when the call ends.
    const scope = abortScope(signal);
    const giveUp = setTimeout(() => scope.abort(new DOMException('the cloud API call was abandoned after the guard’s timeout', 'TimeoutError')), this.timeoutMs + ABANDON_AFTER_TIMEOUT_MS);
    giveUp.unref();
    const end = () => {
      clearTimeout(giveUp);
      scope.dispose();
    };
    let started = false;
    const attempt = () => {
      started = true;
      return call({ signal: scope.signal })
        .catch((err: unknown) => {
          throw signal?.aborted ? new CallAbortedError(this.name, signal.reason) : err;
        })
        .finally(end);
    };
    try {
      return (await this.breaker.fire(attempt)) as T;
    } catch (err) {
      if (!started) end(); // refused without a call (open, shut down)
      if (err instanceof Error && CircuitBreaker.isOurError(err)) {
        const code = (err as ErrorShape).code ?? '';
        throw new CloudApiUnavailableError(this.name, REASON_BY_CODE[code] ?? 'open', { cause: err });
      }
      throw err;
    }
  }
}
