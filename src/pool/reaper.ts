import type { AppDeps } from '../app-deps.js';
import type { PoolConfig } from '../config.js';
import type { Machine, MachineState } from '../machines/machine.js';
import { splitZoneId } from '../providers/zone-id.js';
import { requestReconcile } from '../queues.js';
import { act, type ActionDeps } from './reaper-actions.js';
import { instanceFates, reapOrphans, takeInventories, type InventoryDeps } from './reaper-inventory.js';
import { isOverdue, judge, pacedRecycling, type InstanceFate, type JudgeContext } from './reaper-rules.js';
import { withRunLock } from './run-lock.js';
import { tagLeased, untaggedLeases } from './lease-tags.js';

export type ReaperDeps = InventoryDeps & ActionDeps & Pick<AppDeps, 'epoch'>;

/** What one run did; every count is of changes this run made (races lost are not counted). */
export interface ReapSummary {
  /** Unknown instances seen for the first time: terminated on a later run if still unknown. */
  orphansMarked: number;
  orphansTerminated: number;
  /** Machines past their state's deadline, failed and sent to termination. */
  stuckFailed: number;
  /** Records closed because their instance is gone from the cloud. */
  recordsClosed: number;
  /** Ready machines past maxAge sent to termination (the pool refills). */
  recycled: number;
  /** Leases past maxLeaseDuration (terminated too if the pool says so). */
  overdueLeases: number;
  /** Terminations restarted after their job gave up or vanished. */
  terminationsRetried: number;
  /** Boots started again after their job gave up or vanished with a dead booter. */
  bootsResumed: number;
  /** Leases whose answer never left the api, terminated. */
  unansweredLeases: number;
  /** Leased instances the cloud listed without their lease tag, tagged again. */
  leaseTagsRepaired: number;
}

/** Every state the reaper judges: all but terminated. */
const JUDGED: readonly MachineState[] = ['requested', 'launching', 'booting', 'preparing', 'ready', 'leased', 'failed', 'terminating'];

/**
 * The run lock is renewed while a run lasts; this is how long a producer that
 * dies mid-run keeps the next run from starting.
 */
export const REAPER_LOCK_MS = 15_000;

/**
 * One reaper run: compares every provider's managed instances with the
 * registry and fixes what disagrees (see `judge`). At most one run at a time
 * across every producer (a Redis lock): returns undefined, doing nothing,
 * while another run holds it.
 */
export async function reapOnce(deps: ReaperDeps): Promise<ReapSummary | undefined> {
  const { config, redis } = deps;
  // After a Redis loss every instance looks unknown until the store is rebuilt: judge nothing until then.
  if (!(await deps.epoch.present())) return undefined;
  return withRunLock(redis, `${config.redis.prefix}:reaper:lock`, REAPER_LOCK_MS, () => reap(deps));
}

async function reap(deps: ReaperDeps): Promise<ReapSummary> {
  const summary: ReapSummary = { orphansMarked: 0, orphansTerminated: 0, stuckFailed: 0, recordsClosed: 0, recycled: 0, overdueLeases: 0, terminationsRetried: 0, bootsResumed: 0, unansweredLeases: 0, leaseTagsRepaired: 0 };
  const inventories = await takeInventories(deps);
  for (const inventory of inventories.values()) {
    // A cloud refusing a termination must not keep the registry's own checks from running.
    const orphans = await reapOrphans(inventory, deps).catch((err: unknown) => {
      deps.logger.warn({ provider: inventory.provider.name, err }, 'reaper: could not terminate orphans; retrying next run');
      return { orphansMarked: 0, orphansTerminated: 0 };
    });
    summary.orphansMarked += orphans.orphansMarked;
    summary.orphansTerminated += orphans.orphansTerminated;
  }
  // Read after the listing: a machine launched meanwhile has its instance described, not taken for gone.
  const machines = await loadMachines(deps);
  const fates = await instanceFates(machines.map((m) => m.machine), inventories, deps);
  const touched = new Set<string>();
  const now = deps.now();
  summary.leaseTagsRepaired = await repairLeaseTags(machines.map((m) => m.machine), inventories, now, deps);
  const verdicts = machines.map(({ machine, pool }) => ({
    machine,
    pool,
    verdict: judge(machine, pool, { now, reaper: deps.config.reaper, resumeWindow: deps.config.booter.resumeWindow, ...describedBy(splitZoneId(machine.zone).provider, fates, deps.providers) }),
  }));
  const recycleNow = pacedRecycling(
    verdicts.filter((v) => v.verdict?.kind === 'too-old').map((v) => v.machine),
    countBy(machines.filter((m) => m.machine.state === 'ready'), (m) => m.pool.name),
  );
  for (const { machine, pool, verdict } of verdicts) {
    // Recycling is paced: the rest of a pool's too-old machines wait for the next runs.
    if (verdict?.kind === 'too-old' && !recycleNow.has(machine.id)) continue;
    const counted = verdict && (await act(machine, verdict, deps));
    if (!counted) continue;
    summary[counted]++;
    touched.add(pool.name);
  }
  // Pools that lost machines refill now rather than at their next scheduled reconcile.
  for (const pool of touched) await requestReconcile(deps.queues, pool);
  await deps.redis.set(`${deps.config.redis.prefix}:reaper:last`, JSON.stringify({ at: now, summary }));
  if (Object.values(summary).some((n) => n > 0)) deps.logger.info(summary, 'reaper run');
  return summary;
}

/** A lease whose tag never landed would be taken for a free machine by a rebuild after a Redis loss. */
async function repairLeaseTags(machines: readonly Machine[], inventories: Awaited<ReturnType<typeof takeInventories>>, now: number, deps: ReaperDeps): Promise<number> {
  const untagged = untaggedLeases(machines, inventories, now);
  if (untagged.length === 0) return 0;
  deps.logger.warn({ machineIds: untagged.map((m) => m.id) }, 'reaper: leased instances without their lease tag; tagging them');
  return tagLeased(untagged, deps);
}

/** What the provider's DescribeInstances told this run: the fates it found, and whether it answered at all. */
function describedBy(provider: string, fates: ReadonlyMap<string, ReadonlyMap<string, InstanceFate>>, providers: ReadonlyMap<string, unknown>): Pick<JudgeContext, 'fates' | 'describeAnswered'> {
  const found = fates.get(provider);
  // A provider no longer configured was never asked: its machines keep their deadlines.
  return { fates: found, describeAnswered: found !== undefined || !providers.has(provider) };
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

async function loadMachines({ config, store }: Pick<ReaperDeps, 'config' | 'store'>): Promise<{ machine: Machine; pool: PoolConfig }[]> {
  const out: { machine: Machine; pool: PoolConfig }[] = [];
  for (const pool of config.pools) {
    for (const state of JUDGED) for (const machine of await store.list(pool.name, state)) out.push({ machine, pool });
  }
  return out;
}

/** When the last run finished and what it did (for status and for tests that must not race the scheduled run). */
export async function lastReaperRun({ config, redis }: Pick<AppDeps, 'config' | 'redis'>): Promise<{ at: number; summary: ReapSummary } | undefined> {
  const raw = await redis.get(`${config.redis.prefix}:reaper:last`);
  return raw ? (JSON.parse(raw) as { at: number; summary: ReapSummary }) : undefined;
}

/**
 * Leases of a pool past its maxLeaseDuration right now, longest first: the
 * read status can show (the reaper logs them, and terminates them only if
 * the pool says so).
 */
export async function overdueLeases(pool: PoolConfig, { store, now }: Pick<AppDeps, 'store' | 'now'>): Promise<Machine[]> {
  const at = now();
  return (await store.list(pool.name, 'leased')).filter((m) => isOverdue(m, pool, at)).sort((a, b) => (a.leasedAt ?? 0) - (b.leasedAt ?? 0));
}
