import type { AppDeps } from '../app-deps.js';
import type { Logger } from '../log.js';
import type { Machine } from '../machines/machine.js';
import type { BootOutcome } from '../outcome-counters.js';
import { BOOT_VERDICTS, type ZoneVerdict } from '../errors.js';
import { bootKind, type BootTimes } from './boot-times.js';
import type { LoopStarvation } from './loop-starvation.js';
import { requestReconcile } from '../queues.js';
import { splitZoneId } from '../providers/zone-id.js';
import type { ApiOutages } from './api-outages.js';

export type ZoneReportDeps = Pick<AppDeps, 'store' | 'queues' | 'breaker' | 'counters' | 'now'> & { bootTimes: BootTimes };
export type SlowWatchDeps = ZoneReportDeps & {
  starvation: LoopStarvation;
  /** When the providers' DescribeInstances was failing (this booter's watcher): that time is not the boot's. */
  outages?: Pick<ApiOutages, 'failing' | 'pausedSince'>;
};

/** While the booter's loop is starved, a due slow judgement waits this long and looks again. */
const STARVED_RECHECK_MS = 1_000;
/** While a boot's kind has too few samples, its watch looks again this often. */
const FEW_SAMPLES_RECHECK_MS = 2_000;

/**
 * Tells the zone's breaker how a boot ended, once per machine: the first
 * report wins (a slow boot already counted against the zone; a redelivered
 * job). A machine restored by a rebuild after a Redis loss reports nothing:
 * its boot re-verifies a machine its zone already booted. Ready boots that
 * were never slow, nor taken over from another booter (their time includes
 * the hand-over), feed their kind's median launch-to-SSH time (`reachedMs`),
 * the one slowness is judged on. `verdict` overrides the outcome's usual
 * share when the plan says otherwise (a prepare step counted against the
 * zone, a pull that timed out everywhere).
 */
export async function reportBootOutcome(
  machine: Machine,
  outcome: BootOutcome,
  deps: ZoneReportDeps,
  { verdict = BOOT_VERDICTS[outcome], resumed = false, reachedMs }: { verdict?: ZoneVerdict; resumed?: boolean; reachedMs?: number } = {},
): Promise<void> {
  await deps.counters.boot(machine.pool, machine.zone, outcome);
  if (machine.restoredAt !== undefined || verdict === 'not-zone' || !(await deps.store.claimOutcome(machine.id))) return;
  const recorded = verdict === 'healthy' ? 'ok' : outcome === 'slow' ? 'slow' : 'bad';
  await deps.breaker.record(machine.zone, recorded, { probe: machine.probe === 1, now: deps.now() });
  if (outcome === 'ready' && !resumed && reachedMs !== undefined) await deps.bootTimes.record(bootKind(machine), reachedMs);
}

/**
 * Counts a boot as slow (a failure of its zone) the moment it outlives three
 * times its kind's median time to SSH, so a zone whose machines hang is
 * avoided before their boot deadlines expire, and lets the pool launch a
 * replacement meanwhile. The caller stops the watch once SSH answers:
 * prepare and agent pulls have their own timeouts. A boot taken over from
 * another booter (`resumedAt`) is timed from the takeover: the hand-over's
 * delay is not the zone's. No judgement while the kind has too few samples
 * (looked at again while the boot lasts), nor while this process's own event
 * loop is starved. Nor while the provider's DescribeInstances fails: the
 * outage's time is added to the boot's allowance, since the booter could not
 * see the instance running meanwhile. Returns the cancel function.
 */
export async function watchForSlowBoot(machine: Machine, deps: SlowWatchDeps, log: Logger, resumedAt?: number): Promise<() => void> {
  const since = resumedAt ?? machine.launchedAt ?? machine.createdAt;
  const { provider } = splitZoneId(machine.zone);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const judge = (slowAfter: number) => {
    if (stopped) return;
    if (deps.starvation.starved()) return void (timer = setTimeout(() => judge(slowAfter), STARVED_RECHECK_MS));
    if (deps.outages?.failing(provider)) return void (timer = setTimeout(() => judge(slowAfter), STARVED_RECHECK_MS));
    // Slow only past its allowance on the boot's own time: the outages since it started do not count.
    const due = since + slowAfter + (deps.outages?.pausedSince(provider, since) ?? 0);
    if (deps.now() < due) return void (timer = setTimeout(() => judge(slowAfter), due - deps.now()));
    void (async () => {
      // Only a machine still booting is marked; the mark frees its place in the warm target.
      if (!(await deps.store.markSlow(machine))) return;
      log.warn({ slowAfterMs: slowAfter }, 'boot is slow; counted against its zone, and a replacement may launch');
      await reportBootOutcome(machine, 'slow', deps);
      await requestReconcile(deps.queues, machine.pool);
    })().catch((err: unknown) => log.error({ err }, 'could not report a slow boot'));
  };
  const arm = async () => {
    const slowAfter = await deps.bootTimes.slowAfter(bootKind(machine));
    if (stopped) return;
    // Too few boots of its kind yet: they may arrive while this one is still booting (a pool filling at once).
    if (slowAfter === undefined) timer = setTimeout(() => void arm().catch((err: unknown) => log.error({ err }, 'could not read boot times')), FEW_SAMPLES_RECHECK_MS);
    else timer = setTimeout(() => judge(slowAfter), Math.max(0, since + slowAfter - deps.now()));
  };
  await arm();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
