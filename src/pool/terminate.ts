import type { Logger } from '../log.js';
import type { MachineStore } from '../machines/store.js';
import type { MachineState, MachineUpdate } from '../machines/machine.js';
import { TAGS, type Provider } from '../providers/provider.js';
import { splitZoneId } from '../providers/zone-id.js';
import type { Queues } from '../queues.js';

export interface TerminateDeps {
  store: MachineStore;
  queues: Queues;
  providers: ReadonlyMap<string, Provider>;
  logger: Logger;
  now: () => number;
}

/**
 * Starts the end of a machine: marks it terminating (from whatever state it
 * may leave) and enqueues the job that makes sure the cloud lets it go.
 */
export async function requestTermination(
  id: string,
  deps: Pick<TerminateDeps, 'store' | 'queues' | 'now'>,
  update: MachineUpdate = {},
  /** The states it may be taken from; scale-in passes `['ready']` so a machine leased meanwhile is never touched. */
  from?: MachineState[],
): Promise<boolean> {
  const moved = await deps.store.transition(id, 'terminating', deps.now(), update, from);
  const already = !moved.ok && moved.reason === 'wrong-state' && moved.state === 'terminating';
  if (moved.ok || already) await enqueueTermination(id, deps.queues);
  return moved.ok;
}

/** The job that ends a machine already marked terminating; one per machine (its id is the job id). */
export async function enqueueTermination(id: string, queues: Queues): Promise<void> {
  await queues.terminate.add('terminate', { machineId: id }, { jobId: id });
}

/**
 * Terminates a machine's instance and closes its record once the cloud
 * confirms. Idempotent; throws (so the job retries) until confirmed. When the
 * instance id was never recorded (a crash mid-launch), the instance is found
 * by its machine-id tag, so nothing launched is left behind.
 */
export async function terminateMachine(id: string, deps: TerminateDeps, signal?: AbortSignal): Promise<void> {
  const { store, providers, logger, now } = deps;
  const machine = await store.get(id);
  if (!machine || machine.state === 'terminated') return;
  if (machine.state !== 'terminating') await store.transition(id, 'terminating', now());
  const provider = providers.get(splitZoneId(machine.zone).provider);
  if (!provider) throw new Error(`machine ${id}: no provider for zone ${machine.zone}`);
  const instanceIds = machine.instanceId
    ? [machine.instanceId]
    : (await provider.listByTags({ [TAGS.machineId]: id }, { signal })).map((i) => i.instanceId);
  if (instanceIds.length > 0) {
    const confirmed = await provider.terminate(instanceIds, { signal });
    const pending = instanceIds.filter((i) => !confirmed.has(i));
    if (pending.length > 0) throw new Error(`machine ${id}: termination of ${pending.join(', ')} not confirmed yet`);
  }
  await store.transition(id, 'terminated', now(), {}, ['terminating']);
  logger.info({ machineId: id, pool: machine.pool, zone: machine.zone, instanceId: machine.instanceId }, 'machine terminated');
}
