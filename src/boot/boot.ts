import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.js';
import { abortScope } from '../abort-scope.js';
import type { PoolConfig } from '../config.js';
import type { Machine, MachineUpdate } from '../machines/machine.js';
import { splitZoneId } from '../providers/zone-id.js';
import type { AppDeps } from '../app-deps.js';
import type { BootOutcome } from '../outcome-counters.js';
import { requestReconcile } from '../queues.js';
import { requestTermination } from '../pool/terminate.js';
import { sshAddress } from '../pool/launch.js';
import { BootDeadlineError, InstanceGoneError, type InstanceWatcher } from './instance-watcher.js';
import { connectSshWithRetry, SshError, type SshSession } from './ssh.js';
import { prepareMachine, type PrepareMachineDeps } from './prepare-machine.js';
import { isUnknownInstance, type ZoneVerdict } from '../errors.js';
import type { BootTimes } from './boot-times.js';
import { reportBootOutcome, watchForSlowBoot } from './zone-report.js';
import type { LoopStarvation } from './loop-starvation.js';

export type BootDeps = Pick<AppDeps, 'config' | 'store' | 'queues' | 'providers' | 'counters' | 'breaker' | 'logger' | 'now'> & PrepareMachineDeps & {
  watcher: InstanceWatcher;
  bootTimes: BootTimes;
  starvation: LoopStarvation;
  /** The login key, read once at start. */
  privateKey: Buffer;
};

/** A boot that ended badly, with the outcome the zone breaker and metrics see. */
class BootFailure extends Error {
  constructor(readonly outcome: BootOutcome, message: string, readonly verdict?: ZoneVerdict) {
    super(message);
  }
}

/**
 * Takes a launched machine to ready: instance running, SSH answering with the
 * expected host key, prepare steps passed. Any failure fails and terminates
 * the machine and asks the pool for a replacement; nothing is left running.
 * Resumable: a boot job handed to another booter after a crash starts over
 * from the machine's recorded state.
 */
export async function bootMachine(id: string, deps: BootDeps, shutdown?: AbortSignal): Promise<void> {
  // One listener on the process-wide shutdown signal per boot, removed when the boot ends:
  // the boot's own signal carries the many listeners (watcher, SSH, session) and dies with it.
  const own = abortScope(shutdown);
  try {
    await boot(id, deps, own.signal);
  } finally {
    own.dispose();
  }
}

async function boot(id: string, deps: BootDeps, signal: AbortSignal): Promise<void> {
  const machine = await deps.store.get(id);
  if (!machine || (machine.state !== 'booting' && machine.state !== 'preparing')) return;
  const pool = deps.config.pools.find((p) => p.name === machine.pool);
  const log = deps.logger.child({ machineId: id, pool: machine.pool, zone: machine.zone });
  if (!pool) return void (await fail(machine, new BootFailure('boot-error', `pool ${machine.pool} is no longer configured`), deps, log));
  const resumedAt = await deps.store.beginBoot(id, deps.now());
  // A takeover's lateness is the dead booter's, not the machine's: it gets a fresh window, and slowness counts from now.
  // Time a booter before this one saw DescribeInstances failing is the API's, not the boot's.
  const deadline = Math.max((machine.launchedAt ?? machine.createdAt) + pool.bootTimeout + (machine.apiPausedMs ?? 0), (resumedAt ?? 0) + deps.config.booter.resumeWindow);
  if (machine.restoredAt !== undefined) log.info({ deadline: new Date(deadline).toISOString() }, 'machine restored after a Redis loss; verifying and preparing it again');
  else if (resumedAt !== undefined) log.info({ deadline: new Date(deadline).toISOString() }, 'boot taken over from another booter');
  let session: SshSession | undefined;
  const stopWatching = await watchForSlowBoot(machine, { ...deps, outages: deps.watcher.outages }, log, resumedAt);
  try {
    const reached = await reachMachine(machine, deadline, deps, signal);
    session = reached.session;
    // Slowness is judged on the boot alone: prepare and agent pulls have their own timeouts.
    stopWatching();
    // A time that includes an API outage says nothing of how fast this kind boots: it is no sample.
    const reachedMs = reached.pausedMs + (machine.apiPausedMs ?? 0) > 0 ? undefined : deps.now() - (machine.launchedAt ?? machine.createdAt);
    const open = session;
    signal.addEventListener('abort', () => open.close(), { once: true });
    await pinHostKeyTag(machine, reached.pinTag, session, deps, { deadline, signal });
    // The key is pinned in the record before any command runs: a takeover or a retry must meet the same key.
    const moved = await deps.store.transition(machine, 'preparing', deps.now(), { hostKeyFingerprint: session.hostKeyFingerprint, hostKey: session.hostKey }, ['booting', 'preparing']);
    if (!moved.ok) return; // released or reaped meanwhile: whoever moved it owns it now
    await prepare(session, machine, pool, deps, log);
    const ready = await deps.store.transition(machine, 'ready', deps.now(), {}, ['preparing']);
    if (!ready.ok) return;
    await reportBootOutcome(machine, 'ready', deps, { resumed: resumedAt !== undefined, reachedMs });
    log.info({ bootMs: deps.now() - (machine.launchedAt ?? machine.createdAt) }, 'machine ready');
  } catch (err) {
    // Shutdown cut the boot short: the machine is fine, another booter takes it over.
    if (signal.aborted) throw signal.reason;
    if (!(err instanceof BootFailure)) throw err; // unexpected (Redis down...): the job retries
    await fail(machine, err, deps, log);
  } finally {
    stopWatching();
    session?.close();
  }
}

/**
 * Waits for the instance to run, then for SSH, within the boot deadline.
 * Time the provider's DescribeInstances was failing meanwhile (`pausedMs`)
 * moves the deadline, here and in the record (the reaper's deadline).
 */
async function reachMachine(machine: Machine, bootDeadline: number, deps: BootDeps, signal?: AbortSignal): Promise<{ session: SshSession; pinTag: string | undefined; pausedMs: number }> {
  const provider = deps.providers.get(splitZoneId(machine.zone).provider);
  if (!provider || !machine.instanceId) throw new BootFailure('instance-lost', 'machine has no instance');
  const waitedFrom = deps.now();
  const instance = await deps.watcher.waitUntilRunning(provider, machine.instanceId, bootDeadline, signal).catch((err: unknown) => {
    if (err instanceof BootDeadlineError) throw new BootFailure('boot-timeout', err.message);
    if (err instanceof InstanceGoneError) throw new BootFailure('instance-lost', err.message);
    throw err;
  });
  const pausedMs = deps.watcher.outages.pausedSince(provider.name, waitedFrom);
  const deadline = bootDeadline + pausedMs;
  const address = sshAddress(instance, deps.config) ?? machine.address;
  if (!address) throw new BootFailure('instance-lost', `instance ${instance.instanceId} has no ${deps.config.ssh.target}`);
  const update: MachineUpdate = { address, port: deps.config.ssh.port, ...(pausedMs > 0 ? { apiPausedMs: (machine.apiPausedMs ?? 0) + pausedMs } : {}) };
  await deps.store.update(machine.id, update);
  const { ssh } = deps.config;
  const pinTag = instance.tags[ssh.hostKeyTag];
  try {
    const session = await connectSshWithRetry(
      { host: address, port: ssh.port, username: ssh.user, privateKey: deps.privateKey, hostKeyFingerprint: expectedHostKey(machine, pinTag) },
      { timeoutMs: ssh.connectTimeout, loopbackOnly: ssh.loopbackOnly, retryEveryMs: ssh.retryEvery, deadline, now: deps.now, signal },
    );
    return { session, pinTag, pausedMs };
  } catch (err) {
    throw sshFailure(err);
  }
}

/**
 * The key pinned at first contact (the record), else the one the instance's
 * tag names (published by the image, or pinned by a booter before a store
 * rebuild); trust on first use only when neither exists.
 */
function expectedHostKey(machine: Machine, pinTag: string | undefined): string | undefined {
  return machine.hostKeyFingerprint ?? pinTag;
}

/** How soon a tag the cloud refused for an instance it does not know yet is sent again. */
const TAG_RETRY_MS = 1_000;

/**
 * The pin also goes on the instance, so a store rebuilt from tags keeps it
 * (recovery.ts reads it back). Right after a launch EC2's CreateTags may not
 * know the instance yet, though DescribeInstances already showed it running
 * (eventual consistency): that answer is asked again until the boot's deadline,
 * never taken as the machine's failure.
 */
async function pinHostKeyTag(machine: Machine, pinTag: string | undefined, session: SshSession, deps: BootDeps, { deadline, signal }: { deadline: number; signal: AbortSignal }): Promise<void> {
  if (pinTag === session.hostKeyFingerprint) return;
  const provider = deps.providers.get(splitZoneId(machine.zone).provider);
  if (!provider) return;
  for (;;) {
    try {
      return await provider.tag([machine.instanceId!], { [deps.config.ssh.hostKeyTag]: session.hostKeyFingerprint }, { signal });
    } catch (err) {
      if (!isUnknownInstance(err) || deps.now() >= deadline) throw err;
      await sleep(TAG_RETRY_MS, undefined, { signal });
    }
  }
}

function sshFailure(err: unknown): unknown {
  if (!(err instanceof SshError)) return err;
  if (err.kind === 'host-key-mismatch') return new BootFailure('host-key-mismatch', err.message);
  // A configuration problem, not the zone's: the address is not one this process may dial.
  if (err.kind === 'not-loopback') return new BootFailure('not-loopback', `${err.message} (ssh.loopbackOnly is true)`);
  return new BootFailure('ssh-unreachable', `${err.kind}: ${err.message}`);
}

async function prepare(session: SshSession, machine: Machine, pool: PoolConfig, deps: BootDeps, log: Logger): Promise<void> {
  // The VM going away mid-step (connection lost) is an unreachable machine, not a bug to retry.
  const outcome = await prepareMachine(session, machine, pool, deps, log).catch((err: unknown) => {
    throw sshFailure(err);
  });
  if (!outcome.ok) throw new BootFailure(outcome.outcome, outcome.detail, outcome.zoneFault ? 'zone-fault' : 'not-zone');
}

/** Failures an operator must look at: a config that dials outside loopback, a host key that changed, a value refused before it reached the shell. */
const ALARMING: ReadonlySet<BootOutcome> = new Set(['not-loopback', 'host-key-mismatch', 'invalid-agent-version']);

async function fail(machine: Machine, failure: BootFailure, deps: BootDeps, log: Logger): Promise<void> {
  const level = ALARMING.has(failure.outcome) ? 'error' : 'warn';
  log[level]({ outcome: failure.outcome, reason: failure.message }, 'boot failed; terminating the machine');
  const failed = await deps.store.transition(machine, 'failed', deps.now(), { failure: failure.outcome, failureDetail: failure.message }, ['booting', 'preparing']);
  if (!failed.ok) return;
  await reportBootOutcome(machine, failure.outcome, deps, { verdict: failure.verdict });
  await requestTermination(machine, deps);
  await requestReconcile(deps.queues, machine.pool);
}
