import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../app-deps.js';
import type { Machine } from '../machines/machine.js';
import { requestReconcile } from '../queues.js';
import { enqueueTermination } from './terminate.js';
import type { LeaseHandout } from './lease-handout.js';
import { TAGS } from '../providers/provider.js';
import { splitZoneId } from '../providers/zone-id.js';
import { describeError } from '../errors.js';

export type ReleaseDeps = Pick<AppDeps, 'store' | 'queues' | 'logger' | 'now'>;
export type LeaseDeps = Pick<AppDeps, 'store' | 'queues' | 'waiters' | 'providers' | 'logger' | 'now'> & {
  /** This process's waiting requests, served oldest first. */
  handout: LeaseHandout;
};

/**
 * Leases a ready machine of `pool`, waiting up to `waitMs` for one. Every
 * lease also asks for a reconcile, so the pool starts replacing the machine at
 * once instead of at the next scheduled tick; a request that has to wait
 * counts as demand, raising the pool's target (up to max) while it waits.
 * With `agentVersion`, only a machine carrying that build agent version will do.
 */
export async function leaseMachine(pool: string, waitMs: number, deps: LeaseDeps, signal?: AbortSignal, agentVersion?: string): Promise<Machine | undefined> {
  const machine = await takeMachine(pool, waitMs, deps, signal, agentVersion);
  if (machine) await tagLeased(machine, deps);
  return machine;
}

/**
 * Writes the lease onto the instance itself, so a rebuild after a Redis loss
 * knows a build may be running there and keeps it alive. Awaited before the
 * lease is answered (a lease the cloud does not know of is what that rebuild
 * would kill); a failure is logged, not fatal: the lease itself is valid.
 */
async function tagLeased(machine: Machine, deps: LeaseDeps): Promise<void> {
  const provider = deps.providers.get(splitZoneId(machine.zone).provider);
  if (!provider || !machine.instanceId) return;
  const tags = { [TAGS.state]: 'leased', [TAGS.leasedAt]: new Date(machine.leasedAt ?? deps.now()).toISOString() };
  await provider.tag(machine.instanceId, tags).catch((err: unknown) => {
    deps.logger.warn({ machineId: machine.id, pool: machine.pool, zone: machine.zone, error: describeError(err) }, 'could not tag the leased instance; a Redis loss now could not tell it is leased');
  });
}

async function takeMachine(pool: string, waitMs: number, deps: LeaseDeps, signal?: AbortSignal, agentVersion?: string): Promise<Machine | undefined> {
  const deadline = deps.now() + waitMs;
  // Requests already waiting here come first: a newcomer does not overtake them.
  const machine = deps.handout.waiting(pool, agentVersion) > 0 ? undefined : await deps.store.lease(pool, deps.now(), agentVersion);
  await requestReconcile(deps.queues, pool);
  if (machine || waitMs <= 0) return machine;
  const waiter = randomUUID();
  await deps.waiters.start(pool, waiter, deadline);
  await requestReconcile(deps.queues, pool);
  try {
    return await deps.handout.wait(pool, deadline, signal, agentVersion);
  } finally {
    await deps.waiters.end(pool, waiter);
  }
}

export type ReleaseResult = { ok: true; machine: Machine } | { ok: false; reason: 'not-found' | 'not-leased'; state?: string };

/** Releases a leased machine. Machines are single-use: released means terminated. */
export async function releaseMachine(id: string, deps: ReleaseDeps): Promise<ReleaseResult> {
  const machine = await deps.store.get(id);
  if (!machine) return { ok: false, reason: 'not-found' };
  if (machine.state !== 'leased') return { ok: false, reason: 'not-leased', state: machine.state };
  const moved = await deps.store.transition(id, 'terminating', deps.now(), {}, ['leased']);
  if (!moved.ok) return { ok: false, reason: 'not-leased', state: moved.reason === 'wrong-state' ? moved.state : undefined };
  await enqueueTermination(id, deps.queues);
  await requestReconcile(deps.queues, machine.pool);
  return { ok: true, machine: { ...machine, state: 'terminating' } };
}
