import type { AppDeps } from '../app-deps.js';
import type { Machine } from '../machines/machine.js';
import type { BootTimes } from '../boot/boot-times.js';
import { reportBootOutcome } from '../boot/zone-report.js';
import { addFresh, requestTerminationSweep } from '../queues.js';
import { requestTermination } from './terminate.js';
import type { InstanceFate, Verdict } from './reaper-rules.js';

export type ActionDeps = Pick<AppDeps, 'redis' | 'store' | 'queues' | 'counters' | 'breaker' | 'logger' | 'now'> & { bootTimes: BootTimes };

/** The summary counter an action adds to; undefined when nothing changed (a race lost to a booter or a lease is not an error). */
export type Counted = 'stuckFailed' | 'recordsClosed' | 'recycled' | 'overdueLeases' | 'terminationsRetried' | 'bootsResumed' | 'unansweredLeases';

const BOOTING: ReadonlySet<string> = new Set(['booting', 'preparing']);

/**
 * Carries out one verdict. Every change is a compare-and-set from the state
 * the machine was judged in, so a machine that moved on meanwhile (leased,
 * booted, released) is left to whoever moved it.
 */
export async function act(machine: Machine, verdict: Verdict, deps: ActionDeps): Promise<Counted | undefined> {
  switch (verdict.kind) {
    case 'vanished':
      return closeVanished(machine, verdict.fate, deps);
    case 'stuck':
      return failStuck(machine, deps);
    case 'retry-termination':
      return retryTermination(machine, deps);
    case 'check-boot-job': {
      const resumed = await addFresh(deps.redis, deps.queues.boot, 'boot', machine.id);
      if (resumed) log(deps, machine).warn({ state: machine.state, since: machine.stateSince }, 'reaper: booting machine had no live boot job; started its boot again');
      return resumed ? 'bootsResumed' : undefined;
    }
    case 'too-old': {
      const recycled = await requestTermination(machine, deps, { retiredFor: 'max-age' }, ['ready']);
      if (recycled) log(deps, machine).info({ launchedAt: machine.launchedAt }, 'reaper: recycling a ready machine past the pool’s maxAge');
      return recycled ? 'recycled' : undefined;
    }
    case 'unanswered-lease': {
      // Terminated, not made ready again: the answer may have left just before the api died.
      const ended = await requestTermination(machine, deps, { retiredFor: 'lease-unanswered' }, ['leased']);
      if (ended) log(deps, machine).error({ leasedAt: machine.leasedAt }, 'reaper: lease never answered (the api died or the client left first); terminating the machine');
      return ended ? 'unansweredLeases' : undefined;
    }
    case 'overdue-lease': {
      log(deps, machine).error({ leasedAt: machine.leasedAt, terminating: verdict.terminate }, 'reaper: lease past the pool’s maxLeaseDuration');
      if (verdict.terminate) await requestTermination(machine, deps, { retiredFor: 'lease-overdue' }, ['leased']);
      return 'overdueLeases';
    }
  }
}

/** The instance is gone, so is anything on it: the record goes straight to terminated, no cloud call needed. */
async function closeVanished(machine: Machine, fate: InstanceFate, deps: ActionDeps): Promise<Counted | undefined> {
  const { store, now } = deps;
  const detail = `instance ${machine.instanceId} ${fate === 'unknown' ? 'unknown to the cloud' : fate} while ${machine.state}`;
  const moved = await store.transition(machine, 'terminating', now(), { failure: 'instance-gone', failureDetail: detail }, [machine.state]);
  if (!moved.ok) return undefined;
  await store.transition(machine, 'terminated', now(), {}, ['terminating']);
  // A booter alive would have reported the loss itself; this covers one that died.
  if (BOOTING.has(machine.state)) await reportBootOutcome(machine, 'instance-lost', deps);
  if (machine.state === 'leased') log(deps, machine).error({ fate }, 'reaper: the instance of a leased machine is gone; the build on it is lost');
  else log(deps, machine).warn({ fate }, 'reaper: closed a machine whose instance is gone');
  return 'recordsClosed';
}

/** Past its state's deadline: failed, its zone told (booting ones), and terminated (found by tag if its instance id was never recorded). */
async function failStuck(machine: Machine, deps: ActionDeps): Promise<Counted | undefined> {
  const { state } = machine;
  const detail = `${state} since ${new Date(machine.stateSince).toISOString()}`;
  const failed = await deps.store.transition(machine, 'failed', deps.now(), { failure: `stuck-${state}`, failureDetail: detail }, [state]);
  if (!failed.ok) return undefined;
  if (BOOTING.has(state)) await reportBootOutcome(machine, 'boot-timeout', deps);
  await requestTermination(machine, deps);
  log(deps, machine).warn({ state, since: machine.stateSince }, `reaper: machine stuck in ${state}; failed and terminating`);
  return 'stuckFailed';
}

async function retryTermination(machine: Machine, deps: ActionDeps): Promise<Counted | undefined> {
  // Failed but never handed to termination (a crash between the two steps); or terminating that long: the sweeps
  // asked for since could not end it (the cloud refusing), and one more is asked for now.
  const retried = machine.state === 'failed' ? await requestTermination(machine, deps, {}, ['failed']) : await sweepAgain(machine, deps);
  if (retried) log(deps, machine).warn({ state: machine.state, since: machine.stateSince }, 'reaper: termination overdue; started it again');
  return retried ? 'terminationsRetried' : undefined;
}

/** Terminating too long: in the sweeps' index (a machine marked by an older vmpool was not), and one more sweep asked for. */
async function sweepAgain(machine: Machine, deps: ActionDeps): Promise<true> {
  await deps.store.indexTerminating(machine);
  await requestTerminationSweep(deps.queues);
  return true;
}

function log(deps: Pick<ActionDeps, 'logger'>, machine: Machine) {
  return deps.logger.child({ machineId: machine.id, pool: machine.pool, zone: machine.zone, instanceId: machine.instanceId });
}
