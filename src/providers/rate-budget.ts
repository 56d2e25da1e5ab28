import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { limitsFor, type ActionLimits } from './ec2-limits.js';
import { TAKE, THROTTLED } from './rate-budget-scripts.js';

/** A provider's `rateBudget` from the config, durations in ms. */
export interface RateBudgetSettings {
  /** Per action, replacing EC2's figures bucket by bucket. */
  actions: Readonly<Record<string, Partial<ActionLimits>>>;
  /** The first throttle of a run holds the action for half to all of this. */
  firstBackoff: number;
  /** Throttles in a row double the hold up to this; a quiet stretch this long starts over. */
  maxBackoff: number;
  /** A call goes once its tokens have been back this long: room for requests' varying latency (rate-budget-scripts.ts). */
  margin: number;
}

interface BudgetScripts {
  vmpoolBudgetTake(key: string, ...args: (string | number)[]): Promise<number>;
  vmpoolBudgetThrottled(key: string, ...args: (string | number)[]): Promise<number>;
}

export interface RateBudgetOptions {
  /** The scripts' clock; absent: Redis's own (vmpool). Tests pass one to check the arithmetic. */
  clock?: () => number;
  /** Draws the throttle backoff's jitter. */
  random?: () => number;
}

/**
 * One provider's API rate budget, shared through Redis by every vmpool
 * process: EC2 throttles per account and region, so a limit per process
 * would let N processes overrun it N times. Each call of an action takes a
 * token from the action's request bucket (and its resource bucket, for the
 * instances it launches or terminates), with EC2's figures as defaults; a
 * caller without tokens waits for its reserved turn and never fails for lack
 * of them. A throttled answer holds the action for every process.
 */
export class RateBudget {
  private readonly redis: Redis & BudgetScripts;
  private readonly clock: () => string;
  private readonly random: () => number;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    readonly provider: string,
    private readonly settings: RateBudgetSettings,
    options: RateBudgetOptions = {},
  ) {
    redis.defineCommand('vmpoolBudgetTake', { numberOfKeys: 1, lua: TAKE });
    redis.defineCommand('vmpoolBudgetThrottled', { numberOfKeys: 1, lua: THROTTLED });
    this.redis = redis as Redis & BudgetScripts;
    const { clock } = options;
    this.clock = clock ? () => String(clock()) : () => '';
    this.random = options.random ?? Math.random;
  }

  /**
   * Resolves when a call of `action` spending `resourceCost` instances may go:
   * at once when the buckets hold the tokens, else at the call's turn. Rejects
   * only when `signal` aborts (an `AbortError`); its reserved tokens stay spent.
   */
  async take(action: string, resourceCost: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abandoned(signal);
    // Abortable while Redis does not answer too (its commands wait for a reconnect, forever).
    const wait = await untilAborted(this.reserve(action, resourceCost), signal);
    if (wait <= 0) return;
    try {
      await sleep(wait, undefined, { signal });
    } catch {
      throw abandoned(signal);
    }
  }

  /** Spends one call's tokens and answers how many ms it must wait for its turn (0: go now). */
  async reserve(action: string, resourceCost: number): Promise<number> {
    const { request, resource } = this.limits(action);
    const args = [this.clock(), request.size, request.refill, resource?.size ?? 0, resource?.refill ?? 0, resourceCost, this.settings.maxBackoff, this.settings.margin];
    return Number(await this.redis.vmpoolBudgetTake(this.key(action), ...args));
  }

  /** The cloud throttled a call of `action`: every process holds the action's calls; answers for how many ms. */
  async throttled(action: string): Promise<number> {
    const { request } = this.limits(action);
    const args = [this.clock(), this.settings.firstBackoff, this.settings.maxBackoff, this.random(), request.size, request.refill];
    return Number(await this.redis.vmpoolBudgetThrottled(this.key(action), ...args));
  }

  private limits(action: string): ActionLimits {
    return limitsFor(action, this.settings.actions);
  }

  private key(action: string): string {
    return `${this.prefix}:cloud-budget:${this.provider}:${action}`;
  }
}

/**
 * Always an `AbortError`, whatever the signal's reason: the SDK's retry gives
 * up on that name, while a reason like `TimeoutError` would be retried.
 */
function abandoned(signal: AbortSignal | undefined): Error {
  return Object.assign(new Error('cloud call abandoned while waiting for the rate budget', { cause: signal?.reason }), { name: 'AbortError' });
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abandoned(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
