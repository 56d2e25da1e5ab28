import type { AppDeps } from '../app-deps.js';
import type { Logger } from '../log.js';
import type { Machine } from '../machines/machine.js';
import type { BootOutcome } from '../outcome-counters.js';
import { BOOT_VERDICTS, type ZoneVerdict } from '../errors.js';
import type { BootTimes } from './boot-times.js';
import { requestReconcile } from '../queues.js';

export type ZoneReportDeps = Pick<AppDeps, 'store' | 'queues' | 'breaker' | 'counters' | 'now'> & { bootTimes: BootTimes };

/**
 * Tells the zone's breaker how a boot ended, once per machine: the first
 * report wins (a slow boot already counted against the zone; a redelivered
 * job). Ready boots that were never slow, nor taken over from another booter
 * (their time includes the hand-over), feed the median that defines slow.
 * `verdict` overrides the outcome's usual share when the plan says otherwise
 * (a prepare step counted against the zone, a pull that timed out everywhere).
 */
export async function reportBootOutcome(
  machine: Machine,
  outcome: BootOutcome,
  deps: ZoneReportDeps,
  { verdict = BOOT_VERDICTS[outcome], resumed = false }: { verdict?: ZoneVerdict; resumed?: boolean } = {},
): Promise<void> {
  await deps.counters.boot(machine.pool, machine.zone, outcome);
  if (verdict === 'not-zone' || !(await deps.store.claimOutcome(machine.id))) return;
  await deps.breaker.record(machine.zone, verdict === 'healthy' ? 'ok' : 'bad', { probe: machine.probe === 1, now: deps.now() });
  if (outcome === 'ready' && !resumed) await deps.bootTimes.record(deps.now() - (machine.launchedAt ?? machine.createdAt));
}

/**
 * Counts a boot as slow (a failure of its zone) the moment it outlives three
 * times the recent median boot, so a zone whose machines hang is avoided
 * before their boot deadlines expire, and lets the pool launch a replacement
 * meanwhile. A boot taken over from another booter (`resumedAt`) is timed
 * from the takeover: the hand-over's delay is not the zone's. Returns the
 * cancel function.
 */
export async function watchForSlowBoot(machine: Machine, deps: ZoneReportDeps, log: Logger, resumedAt?: number): Promise<() => void> {
  const slowAfter = await deps.bootTimes.slowAfter();
  const delay = Math.max(0, (resumedAt ?? machine.launchedAt ?? machine.createdAt) + slowAfter - deps.now());
  const timer = setTimeout(() => {
    void (async () => {
      // Only a machine still booting is marked; the mark frees its place in the warm target.
      if (!(await deps.store.markSlow(machine.id))) return;
      log.warn({ slowAfterMs: slowAfter }, 'boot is slow; counted against its zone, and a replacement may launch');
      await reportBootOutcome(machine, 'slow', deps);
      await requestReconcile(deps.queues, machine.pool);
    })().catch((err: unknown) => log.error({ err }, 'could not report a slow boot'));
  }, delay);
  return () => clearTimeout(timer);
}
