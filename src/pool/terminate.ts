import type { Logger } from '../log.js';
import type { MachineRef, MachineStore } from '../machines/store.js';
import type { Machine, MachineState, MachineUpdate } from '../machines/machine.js';
import type { Config } from '../config.js';
import { TAGS, type Provider, type TerminateResult } from '../providers/provider.js';
import { splitZoneId } from '../providers/zone-id.js';
import { requestTerminationSweep, type Queues } from '../queues.js';
import { describeError } from '../errors.js';
import { cloudHasSettled } from './cloud-consistency.js';

export interface TerminateDeps {
  config: Pick<Config, 'reaper'>;
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

/** What the cloud's answers mean for one machine. */
type MachineEnd =
  /** Every instance confirmed ending by the cloud, or unknown to it past the consistency grace. */
  | 'ended'
  /** Unknown to the cloud (or none found by its tag) while the launch is recent: maybe not visible yet. */
  | 'not-yet'
  /** The cloud answered otherwise for an instance: ask again. */
  | 'unconfirmed';

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
 * The cloud is eventually consistent: an instance it says it does not know,
 * or a tag lookup finding none, ends a record only once the machine's launch
 * is older than `reaper.consistencyGrace` (cloud-consistency.ts).
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
  const { logger } = deps;
  const provider = deps.providers.get(name);
  if (!provider) {
    logger.error({ provider: name, machineIds: machines.map((m) => m.id) }, `machines of unknown provider ${name} cannot be terminated; is it still configured?`);
    return new Set();
  }
  try {
    const instances = await instancesOf(provider, machines, signal);
    const all = [...instances.values()].flat();
    const answer: TerminateResult = all.length > 0 ? await provider.terminate(all, { signal }) : { confirmed: new Set(), notFound: new Set() };
    const ended = new Set<string>();
    let notYet = 0;
    for (const m of machines) {
      const end = endOf(m, instances.get(m.id)!, answer, deps);
      if (end === 'not-yet') notYet++;
      if (end !== 'ended') continue;
      ended.add(m.id);
      await closeRecord(m, instances.get(m.id)!, answer, deps);
    }
    if (ended.size < machines.length) logger.warn({ provider: name, unconfirmed: machines.length - ended.size, notVisibleYet: notYet }, 'terminations not confirmed yet; the next sweep tries them again');
    return ended;
  } catch (err) {
    if (signal?.aborted) throw err;
    logger.warn({ provider: name, machines: machines.length, error: describeError(err) }, 'could not terminate; the next sweep tries again');
    return new Set();
  }
}

/**
 * Each machine's instance ids: the recorded one, else whatever carries its
 * machine-id tag (a crash mid-launch), found in one lookup for all of them.
 */
async function instancesOf(provider: Provider, machines: readonly Machine[], signal?: AbortSignal): Promise<Map<string, string[]>> {
  const instances = new Map(machines.map((m) => [m.id, m.instanceId ? [m.instanceId] : []]));
  const unrecorded = machines.filter((m) => !m.instanceId).map((m) => m.id);
  if (unrecorded.length === 0) return instances;
  for (const found of await provider.listByTags({ [TAGS.machineId]: unrecorded }, { signal })) {
    instances.get(found.tags[TAGS.machineId] ?? '')?.push(found.instanceId);
  }
  return instances;
}

/** Confirmed by the cloud, or unknown to it long enough after the launch to be believed. */
function endOf(machine: Machine, instanceIds: readonly string[], answer: TerminateResult, { config, now }: Pick<TerminateDeps, 'config' | 'now'>): MachineEnd {
  const settled = cloudHasSettled(machine, now(), config.reaper.consistencyGrace);
  if (instanceIds.length === 0) return settled ? 'ended' : 'not-yet';
  if (instanceIds.some((id) => !answer.confirmed.has(id) && !answer.notFound.has(id))) return 'unconfirmed';
  return settled || instanceIds.every((id) => answer.confirmed.has(id)) ? 'ended' : 'not-yet';
}

async function closeRecord(machine: Machine, instanceIds: readonly string[], answer: TerminateResult, { store, logger, now }: TerminateDeps): Promise<void> {
  // Not ok: another sweep closed it first.
  if (!(await store.transition(machine, 'terminated', now(), {}, ['terminating'])).ok) return;
  const log = { machineId: machine.id, pool: machine.pool, zone: machine.zone, instanceId: machine.instanceId };
  const unknown = instanceIds.length === 0 || instanceIds.some((id) => answer.notFound.has(id));
  if (unknown) logger.info(log, 'machine terminated: its instance is unknown to the cloud past the consistency grace');
  else logger.info(log, 'machine terminated');
}
