import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  EC2Client,
  type EC2ClientConfig,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Filter,
  type Instance as Ec2Instance,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import type { ProviderConfig } from '../config.js';
import type { Logger } from '../log.js';
import { watchCloudCalls } from './cloud-call-middleware.js';
import type { CloudCallCounters } from './cloud-calls.js';
import { Ec2BudgetedRetryStrategy, Ec2RetryStrategy } from './ec2-retry-strategy.js';
import type { RateBudget } from './rate-budget.js';
import { ec2Preflight } from './ec2-preflight.js';
import type { PreflightCheck, PreflightPool } from './preflight-check.js';
import { TAGS, type CallOptions, type Instance, type LaunchRequest, type Provider, type TagMatch, type TerminateResult } from './provider.js';

export interface Ec2ProviderOptions {
  /** DescribeInstances page size (EC2 allows 5 to 1000); tests shrink it to exercise paging. */
  pageSize?: number;
  /** A ready client (tests, or a caller sharing one); otherwise built from the config. */
  client?: EC2Client;
  /** The provider's budget shared with every process (`rateBudget.shared`); without it, each process only limits itself. */
  budget?: RateBudget;
  /** Where each API request's result is counted (`vmpool_cloud_calls_total`). */
  calls?: CloudCallCounters;
}

/**
 * EC2 caps a call at 200 filter values in total (`FilterLimitExceeded`), so
 * a batched describe by `instance-id` filter asks for at most this many.
 */
export const DESCRIBE_BATCH = 200;
/** TerminateInstances accepts up to 1000 ids per call. */
export const TERMINATE_BATCH = 1000;
const LIVE_STATES = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'];
/** EC2's answers for ids it does not know (or that could never name an instance): the whole call fails, naming them. */
const UNKNOWN_ID = new Set(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed']);

/**
 * The SDK's own default logger discards everything, but its logger middleware
 * still builds every call's info line first: input and output copied through
 * the schema's secret filter (1.4% of the producer's CPU in bench:throughput).
 * It calls `logger.info?.(...)`, so a logger without `info` skips that work;
 * the rest are no-ops as before.
 */
const QUIET_SDK_LOGGER = { trace: noop, debug: noop, warn: noop, error: noop } as unknown as EC2ClientConfig['logger'];

function noop(): void {}

/** The `Provider` for EC2 and anything that speaks its API (the simulated cloud). */
export class Ec2Provider implements Provider {
  readonly name: string;
  private readonly client: EC2Client;
  private readonly subnets: ReadonlyMap<string, string | null>;
  private readonly pageSize: number;

  constructor(
    config: ProviderConfig,
    private readonly logger: Logger,
    options: Ec2ProviderOptions = {},
  ) {
    this.name = config.name;
    this.subnets = new Map(config.zones.map((z) => [z.name, z.subnetId]));
    this.pageSize = options.pageSize ?? 1000;
    this.client =
      options.client ??
      new EC2Client({
        region: config.region,
        // Capacity errors go straight back to vmpool. With the shared budget pacing every process, no
        // client-side limiter besides; without it, the adaptive one (slows this process down on throttling).
        retryStrategy: options.budget ? new Ec2BudgetedRetryStrategy(config.maxAttempts) : new Ec2RetryStrategy(config.maxAttempts),
        maxAttempts: config.maxAttempts,
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
        ...(config.credentials ? { credentials: { ...config.credentials } } : {}),
        logger: QUIET_SDK_LOGGER,
      });
    if (options.budget || options.calls) watchCloudCalls(this.client, { provider: this.name, budget: options.budget, counters: options.calls, logger });
  }

  zones(): readonly string[] {
    return [...this.subnets.keys()];
  }

  async launch(request: LaunchRequest, options: CallOptions = {}): Promise<Instance> {
    if (!this.subnets.has(request.zone)) throw new Error(`provider ${this.name} has no zone "${request.zone}"`);
    const subnetId = this.subnets.get(request.zone);
    const tags = { [TAGS.managed]: 'true', [TAGS.pool]: request.pool, [TAGS.machineId]: request.machineId, ...request.tags };
    const input: RunInstancesCommandInput = {
      ImageId: request.imageId,
      InstanceType: request.instanceType as RunInstancesCommandInput['InstanceType'],
      MinCount: 1,
      MaxCount: 1,
      // The machine id: a retried launch (crash, redelivered job) returns the same instance.
      ClientToken: request.machineId,
      TagSpecifications: [{ ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }],
      ...(subnetId ? { SubnetId: subnetId } : { Placement: { AvailabilityZone: request.zone } }),
      ...(request.keyName ? { KeyName: request.keyName } : {}),
    };
    const output = await this.client.send(new RunInstancesCommand(input), sendOptions(options));
    const launched = output.Instances?.[0];
    if (!launched) throw new Error(`RunInstances for machine ${request.machineId} returned no instance`);
    this.logger.debug({ machineId: request.machineId, instanceId: launched.InstanceId, zone: request.zone }, 'instance launched');
    return toInstance(launched);
  }

  // By filter, not InstanceIds: one unknown id (normal just after launch, EC2 being
  // eventually consistent) would fail an InstanceIds call for every id in it.
  async describe(instanceIds: readonly string[], options: CallOptions = {}): Promise<Map<string, Instance>> {
    const found = new Map<string, Instance>();
    for (const batch of chunks([...new Set(instanceIds)], DESCRIBE_BATCH)) {
      for (const instance of await this.describeAll([{ Name: 'instance-id', Values: batch }], options)) found.set(instance.instanceId, instance);
    }
    return found;
  }

  async terminate(instanceIds: readonly string[], options: CallOptions = {}): Promise<TerminateResult> {
    const result: TerminateResult = { confirmed: new Set(), notFound: new Set() };
    for (const batch of chunks([...new Set(instanceIds)], TERMINATE_BATCH)) await this.terminateBatch(batch, result, options);
    return result;
  }

  async tag(instanceIds: readonly string[], tags: Readonly<Record<string, string>>, options: CallOptions = {}): Promise<void> {
    if (instanceIds.length === 0) return;
    await this.client.send(new CreateTagsCommand({ Resources: [...instanceIds], Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }), sendOptions(options));
  }

  async listByTags(tags: Readonly<Record<string, TagMatch>>, options: CallOptions = {}): Promise<Instance[]> {
    const wanted = Object.entries(tags).map(([key, value]) => ({ key, values: typeof value === 'string' ? [value] : [...new Set(value)] }));
    if (wanted.some((t) => t.values.length === 0)) return []; // no value to match: no instance can
    // EC2 takes at most 200 filter values in one call: the longest list goes out in as many calls as it needs.
    const longest = wanted.reduce<(typeof wanted)[number] | undefined>((a, t) => (!a || t.values.length > a.values.length ? t : a), undefined);
    const room = DESCRIBE_BATCH - LIVE_STATES.length - wanted.reduce((n, t) => n + (t === longest ? 0 : t.values.length), 0);
    const instances: Instance[] = [];
    for (const part of longest ? chunks(longest.values, Math.max(1, room)) : [[]]) {
      const filters: Filter[] = wanted.map((t) => ({ Name: `tag:${t.key}`, Values: t === longest ? part : t.values }));
      instances.push(...(await this.describeAll([...filters, { Name: 'instance-state-name', Values: LIVE_STATES }], options)));
    }
    return instances;
  }

  private async describeAll(filters: Filter[], options: CallOptions): Promise<Instance[]> {
    const instances: Instance[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(new DescribeInstancesCommand({ Filters: filters, MaxResults: this.pageSize, NextToken: nextToken }), sendOptions(options));
      for (const reservation of page.Reservations ?? []) for (const i of reservation.Instances ?? []) instances.push(toInstance(i));
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    return instances;
  }

  /**
   * EC2 fails the whole call when any id is unknown, naming every unknown one
   * in its message ("The instance IDs 'i-1, i-2' do not exist"): those are set
   * aside as not found and the rest go again in one call. An answer naming
   * none of the ids (a wording this cannot read) splits the batch in halves.
   */
  private async terminateBatch(ids: string[], result: TerminateResult, options: CallOptions): Promise<void> {
    let rest = ids;
    while (rest.length > 0) {
      try {
        for (const id of await this.terminateCall(rest, options)) result.confirmed.add(id);
        return;
      } catch (err) {
        if (!isUnknownId(err)) throw err;
        const named = idsNamedIn(err.message, rest);
        if (named.size === 0 && rest.length === 1) named.add(rest[0]!);
        if (named.size === 0) {
          const half = Math.ceil(rest.length / 2);
          await this.terminateBatch(rest.slice(0, half), result, options);
          return this.terminateBatch(rest.slice(half), result, options);
        }
        for (const id of named) result.notFound.add(id);
        rest = rest.filter((id) => !named.has(id));
        this.logger.debug({ notFound: named.size, rest: rest.length }, 'instance ids unknown to the cloud; terminating the rest in one more call');
      }
    }
  }

  private async terminateCall(ids: string[], options: CallOptions): Promise<string[]> {
    const output = await this.client.send(new TerminateInstancesCommand({ InstanceIds: ids }), sendOptions(options));
    return (output.TerminatingInstances ?? [])
      .filter((t) => t.CurrentState?.Name === 'shutting-down' || t.CurrentState?.Name === 'terminated')
      .flatMap((t) => (t.InstanceId ? [t.InstanceId] : []));
  }

  /** EC2's DryRun and lookups, changing nothing: see ec2-preflight.ts. */
  preflight(pool: PreflightPool, options: CallOptions = {}): Promise<PreflightCheck[]> {
    return ec2Preflight({ client: this.client, subnets: this.subnets }, pool, options.signal);
  }

  /** Releases the client's sockets. */
  close(): void {
    this.client.destroy();
  }
}

/** The SDK's per-call options: an aborted signal abandons the HTTP request and its retries. */
function sendOptions({ signal }: CallOptions): { abortSignal?: AbortSignal } {
  return signal ? { abortSignal: signal } : {};
}

function isUnknownId(err: unknown): err is Error {
  return err instanceof Error && UNKNOWN_ID.has(err.name);
}

/** The ids of a batch an error message names (EC2 quotes them: `'i-1, i-2'`, `"i-1"`). */
function idsNamedIn(message: string, ids: readonly string[]): Set<string> {
  const words = new Set(message.split(/[\s'",:()]+/));
  return new Set(ids.filter((id) => words.has(id)));
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function toInstance(i: Ec2Instance): Instance {
  return {
    instanceId: i.InstanceId ?? '',
    state: i.State?.Name ?? 'pending',
    zone: i.Placement?.AvailabilityZone ?? '',
    instanceType: i.InstanceType ?? '',
    imageId: i.ImageId ?? '',
    ...(i.PrivateIpAddress ? { privateIp: i.PrivateIpAddress } : {}),
    ...(i.PublicIpAddress ? { publicIp: i.PublicIpAddress } : {}),
    launchedAt: i.LaunchTime?.getTime() ?? 0,
    tags: Object.fromEntries((i.Tags ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? '']]))),
  };
}
