import { Ec2Error, dryRunOperation, requestLimitExceeded, unauthorizedOperation } from './ec2-error.js';
import { CATEGORY_LIMITS, limitsFor, type ActionLimits, type BucketLimit } from '../providers/ec2-limits.js';
import { TokenBucket } from './token-bucket.js';

/** What the gate needs to know of one EC2 request, read from its parameters by the query layer. */
export interface CallInfo {
  action: string;
  /** `DryRun=true`: check permissions, change nothing. */
  dryRun: boolean;
  /** Resource tokens the call would spend: instances launched (MaxCount) or terminated (ids). */
  resourceCost: number;
  /** A non-mutating call with no filter, id or page size: EC2's costliest read category. */
  unfiltered: boolean;
}

export interface ThrottlingOptions {
  enabled: boolean;
  /** Per action, replacing EC2's figures (tests shrink them). */
  actions?: Readonly<Record<string, Partial<ActionLimits>>>;
}

export interface BucketView extends BucketLimit {
  /** Tokens in the bucket now, rounded to 0.01. */
  level: number;
}

export interface ActionView {
  action: string;
  /** Requests received, whatever their answer. */
  calls: number;
  /** Answered `RequestLimitExceeded`. */
  throttled: number;
  /** Answered `UnauthorizedOperation` (the action is denied). */
  denied: number;
  /** Answered `DryRunOperation`. */
  dryRuns: number;
  /** The action's buckets as they stand; only those a call has touched exist. */
  buckets: Record<string, BucketView>;
}

/** A server error an action answers every request with: an outage of EC2's endpoint for that action. */
export interface ApiFailure {
  /** EC2's code: `ServiceUnavailable`, `Unavailable`, `InternalError`. */
  code: string;
  /** 5xx: the SDK retries it, then hands it to vmpool. */
  status: number;
}

export interface ApiReport {
  throttling: boolean;
  denied: string[];
  /** Actions in an outage and what they answer; absent while none is. */
  failing?: Record<string, ApiFailure>;
  actions: ActionView[];
}

type BucketKind = 'request' | 'unfiltered' | 'resource';

/**
 * The front door of the simulated region, before any request reaches the
 * model: EC2's token buckets (shared by every caller of this process, as
 * EC2's are by every caller of an account and region), the actions IAM
 * refuses on the operator's command, outages of single actions (a 5xx for
 * every request, on command), and `DryRun`. Keeps each action's
 * counts for `vmpool sim api`.
 */
export class ApiGate {
  private readonly denied = new Set<string>();
  private readonly failing = new Map<string, ApiFailure>();
  private readonly buckets = new Map<string, Map<BucketKind, TokenBucket>>();
  private readonly stats = new Map<string, Omit<ActionView, 'action' | 'buckets'>>();

  constructor(
    private readonly throttling: ThrottlingOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Throws the `Ec2Error` EC2 would answer before doing anything, in EC2's
   * order: throttling, then authorization, then DryRun; resource tokens are
   * spent only by a call that would go ahead.
   */
  admit(call: CallInfo): void {
    const stats = this.statsOf(call.action);
    stats.calls++;
    const failure = this.failing.get(call.action);
    // An endpoint in an outage answers before it counts tokens or checks anything.
    if (failure) throw new Ec2Error(failure.code, `${failure.status >= 503 ? 'The service is unavailable. Please try again shortly.' : 'An internal error has occurred.'} (simulated outage of ${call.action})`, failure.status);
    const now = this.now();
    if (this.throttling.enabled && !this.bucket(call.action, call.unfiltered ? 'unfiltered' : 'request', now)?.take(1, now)) {
      stats.throttled++;
      throw requestLimitExceeded();
    }
    if (this.denied.has(call.action)) {
      stats.denied++;
      throw unauthorizedOperation();
    }
    if (call.dryRun) {
      stats.dryRuns++;
      throw dryRunOperation();
    }
    const resource = this.throttling.enabled && call.resourceCost > 0 ? this.bucket(call.action, 'resource', now) : undefined;
    if (resource && !resource.take(call.resourceCost, now)) {
      stats.throttled++;
      throw requestLimitExceeded();
    }
  }

  /** From now on the action answers `UnauthorizedOperation`, DryRun or not. */
  deny(action: string): void {
    this.denied.add(action);
  }

  /** From now on the action answers `failure` (503 ServiceUnavailable unless told), DryRun or not, until healed. */
  fail(action: string, failure: ApiFailure = { code: 'ServiceUnavailable', status: 503 }): void {
    if (!(failure.status >= 500 && failure.status <= 599)) throw new RangeError(`status: expected a server error (500-599), got ${failure.status}`);
    this.failing.set(action, { ...failure });
  }

  /** Ends the outage of one action, or of every action when none is named. */
  heal(action?: string): void {
    if (action === undefined) this.failing.clear();
    else this.failing.delete(action);
  }

  /** Allows one action again, or every action when none is named. */
  allow(action?: string): void {
    if (action === undefined) this.denied.clear();
    else this.denied.delete(action);
  }

  report(): ApiReport {
    const now = this.now();
    const actions = [...new Set([...this.stats.keys(), ...this.buckets.keys()])].sort().map((action): ActionView => {
      const buckets: Record<string, BucketView> = {};
      for (const [kind, bucket] of this.buckets.get(action) ?? []) buckets[kind] = { size: bucket.size, refill: bucket.refill, level: Math.round(bucket.level(now) * 100) / 100 };
      return { action, ...(this.stats.get(action) ?? { calls: 0, throttled: 0, denied: 0, dryRuns: 0 }), buckets };
    });
    const failing = this.failing.size > 0 ? { failing: Object.fromEntries([...this.failing].sort(([a], [b]) => a.localeCompare(b))) } : {};
    return { throttling: this.throttling.enabled, denied: [...this.denied].sort(), ...failing, actions };
  }

  private statsOf(action: string) {
    let stats = this.stats.get(action);
    if (!stats) this.stats.set(action, (stats = { calls: 0, throttled: 0, denied: 0, dryRuns: 0 }));
    return stats;
  }

  // Buckets start full when an action is first called: the same as having been full since start.
  private bucket(action: string, kind: BucketKind, now: number): TokenBucket | undefined {
    const limits = limitsFor(action, this.throttling.actions);
    const limit = kind === 'request' ? limits.request : kind === 'resource' ? limits.resource : CATEGORY_LIMITS.unfilteredNonMutating;
    if (!limit) return undefined;
    let kinds = this.buckets.get(action);
    if (!kinds) this.buckets.set(action, (kinds = new Map<BucketKind, TokenBucket>()));
    let bucket = kinds.get(kind);
    if (!bucket) kinds.set(kind, (bucket = new TokenBucket(limit.size, limit.refill, now)));
    return bucket;
  }
}
