import type { AgentConfig, Config, PoolConfig, PrepareStep } from '../config.js';
import type { Machine } from '../machines/machine.js';
import { cloudHasSettled } from './cloud-consistency.js';

/**
 * The reaper's judgement of one machine, pure: what the registry and the
 * cloud's inventory say, and the deadlines of the pool's config, at `now`.
 */
export type Verdict =
  /** Its instance is gone from the cloud: close the record. */
  | { kind: 'vanished'; fate: InstanceFate }
  /** Past its state's deadline: fail it and terminate whatever it launched. */
  | { kind: 'stuck' }
  /** Booting a while: make sure a boot job carries it (one lost in a crash, or given up, is started again). */
  | { kind: 'check-boot-job' }
  /** Terminating (or failed) too long: its terminate job is gone or gave up; start it again. */
  | { kind: 'retry-termination' }
  /** Ready and older than the pool's maxAge, by the provider's launch time. */
  | { kind: 'too-old' }
  /** Leased, but the api never wrote the answer (it died, or the client left): nobody knows the machine. */
  | { kind: 'unanswered-lease' }
  /** Leased longer than maxLeaseDuration. */
  | { kind: 'overdue-lease'; terminate: boolean };

/** What the cloud says of an instance that is not running any more, or that it does not know. */
export type InstanceFate = 'terminated' | 'shutting-down' | 'unknown';

/**
 * Beyond the boot deadline the booter enforces: it checks its deadline once
 * per describe tick and an SSH attempt started just before it may run a
 * connect timeout past it, and processes' clocks differ a little.
 */
export const BOOT_MARGIN_MS = 60_000;

/**
 * BullMQ itself hands a dead booter's job on within about 15 s (QUICK_HANDOVER);
 * a booting machine without a live boot job after this is adopted by the reaper.
 */
export const BOOT_JOB_GRACE_MS = 30_000;

/**
 * A lease answer leaves the api milliseconds after the lease; one still
 * unsent after this never will be (the api process died in between).
 */
export const LEASE_ANSWER_GRACE_MS = 60_000;

/** States whose machine has a running instance the cloud must still know. */
export const INSTANCE_STATES: ReadonlySet<string> = new Set(['booting', 'preparing', 'ready', 'leased']);

export interface JudgeContext {
  now: number;
  reaper: Config['reaper'];
  /** `booter.resumeWindow`: a boot taken over from another booter has at least this long from the takeover. */
  resumeWindow: number;
  /** Instances (by id) the cloud reports ended or does not know; absent when the provider could not be asked. */
  fates?: ReadonlyMap<string, InstanceFate>;
  /**
   * False when the provider's DescribeInstances failed this run: its booters
   * cannot see their instances either and have paused their boot clocks, so
   * no boot of it is judged stuck (a fault of the API, not of the zone).
   */
  describeAnswered?: boolean;
}

/** The pool settings the reaper's deadlines come from. */
export type ReaperPool = Pick<PoolConfig, 'bootTimeout' | 'maxAge' | 'maxLeaseDuration' | 'terminateOverdueLeases'> & { prepare: PrepareBudget };

/** What bounds how long prepare may take: each step's timeout, and one pull timeout per registry. */
export interface PrepareBudget {
  steps: readonly PrepareStep[];
  agent?: Pick<AgentConfig, 'pullTimeout' | 'registries'> | null;
}

/** What to do about one machine, if anything: its instance gone first, then its state's deadline. */
export function judge(machine: Machine, pool: ReaperPool, ctx: JudgeContext): Verdict | undefined {
  const fate = vanished(machine, ctx);
  if (fate) return { kind: 'vanished', fate };
  const since = ctx.now - machine.stateSince;
  switch (machine.state) {
    case 'requested':
    case 'launching':
      return since > ctx.reaper.stuckAfter ? { kind: 'stuck' } : undefined;
    case 'booting':
    case 'preparing':
      if (ctx.describeAnswered !== false && ctx.now > bootDeadline(machine, pool, ctx.resumeWindow)) return { kind: 'stuck' };
      return since > BOOT_JOB_GRACE_MS ? { kind: 'check-boot-job' } : undefined;
    case 'failed':
    case 'terminating':
      return since > ctx.reaper.stuckAfter ? { kind: 'retry-termination' } : undefined;
    case 'ready':
      // The provider's launch time, never the VM's uptime (the Codeship Basic incident).
      return machine.launchedAt !== undefined && ctx.now - machine.launchedAt > pool.maxAge ? { kind: 'too-old' } : undefined;
    case 'leased':
      if (machine.leaseAnswer === 'pending' && ctx.now - (machine.leasedAt ?? machine.stateSince) > LEASE_ANSWER_GRACE_MS) return { kind: 'unanswered-lease' };
      return isOverdue(machine, pool, ctx.now) ? { kind: 'overdue-lease', terminate: pool.terminateOverdueLeases } : undefined;
    default:
      return undefined;
  }
}

/**
 * When a booting or preparing machine is past hope. The booter's own
 * deadline covers reaching the machine; prepare steps and agent pulls then
 * run under their own timeouts, so a preparing machine gets their sum on top.
 * A boot taken over from a dead booter has its fresh window from the takeover.
 * Time its booter saw the provider's DescribeInstances failing
 * (`apiPausedMs`) is added: the booter's own deadline moved by as much.
 */
export function bootDeadline(machine: Machine, pool: Pick<ReaperPool, 'bootTimeout' | 'prepare'>, resumeWindow: number): number {
  const { steps, agent } = pool.prepare;
  const pulls = agent ? agent.pullTimeout * agent.registries.length : 0;
  const prepare = machine.state === 'preparing' ? steps.reduce((sum, s) => sum + s.timeout, 0) + pulls : 0;
  const reach = Math.max((machine.launchedAt ?? machine.stateSince) + pool.bootTimeout + (machine.apiPausedMs ?? 0), (machine.bootResumedAt ?? 0) + resumeWindow);
  return reach + prepare + BOOT_MARGIN_MS;
}

/**
 * How many too-old ready machines of one pool a reaper run recycles: a
 * quarter of its ready machines (at least one), oldest launch first. A pool
 * filled at once also ages out at once; recycling it all in one run would
 * leave builds waiting for the whole refill.
 */
export function recycleBudget(ready: number): number {
  return Math.max(1, Math.ceil(ready / 4));
}

/** The too-old machines a run recycles now: each pool's oldest launches, up to its budget. */
export function pacedRecycling(tooOld: readonly Machine[], readyByPool: ReadonlyMap<string, number>): Set<string> {
  const chosen = new Set<string>();
  const byPool = new Map<string, Machine[]>();
  for (const m of tooOld) byPool.set(m.pool, [...(byPool.get(m.pool) ?? []), m]);
  for (const [pool, machines] of byPool) {
    const oldestFirst = [...machines].sort((a, b) => (a.launchedAt ?? 0) - (b.launchedAt ?? 0));
    for (const m of oldestFirst.slice(0, recycleBudget(readyByPool.get(pool) ?? machines.length))) chosen.add(m.id);
  }
  return chosen;
}

export function isOverdue(machine: Machine, pool: Pick<PoolConfig, 'maxLeaseDuration'>, now: number): boolean {
  return machine.state === 'leased' && now - (machine.leasedAt ?? machine.stateSince) > pool.maxLeaseDuration;
}

function vanished(machine: Machine, { fates, now, reaper }: JudgeContext): InstanceFate | undefined {
  if (!INSTANCE_STATES.has(machine.state) || !machine.instanceId || !fates) return undefined;
  const fate = fates.get(machine.instanceId);
  // Unknown to an eventually consistent cloud is "not yet" for a young instance, "gone" only past the grace.
  if (fate === 'unknown' && !cloudHasSettled(machine, now, reaper.consistencyGrace)) return undefined;
  return fate;
}

/** Which unknown instances to mark, which to terminate (seen unknown long enough), which marks to drop. */
export interface OrphanPlan {
  mark: string[];
  terminate: string[];
  forget: string[];
}

/**
 * Two phases, so an instance is terminated only once it has been seen
 * unknown by two runs at least `confirmAfter` apart: a launch whose record
 * is being written, or two runs started back to back, never kill it.
 * `marks` maps instance ids to when a run first saw them unknown.
 */
export function planOrphans(unknown: readonly string[], marks: Readonly<Record<string, number>>, now: number, confirmAfter: number): OrphanPlan {
  const plan: OrphanPlan = { mark: [], terminate: [], forget: [] };
  const current = new Set(unknown);
  for (const id of unknown) {
    const seen = marks[id];
    if (seen === undefined) plan.mark.push(id);
    else if (now - seen >= confirmAfter) plan.terminate.push(id);
  }
  plan.forget = Object.keys(marks).filter((id) => !current.has(id));
  return plan;
}
