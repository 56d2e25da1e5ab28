/**
 * EC2's documented API throttling figures ("Request throttling for the
 * Amazon EC2 API"), per account and region. Every action has a request
 * bucket (one token per call); RunInstances and TerminateInstances also
 * have a resource bucket (one token per instance).
 *
 * The one source of these figures: the simulated cloud answers by them, and
 * vmpool's shared rate budget (rate-budget.ts) spends by them unless a
 * provider's `rateBudget.actions` says otherwise.
 */
export interface BucketLimit {
  /** Tokens the bucket holds when full: the burst. */
  size: number;
  /** Tokens added per second: the sustained rate. */
  refill: number;
}

export interface ActionLimits {
  request: BucketLimit;
  resource?: BucketLimit | undefined;
}

/** EC2's categories, for actions without figures of their own. */
export const CATEGORY_LIMITS = {
  mutating: { size: 50, refill: 5 },
  nonMutating: { size: 100, refill: 20 },
  /** A non-mutating call without any filter or pagination: the costliest kind of read. */
  unfilteredNonMutating: { size: 50, refill: 10 },
} as const satisfies Record<string, BucketLimit>;

/** The actions with figures of their own, and their resource buckets. */
export const ACTION_LIMITS: Readonly<Record<string, ActionLimits>> = {
  RunInstances: { request: { size: 5, refill: 2 }, resource: { size: 1000, refill: 2 } },
  TerminateInstances: { request: { size: 100, refill: 5 }, resource: { size: 1000, refill: 20 } },
  CreateTags: { request: { size: 100, refill: 10 } },
  DescribeInstances: { request: CATEGORY_LIMITS.nonMutating },
};

/** Non-mutating actions by EC2's naming rule. */
export function isNonMutating(action: string): boolean {
  return /^(Describe|List|Get|Search)/.test(action);
}

/** An action's limits: its own figures, else its category's; `overrides` (from `sim.throttling.actions` or `rateBudget.actions`) win bucket by bucket. */
export function limitsFor(action: string, overrides: Readonly<Record<string, Partial<ActionLimits>>> = {}): ActionLimits {
  const own: ActionLimits = ACTION_LIMITS[action] ?? { request: isNonMutating(action) ? CATEGORY_LIMITS.nonMutating : CATEGORY_LIMITS.mutating };
  const override = overrides[action] ?? {};
  return { request: override.request ?? own.request, resource: override.resource ?? own.resource };
}
