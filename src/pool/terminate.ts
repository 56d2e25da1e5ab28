import type { Logger } from '../log.js';
import type { MachineRef, MachineStore } from '../machines/store.js';
import type { Machine, MachineState, MachineUpdate } from '../machines/machine.js';
import { TAGS, type Provider } from '../providers/provider.js';
import { splitZoneId } from '../providers/zone-id.js';
import { requestTerminationSweep, type Queues } from '../queues.js';
import { describeError } from '../errors.js';

export interface TerminateDeps {
  store: MachineStore;
  queues: Queues;
  providers: ReadonlyMap<string, Provider>;
  logger: Logger;
  now: () => number;
}

/** Machines one pass of a sweep takes: a sweep makes further passes while more wait. */
const SWEEP_BATCH = 500;
/** Passes of one sweep run, after which it asks for the next run rather than hold its job forever under a steady stream. */
const MAX_PASSES = 20;

/**
 * Starts the end of a machine: marks it terminating (from whatever state it
 * may leave) and asks for a sweep, which makes sure the cloud lets it go.
 */
export async function requestTermination(
  /** The machine (one store call), or its id alone. */
  ref: MachineRef,
  deps: Pick<TerminateDeps, 'store' | 'queues' | 'now'>,
  update: MachineUpdate = {},
  /** The states it may be taken from; scale-in passes `['ready']` so a machine leased meanwhile is never touched. */
  from?: MachineState[],
): Promise<boolean> {
  const moved = await deps.store.transition(ref, 'terminating', deps.now(), update, from);
  const already = !moved.ok && moved.reason === 'wrong-state' && moved.state === 'terminating';
  if (moved.ok || already) await requestTerminationSweep(deps.queues);
  return moved.ok;
}

/** What one sweep did. */
export interface SweepResult {
  terminated: number;
  /** Still terminating after it: the cloud did not confirm, or could not be asked. Tried again by the next sweep. */
  unconfirmed: number;
}

/**
 * Ends every machine marked terminating, in every pool (one since removed from
 * the config included): their instances go
 * in one TerminateInstances call per provider (not one per machine: EC2
 * throttles mutating calls per account), and each record is closed once the
 * cloud confirms. A machine whose instance id was never recorded (a crash
 * mid-launch) is found by its machine-id tag, so nothing launched is left
 * behind. Machines marked while it runs are taken in a next pass. Safe to run
 * in several producers at once. A machine left unconfirmed stays
 * terminating: the next sweep tries it again, however long the cloud takes.
 */
export async function sweepTerminations(deps: TerminateDeps, signal?: AbortSignal): Promise<SweepResult> {
  const result: SweepResult = { terminated: 0, unconfirmed: 0 };
  // Tried this run and still terminating: not tried again until the next sweep. Ended ones leave the indexes.
  const unconfirmed = new Set<string>();
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    // Every pool's, a removed one's too (the reaper indexes a machine marked by a vmpool that kept no such index).
    const marked = await deps.store.listTerminating(SWEEP_BATCH + unconfirmed.size);
    const machines = marked.filter((m) => !unconfirmed.has(m.id)).slice(0, SWEEP_BATCH);
    if (machines.length === 0) return result;
    const byProvider = new Map<string, Machine[]>();
    for (const m of machines) byProvider.set(splitZoneId(m.zone).provider, [...(byProvider.get(splitZoneId(m.zone).provider) ?? []), m]);
    for (const [name, group] of byProvider) {
      const ended = await endMachines(name, group, deps, signal);
      result.terminated += ended.size;
      result.unconfirmed += group.length - ended.size;
      for (const m of group) if (!ended.has(m.id)) unconfirmed.add(m.id);
    }
  }
  // Releases kept coming faster than passes end: this run stops (its job is not held forever), the next goes on.
  await requestTerminationSweep(deps.queues);
  return result;
}

/** One provider's share of a sweep; returns the ids of the machines the cloud confirmed ended. */
async function endMachines(name: string, machines: readonly Machine[], deps: TerminateDeps, signal?: AbortSignal): Promise<Set<string>> {
  const { store, logger, now } = deps;
  const provider = deps.providers.get(name);
  if (!provider) {
    logger.error({ provider: name, machineIds: machines.map((m) => m.id) }, `machines of unknown provider ${name} cannot be terminated; is it still configured?`);
    return new Set();
  }
  try {
    const instances = new Map<string, string[]>();
    for (const m of machines) {
      instances.set(m.id, m.instanceId ? [m.instanceId] : (await provider.listByTags({ [TAGS.machineId]: m.id }, { signal })).map((i) => i.instanceId));
    }
    const all = [...instances.values()].flat();
    const confirmed = all.length > 0 ? await provider.terminate(all, { signal }) : new Set<string>();
    const ended = new Set<string>();
    for (const m of machines) {
      if (!instances.get(m.id)!.every((id) => confirmed.has(id))) continue;
      ended.add(m.id);
      // Not ok: another sweep closed it first.
      if ((await store.transition(m, 'terminated', now(), {}, ['terminating'])).ok) {
        logger.info({ machineId: m.id, pool: m.pool, zone: m.zone, instanceId: m.instanceId }, 'machine terminated');
      }
    }
    if (ended.size < machines.length) logger.warn({ provider: name, unconfirmed: machines.length - ended.size }, 'terminations not confirmed yet; the next sweep tries them again');
    return ended;
  } catch (err) {
    if (signal?.aborted) throw err;
    logger.warn({ provider: name, machines: machines.length, error: describeError(err) }, 'could not terminate; the next sweep tries again');
    return new Set();
  }
}
