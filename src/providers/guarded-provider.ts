import CircuitBreaker from 'opossum';
import { classify, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CallOptions, Instance, LaunchRequest, Provider, TagMatch, TerminateResult } from './provider.js';
import type { PreflightCheck, PreflightPool } from './preflight-check.js';
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
    options?: ErrorOptions & { action?: string },
  ) {
    super(`cloud API of provider "${provider}" unavailable${options?.action ? ` for ${options.action}` : ''}: ${DETAIL[reason]}`, options);
    this.action = options?.action;
  }

  /** The guarded action refused (launch, describe, terminate, tag). */
  readonly action: string | undefined;
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
 * The calls the guard keeps apart, each with its own breaker: EC2 throttles,
 * authorizes and fails per action, so RunInstances failing must not stop
 * terminations (instances billing) or the reaper's listing. `describe`
 * covers both DescribeInstances callers (describe and listByTags).
 */
export const GUARDED_ACTIONS = ['launch', 'describe', 'terminate', 'tag'] as const;
export type GuardedAction = (typeof GUARDED_ACTIONS)[number];

/**
 * A `Provider` behind per-process opossum breakers, one per action of its
 * API endpoint: while an action keeps failing, its calls fail fast with
 * `CloudApiUnavailableError` instead of piling up behind SDK retries, and
 * the provider's other actions go on. `isAvailable()` follows the launch
 * action alone: it tells this process's zone choice whether launches can
 * go. Zone health across processes is the Redis breaker's job, not this one's.
 */
export class GuardedProvider implements Provider {
  readonly name: string;
  private readonly breakers: Record<GuardedAction, CircuitBreaker<[Call], unknown>>;
  private readonly timeoutMs: number;

  constructor(
    private readonly inner: Provider,
    options: CloudApiGuardOptions,
    logger: Logger,
  ) {
    this.name = inner.name;
    this.timeoutMs = options.timeout;
    const log = logger.child({ component: 'cloud-api-guard', provider: inner.name });
    const entries = GUARDED_ACTIONS.map((action) => [action, guardFor(`cloud-api:${inner.name}:${action}`, options, log.child({ action }))] as const);
    this.breakers = Object.fromEntries(entries) as Record<GuardedAction, CircuitBreaker<[Call], unknown>>;
  }

  zones(): readonly string[] {
    return this.inner.zones();
  }

  launch(request: LaunchRequest, options?: CallOptions): Promise<Instance> {
    return this.guard('launch', (o) => this.inner.launch(request, o), options);
  }

  describe(instanceIds: readonly string[], options?: CallOptions): Promise<Map<string, Instance>> {
    return this.guard('describe', (o) => this.inner.describe(instanceIds, o), options);
  }

  terminate(instanceIds: readonly string[], options?: CallOptions): Promise<TerminateResult> {
    return this.guard('terminate', (o) => this.inner.terminate(instanceIds, o), options);
  }

  tag(instanceIds: readonly string[], tags: Readonly<Record<string, string>>, options?: CallOptions): Promise<void> {
    return this.guard('tag', (o) => this.inner.tag(instanceIds, tags, o), options);
  }

  listByTags(tags: Readonly<Record<string, TagMatch>>, options?: CallOptions): Promise<Instance[]> {
    return this.guard('describe', (o) => this.inner.listByTags(tags, o), options);
  }

  /** Straight to the cloud, not through the guard: a check at start neither waits on nor trips the endpoint breaker. */
  preflight(pool: PreflightPool, options?: CallOptions): Promise<PreflightCheck[]> {
    return this.inner.preflight ? this.inner.preflight(pool, options) : Promise.resolve([]);
  }

  /**
   * Whether launches can go: false while launch calls would fail fast. True
   * in half-open until the one trial call is taken: if zone choice skipped
   * half-open providers, a process that only launches would never send the
   * trial and never recover. The other actions do not count: a failing
   * DescribeInstances pauses boot clocks instead (InstanceWatcher).
   */
  isAvailable(): boolean {
    const launch = this.breakers.launch;
    return launch.closed || (launch.halfOpen && launch.pendingClose);
  }

  /** The launch action's state: what zone choice obeys (`states()` has every action's). */
  state(): CloudApiState {
    return stateOf(this.breakers.launch);
  }

  /** For status and metrics: what this process does with each action's calls right now. */
  states(): Record<GuardedAction, CloudApiState> {
    return Object.fromEntries(GUARDED_ACTIONS.map((action) => [action, stateOf(this.breakers[action])])) as Record<GuardedAction, CloudApiState>;
  }

  /** Stops the breakers' timers, then releases the inner provider's connections. */
  close(): void {
    for (const breaker of Object.values(this.breakers)) breaker.shutdown();
    this.inner.close?.();
  }

  /**
   * Fires `call` through its action's breaker. Its signal aborts the SDK request a
   * little after the guard's timeout rejected it (so the socket is freed, not
   * left to a hung endpoint), and when the caller aborts: then the call ends
   * with the caller's reason, which is no failure of the endpoint.
   */
  private async guard<T>(action: GuardedAction, call: (options: CallOptions) => Promise<T>, { signal }: CallOptions = {}): Promise<T> {
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
      return (await this.breakers[action].fire(attempt)) as T;
    } catch (err) {
      if (!started) end(); // refused without a call (open, shut down)
      if (err instanceof Error && CircuitBreaker.isOurError(err)) {
        const code = (err as ErrorShape).code ?? '';
        throw new CloudApiUnavailableError(this.name, REASON_BY_CODE[code] ?? 'open', { cause: err, action });
      }
      throw err;
    }
  }
}

function stateOf(breaker: CircuitBreaker<[Call], unknown>): CloudApiState {
  if (breaker.isShutdown) return 'shut-down';
  if (breaker.opened) return 'open';
  return breaker.halfOpen ? 'half-open' : 'closed';
}

/** One action's breaker; each transition is logged once (opossum emits each once). */
function guardFor(name: string, options: CloudApiGuardOptions, log: Logger): CircuitBreaker<[Call], unknown> {
  // No opossum abortController: it holds one per breaker and a timeout would
  // abort every call in flight. Each call gets its own signal instead (guard()).
  const breaker = new CircuitBreaker((call: Call) => call(), {
    name,
    timeout: options.timeout,
    errorThresholdPercentage: options.errorThresholdPercentage,
    volumeThreshold: options.volumeThreshold,
    resetTimeout: options.resetTimeout,
    // Filtered errors still reject the caller unchanged; opossum counts them as successes.
    errorFilter: (err: unknown) => !isEndpointFailure(err),
    enableSnapshots: false,
  });
  let lastFailure: unknown;
  breaker.on('failure', (err) => {
    lastFailure = err;
  });
  breaker.on('open', () => log.warn({ lastError: describeError(lastFailure), retryInMs: options.resetTimeout }, 'cloud API failing: failing fast'));
  breaker.on('halfOpen', () => log.info('cloud API: letting one trial call through'));
  breaker.on('close', () => log.info('cloud API answering again'));
  return breaker;
}
