import { randomBytes } from 'node:crypto';
import type { Ec2Catalog } from './ec2-catalog.js';
import { drawDelay, STRONGLY_CONSISTENT, type DelayRange } from './ec2-consistency.js';
import { Ec2Error, checkInstanceIds, instancesNotFound, missingParameter } from './ec2-error.js';
import { compileFilters, type Filter } from './ec2-filters.js';
import { STATE_REASONS, type Reservation, type SimInstance, type SimState, type StateChange, type StateReason } from './ec2-instance.js';
import { FaultTable, HEALTHY, drawFate, launchFailure, type InstanceFate } from './sim-faults.js';
import { assignAddress, checkPaging, decodePageToken, encodePageToken, placementFor, runFingerprint, zoneInfo, type RunRequest, type ZoneInfo } from './ec2-rules.js';

export type { RunRequest, ZoneInfo } from './ec2-rules.js';
export type { Reservation, SimInstance, SimState, StateChange } from './ec2-instance.js';

export interface DescribeQuery {
  instanceIds?: readonly string[];
  filters?: readonly Filter[];
  maxResults?: number;
  nextToken?: string;
}

/** Side effects the model leaves to its owner (booting and stopping VMs), called synchronously. */
export interface ModelHooks {
  launched?(instance: SimInstance): void;
  terminating?(instance: SimInstance): void;
}

export interface Ec2ModelOptions {
  region: string;
  zones: readonly string[];
  /** How long a terminated instance stays visible to DescribeInstances. */
  terminatedRetention: number;
  /** EC2 honours a client token for at least a day after its instances end. */
  tokenRetention?: number;
  now?: () => number;
  random?: () => number;
  faults?: FaultTable;
  hooks?: ModelHooks;
  /** How long a new instance stays unknown to DescribeInstances, TerminateInstances and CreateTags; none by default. */
  consistency?: DelayRange;
  /** Which images exist and which types each zone offers; without one, any well-formed image and type launches anywhere. */
  catalog?: Ec2Catalog;
}

interface TokenRecord {
  fingerprint: string;
  reservation: Reservation;
}

const DAY_MS = 86_400_000;
const hex17 = () => randomBytes(9).toString('hex').slice(0, 17);

/**
 * The simulated cloud's instances: state machine, client tokens, filters and
 * pagination. No timers and no I/O: time comes from `now()`, boots and
 * shutdowns are driven from outside through the lifecycle methods.
 */
export class Ec2Model {
  private readonly visible = new Map<string, SimInstance>();
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly addresses = new Set<string>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly faults: FaultTable;
  /** Each instance's fate, drawn at launch; weak, so forgotten instances take theirs with them. */
  private readonly fates = new WeakMap<SimInstance, InstanceFate>();
  /**
   * Terminated instances, then client tokens whose instances are all gone, in
   * the order they ended: what expires first is always at the front, so a
   * sweep costs what it removes, not every instance or token ever seen (a
   * long benchmark makes hundreds of thousands).
   */
  private readonly ended = new Fifo<SimInstance>();
  private readonly endedTokens = new Fifo<{ token: string; at: number }>();
  private seq = 0;

  constructor(private readonly options: Ec2ModelOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.faults = options.faults ?? new FaultTable();
  }

  zones(): ZoneInfo[] {
    return zoneInfo(this.options.region, this.options.zones);
  }

  /** The region's images and instance type offerings, when it has a catalog. */
  get catalog(): Ec2Catalog | undefined {
    return this.options.catalog;
  }

  /** RunInstances: a new reservation, or the original one when the client token was seen before. */
  run(request: RunRequest): { reservation: Reservation; created: boolean } {
    this.sweep();
    const placement = placementFor(request, this.options.zones, this.random);
    const token = request.clientToken;
    if (token !== undefined) {
      const known = this.tokens.get(token);
      if (known && known.fingerprint !== runFingerprint(request)) {
        throw new Ec2Error('IdempotentParameterMismatch', `Arguments on this idempotent request are inconsistent with arguments used in previous request(s) with client token '${token}'`);
      }
      if (known) return { reservation: known.reservation, created: false };
    }
    this.options.catalog?.checkLaunch(request.imageId, request.instanceType, placement.zone);
    const faults = this.faults.forZone(placement.zone); // one read: a change mid-call applies to the next launch
    const failure = launchFailure(faults, { zone: placement.zone, instanceType: request.instanceType, zones: this.options.zones }, this.random);
    if (failure) throw failure;
    const reservation = this.createReservation(request, placement);
    for (const instance of reservation.instances) this.fates.set(instance, drawFate(faults, this.random));
    if (token !== undefined) this.tokens.set(token, { fingerprint: runFingerprint(request), reservation });
    for (const instance of reservation.instances) this.options.hooks?.launched?.(instance);
    return { reservation, created: true };
  }

  private createReservation(request: RunRequest, placement: { zone: string; subnetId: string | undefined }): Reservation {
    const reservationId = `r-${hex17()}`;
    const launchedAt = this.now();
    const instances = Array.from({ length: request.maxCount }, (): SimInstance => {
      const instance: SimInstance = {
        instanceId: `i-${hex17()}`,
        reservationId,
        seq: ++this.seq,
        imageId: request.imageId,
        instanceType: request.instanceType,
        ...placement,
        keyName: request.keyName,
        clientToken: request.clientToken,
        launchedAt,
        visibleAt: launchedAt + drawDelay(this.options.consistency ?? STRONGLY_CONSISTENT, this.random),
        state: 'pending',
        stateChangedAt: launchedAt,
        stateReason: undefined,
        privateIp: assignAddress(this.addresses, this.random),
        tags: new Map(request.tags),
      };
      this.visible.set(instance.instanceId, instance);
      return instance;
    });
    return { reservationId, instances };
  }

  /** DescribeInstances: one page of matching instances in launch order. */
  describe(query: DescribeQuery): { instances: SimInstance[]; nextToken: string | undefined } {
    this.sweep();
    const ids = query.instanceIds ?? [];
    checkPaging(ids, query.maxResults);
    const wanted = ids.length > 0 ? new Set(this.require(ids).map((i) => i.instanceId)) : undefined;
    const matches = compileFilters(query.filters ?? []);
    const after = query.nextToken === undefined ? 0 : decodePageToken(query.nextToken);
    const limit = query.maxResults ?? Number.POSITIVE_INFINITY;
    const page: SimInstance[] = [];
    const now = this.now();
    for (const instance of this.visible.values()) {
      if (instance.seq <= after || (wanted && !wanted.has(instance.instanceId)) || now < instance.visibleAt || !matches(instance)) continue;
      if (page.length === limit) return { instances: page, nextToken: encodePageToken(page[page.length - 1]!.seq) };
      page.push(instance);
    }
    return { instances: page, nextToken: undefined };
  }

  /** TerminateInstances: live instances start shutting down; ended ones report their state again. */
  terminate(instanceIds: readonly string[]): StateChange[] {
    this.sweep();
    return this.require(instanceIds).map((instance) => {
      const previous = instance.state;
      if (previous === 'pending' || previous === 'running') {
        this.setState(instance, 'shutting-down', STATE_REASONS.userShutdown);
        this.options.hooks?.terminating?.(instance);
      }
      return { instanceId: instance.instanceId, previous, current: instance.state };
    });
  }

  createTags(instanceIds: readonly string[], tags: ReadonlyArray<readonly [string, string]>): void {
    this.sweep();
    for (const instance of this.require(instanceIds)) for (const [key, value] of tags) instance.tags.set(key, value);
  }

  /** Every instance DescribeInstances can still see (or soon will: eventual consistency aside), in launch order. */
  instances(): SimInstance[] {
    this.sweep();
    return [...this.visible.values()];
  }

  /** What the instance's zone had in store for it when it launched. */
  fateOf(instance: SimInstance): Readonly<InstanceFate> {
    return this.fates.get(instance) ?? HEALTHY;
  }

  /** Moves an instance to a fresh address (its old one was taken on the host). */
  readdress(instance: SimInstance): string {
    this.addresses.delete(instance.privateIp);
    instance.privateIp = assignAddress(this.addresses, this.random);
    return instance.privateIp;
  }

  /** Pending to running, with tags the boot published; false when the instance is no longer pending. */
  markRunning(instance: SimInstance, tags: ReadonlyArray<readonly [string, string]> = []): boolean {
    if (instance.state !== 'pending') return false;
    for (const [key, value] of tags) instance.tags.set(key, value);
    this.setState(instance, 'running', undefined);
    return true;
  }

  /** The end of every instance: after a requested shutdown, or when its boot failed. */
  markTerminated(instance: SimInstance, reason?: StateReason): void {
    if (instance.state === 'terminated') return;
    this.setState(instance, 'terminated', reason ?? instance.stateReason);
    this.addresses.delete(instance.privateIp);
  }

  private setState(instance: SimInstance, state: SimState, reason: StateReason | undefined): void {
    instance.state = state;
    instance.stateReason = reason;
    instance.stateChangedAt = this.now();
    if (state === 'terminated') this.ended.push(instance);
  }

  private require(instanceIds: readonly string[]): SimInstance[] {
    if (instanceIds.length === 0) throw missingParameter('InstanceId');
    checkInstanceIds(instanceIds);
    const unique = [...new Set(instanceIds)];
    const now = this.now();
    // Not yet known to this part of the API is, to the caller, the same as not existing.
    const missing = unique.filter((id) => !this.visible.has(id) || now < this.visible.get(id)!.visibleAt);
    if (missing.length > 0) throw instancesNotFound(missing);
    return unique.map((id) => this.visible.get(id)!);
  }

  private sweep(): void {
    const now = this.now();
    for (let i = this.ended.peek(); i && now - i.stateChangedAt >= this.options.terminatedRetention; i = this.ended.peek()) {
      this.ended.shift();
      this.visible.delete(i.instanceId);
      const record = i.clientToken === undefined ? undefined : this.tokens.get(i.clientToken);
      // The token outlives its instances: it expires once the last of them has been gone its retention (never before they leave DescribeInstances).
      if (record && record.reservation.instances.every((r) => !this.visible.has(r.instanceId))) {
        this.endedTokens.push({ token: i.clientToken!, at: Math.max(...record.reservation.instances.map((r) => r.stateChangedAt)) });
      }
    }
    const tokenRetention = this.options.tokenRetention ?? DAY_MS;
    for (let t = this.endedTokens.peek(); t && now - t.at >= tokenRetention; t = this.endedTokens.peek()) {
      this.endedTokens.shift();
      this.tokens.delete(t.token);
    }
  }
}

/** A queue with O(1) shift (Array.prototype.shift copies). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): void {
    this.head++;
    // Drop the consumed front now and then, so memory follows what is queued.
    if (this.head > 1_024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
