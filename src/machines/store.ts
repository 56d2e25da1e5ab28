import type { Redis } from 'ioredis';
import { scrubSecrets } from '../secrets/scrub.js';
import { CLAIM_OUTCOME, CODE, CREATE, LEASE, MARK_SLOW, RESTORE, TRANSITION } from './store-scripts.js';
import {
  isMachineState,
  LIVE_STATES,
  sourcesOf,
  STATES,
  UNRESOLVED_STATES,
  WARMING_STATES,
  type Machine,
  type MachineState,
  type MachineUpdate,
} from './machine.js';

export type TransitionResult =
  | { ok: true; from: MachineState }
  | { ok: false; reason: 'not-found' }
  | { ok: false; reason: 'wrong-state'; state: MachineState };

/** What a pool counts per zone: machines per state, and `slow` (booting ones judged slow). */
export type CountKey = MachineState | 'slow';
/** Counts per zone for one pool: `counts["sim/zone-a"].ready`. */
export type PoolCounts = Record<string, Partial<Record<CountKey, number>>>;

/** A machine as `transition` takes it: its id and pool (one call), or its id alone (its pool is read first). */
export type MachineRef = string | Pick<Machine, 'id' | 'pool'>;

export interface NewMachine {
  id: string;
  pool: string;
  zone: string;
  instanceType: string;
  imageId: string;
  probe?: 1;
  agentVersion?: string;
}

/**
 * What CREATE needs to hold a zone to its breaker's in-flight limit in the
 * same step as it records a machine: the breaker's keys and settings (from
 * the zone breaker), and the other pools sharing the zone (their machines
 * count too).
 */
export interface ZoneGuard {
  breakerKeys: [hash: string, recent: string];
  recentMax: number;
  windowMs: number;
  minOutcomes: number;
  failureRate: number;
  /** Every other configured pool with this zone. */
  otherPools: readonly string[];
}

/** What `create` answers: `zone-limit` means the zone holds all the machines in flight it may: try another zone. */
export type CreateResult = 'created' | 'exists' | 'limit' | 'zone-limit';

interface StoreScripts {
  vmpoolTransition(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<[number, string]>;
  vmpoolCreate(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
  vmpoolLease(ready: string, leased: string, counts: string, terminating: string, ...args: (string | number)[]): Promise<string[][]>;
  vmpoolClaimOutcome(key: string): Promise<number>;
  vmpoolMarkSlow(key: string, counts: string): Promise<number>;
  vmpoolRestore(key: string, stateSet: string, counts: string, ...fields: string[]): Promise<number>;
}

const NUMERIC: ReadonlySet<string> = new Set(['stateSince', 'createdAt', 'launchedAt', 'port', 'leasedAt', 'probe', 'bootStartedAt', 'bootResumedAt', 'restoredAt', 'apiPausedMs']);

/**
 * The machine registry in Redis. Every transition is one compare-and-set
 * script, so two processes racing on one machine cannot both win.
 */
export class MachineStore {
  private readonly redis: Redis & StoreScripts;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    /** How long a terminated record stays readable, for status and post-mortems. */
    private readonly retentionMs = 24 * 3_600_000,
  ) {
    // The number of keys varies with the states a machine may leave: passed first on each call.
    redis.defineCommand('vmpoolTransition', { lua: TRANSITION });
    // The number of keys varies with the pools sharing the zone: passed first on each call.
    redis.defineCommand('vmpoolCreate', { lua: CREATE });
    redis.defineCommand('vmpoolLease', { numberOfKeys: 4, lua: LEASE });
    redis.defineCommand('vmpoolClaimOutcome', { numberOfKeys: 1, lua: CLAIM_OUTCOME });
    redis.defineCommand('vmpoolMarkSlow', { numberOfKeys: 2, lua: MARK_SLOW });
    redis.defineCommand('vmpoolRestore', { numberOfKeys: 3, lua: RESTORE });
    this.redis = redis as Redis & StoreScripts;
  }

  private key(id: string): string {
    return `${this.prefix}:machine:${id}`;
  }

  private stateKey(pool: string, state: MachineState): string {
    return `${this.prefix}:state:${pool}:${state}`;
  }

  private countsKey(pool: string): string {
    return `${this.prefix}:counts:${pool}`;
  }

  /**
   * Records a new machine in `requested`, unless the pool is at its warm target
   * or max, or (with a guard) its zone holds as many machines in flight as its
   * breaker allows.
   */
  async create(machine: NewMachine, limits: { warm: number; max: number }, now: number, guard?: ZoneGuard): Promise<CreateResult> {
    const fields = Object.entries(machine)
      .filter(([, v]) => v !== undefined)
      .flatMap(([k, v]: [string, string | number]) => [k, String(v)]);
    const zoneKeys = guard ? [...guard.breakerKeys, ...guard.otherPools.map((p) => this.countsKey(p))] : [];
    const keys = [this.key(machine.id), this.countsKey(machine.pool), this.stateKey(machine.pool, 'requested'), ...zoneKeys];
    const code = await this.redis.vmpoolCreate(
      keys.length,
      ...keys,
      now,
      limits.warm,
      limits.max,
      WARMING_STATES.join(','),
      LIVE_STATES.join(','),
      machine.zone,
      guard ? '1' : '0',
      guard?.recentMax ?? 0,
      guard?.windowMs ?? 0,
      guard?.minOutcomes ?? 0,
      guard?.failureRate ?? 0,
      UNRESOLVED_STATES.join(','),
      ...fields,
    );
    if (code === CODE.OK) return 'created';
    if (code === CODE.EXISTS) return 'exists';
    return code === CODE.ZONE_LIMIT ? 'zone-limit' : 'limit';
  }

  /**
   * Moves a machine to `to` if its current state is one of `from` (default:
   * every state allowed to reach `to`). Given the machine (id and pool), one
   * script call; given its id alone, its pool is read first.
   */
  async transition(ref: MachineRef, to: MachineState, now: number, update: MachineUpdate = {}, from = sourcesOf(to)): Promise<TransitionResult> {
    const id = typeof ref === 'string' ? ref : ref.id;
    const pool = typeof ref === 'string' ? await this.redis.hget(this.key(id), 'pool') : ref.pool;
    if (pool === null) return { ok: false, reason: 'not-found' };
    const fields = Object.entries(update)
      .filter(([, v]) => v !== undefined)
      .flatMap(([k, v]) => [k, stored(k, v)]);
    const keys = [this.key(id), this.countsKey(pool), this.terminatingKey(), this.stateKey(pool, to), ...from.map((s) => this.stateKey(pool, s))];
    const [code, found] = await this.redis.vmpoolTransition(keys.length, ...keys, pool, id, to, now, this.retentionMs, from.join(','), ...fields);
    if (code === CODE.OK) return { ok: true, from: found as MachineState };
    if (code === CODE.NOT_FOUND) return { ok: false, reason: 'not-found' };
    return { ok: false, reason: 'wrong-state', state: found as MachineState };
  }

  /** Sets fields without a state change (e.g. the instance id as soon as it is known). */
  async update(id: string, update: MachineUpdate): Promise<void> {
    const fields = Object.entries(update).filter(([, v]) => v !== undefined);
    if (fields.length > 0) await this.redis.hset(this.key(id), Object.fromEntries(fields.map(([k, v]) => [k, stored(k, v)])));
  }

  /**
   * Claims the right to report this machine's zone outcome: true once per
   * machine, whoever asks, so a slow boot that later succeeds (or a boot job
   * redelivered after a crash) is never counted twice.
   */
  async claimOutcome(id: string): Promise<boolean> {
    return (await this.redis.vmpoolClaimOutcome(this.key(id))) === 1;
  }

  /** Recreates a whole record if it is missing (a rebuild from the cloud's tags); false if it exists. */
  async restore(machine: Machine): Promise<boolean> {
    const fields = Object.entries(machine)
      .filter(([, v]) => v !== undefined)
      .flatMap(([k, v]) => [k, String(v)]);
    return (await this.redis.vmpoolRestore(this.key(machine.id), this.stateKey(machine.pool, machine.state), this.countsKey(machine.pool), ...fields)) === 1;
  }

  /**
   * Records that a boot attempt starts now. Returns the time of the resume when
   * an earlier attempt had started (this one takes over from a booter that
   * died or shut down), undefined for the first attempt. Only the boot job's
   * holder calls it, so the two steps need no atomicity.
   */
  async beginBoot(id: string, now: number): Promise<number | undefined> {
    if ((await this.redis.hsetnx(this.key(id), 'bootStartedAt', String(now))) === 1) return undefined;
    await this.redis.hset(this.key(id), 'bootResumedAt', String(now));
    return now;
  }

  /** The leases' answers have left the api: the clients know their machines. One round trip; a no-op on a missing record. */
  async confirmLeasesAnswered(ids: readonly string[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hdel(this.key(id), 'leaseAnswer');
    const failed = ((await pipeline.exec()) ?? []).find(([err]) => err)?.[0];
    if (failed) throw failed;
  }

  /** Marks a booting machine slow (once): it no longer counts toward the warm target. */
  async markSlow(machine: Pick<Machine, 'id' | 'pool'>): Promise<boolean> {
    return (await this.redis.vmpoolMarkSlow(this.key(machine.id), this.countsKey(machine.pool))) === 1;
  }

  /** Atomically leases the longest-ready machine of a pool (with that agent version, if given), or returns undefined if none is ready. */
  async lease(pool: string, now: number, agentVersion?: string): Promise<Machine | undefined> {
    return (await this.leaseMany(pool, now, 1, agentVersion))[0];
  }

  /** Atomically leases up to `count` machines of a pool, longest-ready first (with that agent version, if given); fewer when fewer are ready. */
  async leaseMany(pool: string, now: number, count: number, agentVersion?: string): Promise<Machine[]> {
    const rows = await this.redis.vmpoolLease(this.stateKey(pool, 'ready'), this.stateKey(pool, 'leased'), this.countsKey(pool), this.terminatingKey(), this.prefix, now, agentVersion ?? '', count);
    return rows.flatMap((flat) => {
      const hash: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
      return toMachine(hash) ?? [];
    });
  }

  async get(id: string): Promise<Machine | undefined> {
    return toMachine(await this.redis.hgetall(this.key(id)));
  }

  /** Machines of a pool in one state, oldest in that state first; only those that entered it before `enteredBefore` if given. */
  async list(pool: string, state: MachineState, { enteredBefore }: { enteredBefore?: number } = {}): Promise<Machine[]> {
    const key = this.stateKey(pool, state);
    // The index's score is when the machine entered the state: old ones are found without reading every record.
    const ids = enteredBefore === undefined ? await this.redis.zrange(key, 0, -1) : await this.redis.zrangebyscore(key, '-inf', `(${enteredBefore}`);
    return [...(await this.getMany(ids)).values()];
  }

  /**
   * Terminating machines of every pool, longest terminating first, at most
   * `limit`: a pool removed from the config still has its machines ended.
   * Index entries whose record is gone are dropped.
   */
  async listTerminating(limit: number): Promise<Machine[]> {
    const key = this.terminatingKey();
    const ids = await this.redis.zrange(key, 0, limit - 1);
    const found = await this.getMany(ids);
    const gone = ids.filter((id) => !found.has(id));
    if (gone.length > 0) await this.redis.zrem(key, ...gone);
    return ids.flatMap((id) => (found.get(id)?.state === 'terminating' ? [found.get(id)!] : []));
  }

  /**
   * Puts a terminating machine in that index if it is missing there: one a
   * vmpool that kept no such index marked (state changes keep it otherwise).
   */
  async indexTerminating(machine: Pick<Machine, 'id' | 'stateSince'>): Promise<void> {
    await this.redis.zadd(this.terminatingKey(), 'NX', machine.stateSince, machine.id);
  }

  private terminatingKey(): string {
    return `${this.prefix}:terminating`;
  }

  /** Many records in one round trip (the reaper checks every tagged instance); unknown ids are absent. */
  async getMany(ids: readonly string[]): Promise<Map<string, Machine>> {
    const found = new Map<string, Machine>();
    if (ids.length === 0) return found;
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.key(id));
    const rows = (await pipeline.exec()) ?? [];
    for (const [, hash] of rows) {
      const machine = toMachine(hash as Record<string, string>);
      if (machine) found.set(machine.id, machine);
    }
    return found;
  }

  /** Per-zone, per-state counts of a pool, in one round trip. */
  async counts(pool: string): Promise<PoolCounts> {
    const raw = await this.redis.hgetall(this.countsKey(pool));
    const counts: PoolCounts = {};
    for (const [field, value] of Object.entries(raw)) {
      const at = field.lastIndexOf('|');
      const zone = field.slice(0, at);
      const state = field.slice(at + 1);
      if (!isMachineState(state) && state !== 'slow') continue;
      (counts[zone] ??= {})[state] = Number(value);
    }
    return counts;
  }
}

/** Sums a pool's counts over zones: `{ ready: 3, booting: 1, ..., slow: 0 }` with every key present. */
export function totalsByState(counts: PoolCounts): Record<CountKey, number> {
  const totals = Object.fromEntries([...STATES, 'slow'].map((s) => [s, 0])) as Record<CountKey, number>;
  for (const byState of Object.values(counts)) {
    for (const [state, n] of Object.entries(byState)) totals[state as CountKey] += n;
  }
  return totals;
}

/** A field as Redis keeps it; a failure's detail quotes what the VM printed, so it is scrubbed of secrets first (the API serves it). */
function stored(field: string, value: unknown): string {
  return field === 'failureDetail' ? scrubSecrets(String(value)) : String(value);
}

function toMachine(hash: Record<string, string>): Machine | undefined {
  if (!hash.id || !hash.state || !isMachineState(hash.state)) return undefined;
  const machine: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(hash)) machine[k] = NUMERIC.has(k) ? Number(v) : v;
  return machine as unknown as Machine;
}
