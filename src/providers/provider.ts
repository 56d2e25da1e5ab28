import type { PreflightCheck, PreflightPool } from './preflight-check.js';

/**
 * What vmpool needs from a cloud. Implementations return partial results
 * rather than throwing where the cloud can answer for some machines only, and
 * every method is safe to call again after a crash (launch is idempotent on
 * `machineId`).
 */
export interface Provider {
  /** Short name from config, the first half of every zone id (`sim` in `sim/zone-a`). */
  readonly name: string;

  /** Zone names (without the provider prefix) this provider is configured to launch into. */
  zones(): readonly string[];

  /**
   * Launches one instance for a machine. Calling it twice with the same
   * `machineId` yields the same instance (the cloud's idempotency token).
   */
  launch(request: LaunchRequest, options?: CallOptions): Promise<Instance>;

  /**
   * Looks up many instances in one call (batched: never one call per
   * instance). Instances the cloud does not know are absent from the map.
   */
  describe(instanceIds: readonly string[], options?: CallOptions): Promise<Map<string, Instance>>;

  /**
   * Asks the cloud to terminate instances, in as few calls as the cloud
   * allows (an unknown id never costs a call per id), and reports what it
   * said of each: see `TerminateResult`. Ids in neither set must be retried.
   */
  terminate(instanceIds: readonly string[], options?: CallOptions): Promise<TerminateResult>;

  /**
   * Every live (not terminated) instance carrying the given tags, all pages.
   * A tag given a list matches any of its values (one call for many
   * machines, where the cloud takes that many values).
   */
  listByTags(tags: Readonly<Record<string, TagMatch>>, options?: CallOptions): Promise<Instance[]>;

  /** Adds or overwrites tags on instances (one call for many): the cloud-side record that survives a Redis loss. */
  tag(instanceIds: readonly string[], tags: Readonly<Record<string, string>>, options?: CallOptions): Promise<void>;

  /** Releases connections (the SDK's sockets). */
  close?(): void;

  /** False while this process fails fast on the provider's API; its zones are skipped meanwhile. */
  isAvailable?(): boolean;

  /**
   * Asks the cloud, without launching or changing anything, whether this
   * pool's launches and vmpool's other calls would be accepted: permissions,
   * the image, each instance type in each zone. One row per check; a check
   * the cloud refused is a row, not a rejection.
   */
  preflight?(pool: PreflightPool, options?: CallOptions): Promise<PreflightCheck[]>;
}

/** What the cloud said of the instances a termination named. */
export interface TerminateResult {
  /** The cloud says they are shutting down or terminated: the only proof an instance is ending. */
  confirmed: Set<string>;
  /**
   * The cloud says it does not know them (EC2's `InvalidInstanceID.NotFound`,
   * or an id that could never name an instance). Not proof of an end: right after a launch EC2 does not know the instance
   * yet. Gone only once the instance is older than the consistency grace
   * (`reaper.consistencyGrace`: src/pool/cloud-consistency.ts).
   */
  notFound: Set<string>;
}

/** One tag value, or any of several. */
export type TagMatch = string | readonly string[];

export interface CallOptions {
  /**
   * Abandons the call (the cloud may still carry it out: every call is safe
   * to repeat). A shutdown at the end of its grace, a guard's timeout.
   */
  signal?: AbortSignal;
}

export interface LaunchRequest {
  machineId: string;
  pool: string;
  /** Zone name without the provider prefix. */
  zone: string;
  imageId: string;
  instanceType: string;
  keyName?: string;
  /** Tags written at launch, so the instance is never untagged even for a moment. */
  tags: Readonly<Record<string, string>>;
}

export type InstanceState = 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';

export interface Instance {
  instanceId: string;
  state: InstanceState;
  /** Zone name without the provider prefix. */
  zone: string;
  instanceType: string;
  imageId: string;
  privateIp?: string;
  publicIp?: string;
  /** Provider launch time, epoch ms: the only source of a machine's age. */
  launchedAt: number;
  tags: Record<string, string>;
}

/** Tag keys vmpool writes on every instance it launches. */
export const TAGS = {
  managed: 'vmpool:managed',
  /** The installation (config `deployment`) that launched it: another one never touches it. */
  deployment: 'vmpool:deployment',
  pool: 'vmpool:pool',
  machineId: 'vmpool:machine-id',
  /** `leased` while a build may be running on it: a rebuild after a Redis loss keeps it alive. */
  state: 'vmpool:state',
  leasedAt: 'vmpool:leased-at',
  /** The build agent version the machine was prepared with (its version survives a Redis loss). */
  agentVersion: 'vmpool:agent-version',
} as const;

/** The tags that mark an instance as this deployment's: launched with them, listed by them. */
export function ownTags(deployment: string): Record<string, string> {
  return { [TAGS.managed]: 'true', [TAGS.deployment]: deployment };
}
