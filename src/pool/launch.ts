import { UnrecoverableError } from 'bullmq';
import type { Config } from '../config.js';
import type { Machine } from '../machines/machine.js';
import type { AppDeps } from '../app-deps.js';
import { ownTags, TAGS, type Instance } from '../providers/provider.js';
import { splitZoneId } from '../providers/zone-id.js';
import { requestReconcile } from '../queues.js';
import { classify, describeError, isAuthError, isCapacityError } from '../errors.js';
import { requestTermination } from './terminate.js';

export type LaunchDeps = Pick<AppDeps, 'config' | 'store' | 'queues' | 'providers' | 'counters' | 'breaker' | 'capacity' | 'zoneStrategy' | 'flags' | 'logger' | 'now'>;

/**
 * Launches the instance of a requested machine and hands it to the booters.
 * Safe to run twice for one machine (at-least-once delivery, a crash after
 * RunInstances): the machine id is the cloud's idempotency token, so a second
 * call returns the same instance.
 */
export async function launchMachine(id: string, deps: LaunchDeps, signal?: AbortSignal): Promise<void> {
  const { store, queues, now } = deps;
  const machine = await store.get(id);
  if (!machine) return;
  if (machine.state === 'requested') {
    const moved = await store.transition(machine, 'launching', now(), {}, ['requested']);
    if (!moved.ok) return; // someone else moved it (terminated by a release of the pool, a reaper)
  } else if (machine.state !== 'launching') {
    // Launched already; make sure the boot job exists (a crash may have come between the two).
    if (machine.state === 'booting') await queues.boot.add('boot', { machineId: id }, { jobId: id });
    return;
  }
  const provider = deps.providers.get(splitZoneId(machine.zone).provider);
  if (!provider) throw new UnrecoverableError(`no provider for zone ${machine.zone}`);
  const request = {
    machineId: id,
    pool: machine.pool,
    zone: splitZoneId(machine.zone).zone,
    imageId: machine.imageId,
    instanceType: machine.instanceType,
    keyName: deps.config.pools.find((p) => p.name === machine.pool)?.keyName ?? undefined,
    tags: { ...ownTags(deps.config.deployment), [TAGS.pool]: machine.pool, [TAGS.machineId]: id, ...(machine.agentVersion ? { [TAGS.agentVersion]: machine.agentVersion } : {}) },
  };
  const instance = await deps.zoneStrategy.observeLaunch(machine.zone, () => provider.launch(request, { signal }));
  await recordLaunch(machine, instance, deps);
}

async function recordLaunch(machine: Machine, instance: Instance, deps: LaunchDeps): Promise<void> {
  const { store, queues, counters, logger, now } = deps;
  const moved = await store.transition(
    machine,
    'booting',
    now(),
    { instanceId: instance.instanceId, launchedAt: instance.launchedAt, address: sshAddress(instance, deps.config), port: deps.config.ssh.port },
    ['launching'],
  );
  if (!moved.ok) {
    // Terminated while the call was in flight: its instance id must still be known to end it.
    await store.update(machine.id, { instanceId: instance.instanceId, launchedAt: instance.launchedAt });
    return;
  }
  await counters.launch(machine.pool, machine.zone, 'ok');
  await queues.boot.add('boot', { machineId: machine.id }, { jobId: machine.id });
  logger.info({ machineId: machine.id, pool: machine.pool, zone: machine.zone, instanceId: instance.instanceId }, 'instance launched');
}

export function sshAddress(instance: Instance, config: Readonly<Config>): string | undefined {
  return config.ssh.target === 'publicIp' ? instance.publicIp : instance.privateIp;
}

/**
 * Called when a launch job has failed for good (out of attempts, capacity, or
 * fatal): the zone hears about zone faults, a sold-out offering is skipped for
 * a while, a fatal error halts the pool (a refused permission halted its
 * provider already); the machine is failed and terminated
 * (by tag, in case the call did succeed and only its answer was lost), and
 * the pool asks for a replacement.
 */
export async function abandonLaunch(id: string, err: unknown, deps: LaunchDeps): Promise<void> {
  const { store, logger, now } = deps;
  const machine = await store.get(id);
  if (!machine) return;
  const kind = classify(err);
  // A refused permission halted the whole provider when the call answered (HaltingProvider), logged there once.
  const providerRefused = isAuthError(err);
  const log = logger.child({ machineId: id, pool: machine.pool, zone: machine.zone });
  log[kind === 'fatal' && !providerRefused ? 'error' : 'warn']({ kind, instanceType: machine.instanceType, error: describeError(err) }, 'launch failed');
  if (isCapacityError(err)) await deps.capacity.markUnavailable(machine.zone, machine.instanceType);
  // Only zone faults reach the zone: an API fault (a 5xx other than capacity) is the regional endpoint's, counted by the API guard.
  if (kind === 'zone-fault' && (await store.claimOutcome(id))) await deps.breaker.record(machine.zone, 'bad', { probe: machine.probe === 1, now: now() });
  if (kind === 'fatal' && !providerRefused && (await deps.flags.halt(machine.pool, describeError(err), now(), deps.config.producer.fatalPause))) {
    log.error({ error: describeError(err), forMs: deps.config.producer.fatalPause }, `pool ${machine.pool} halted: retries cannot fix this; resume with: vmpool pool resume ${machine.pool}`);
  }
  await deps.counters.launch(machine.pool, machine.zone, 'error');
  const failed = await store.transition(machine, 'failed', now(), { failure: 'launch-failed', failureDetail: describeError(err) }, ['requested', 'launching']);
  if (failed.ok) await requestTermination(machine, deps);
  if (kind !== 'fatal') await requestReconcile(deps.queues, machine.pool);
}

/** Whether a launch error ends the job now: retrying the same call cannot help. */
export function isFinal(err: unknown): boolean {
  return classify(err) === 'fatal' || isCapacityError(err) || err instanceof UnrecoverableError;
}

/** Errors that end the job now are not retried by BullMQ either. */
export function toJobError(err: unknown): unknown {
  return isFinal(err) && !(err instanceof UnrecoverableError) ? new UnrecoverableError(describeError(err)) : err;
}
