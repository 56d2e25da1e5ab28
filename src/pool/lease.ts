import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { AppDeps } from '../app-deps.js';
import type { Machine } from '../machines/machine.js';
import { requestReconcile } from '../queues.js';
import { requestTermination } from './terminate.js';
import { TAGS } from '../providers/provider.js';
import { splitZoneId } from '../providers/zone-id.js';
import { describeError } from '../errors.js';

export type LeaseDeps = Pick<AppDeps, 'store' | 'queues' | 'waiters' | 'providers' | 'logger' | 'now'>;

/** How often a waiting lease looks again; one cheap script call per waiter per tick. */
const RETRY_MS = 50;

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
  const machine = await deps.store.lease(pool, deps.now(), agentVersion);
  await requestReconcile(deps.queues, pool);
  if (machine || waitMs <= 0) return machine;
  const waiter = randomUUID();
  await deps.waiters.start(pool, waiter, deadline);
  await requestReconcile(deps.queues, pool);
  try {
    for (;;) {
      await delay(Math.min(RETRY_MS, Math.max(0, deadline - deps.now())), undefined, { signal }).catch(() => undefined);
      // Nobody to answer any more (client gone, shutdown): a machine leased now would be leased to nobody.
      if (signal?.aborted) return undefined;
      const leased = await deps.store.lease(pool, deps.now(), agentVersion);
      if (leased || deps.now() >= deadline) return leased;
    }
  } finally {
    await deps.waiters.end(pool, waiter);
  }
}

export type ReleaseResult = { ok: true; machine: Machine } | { ok: false; reason: 'not-found' | 'not-leased'; state?: string };

/** Releases a leased machine. Machines are single-use: released means terminated. */
export async function releaseMachine(id: string, deps: LeaseDeps): Promise<ReleaseResult> {
  const machine = await deps.store.get(id);
  if (!machine) return { ok: false, reason: 'not-found' };
  if (machine.state !== 'leased') return { ok: false, reason: 'not-leased', state: machine.state };
  const moved = await deps.store.transition(id, 'terminating', deps.now(), {}, ['leased']);
  if (!moved.ok) return { ok: false, reason: 'not-leased', state: moved.reason === 'wrong-state' ? moved.state : undefined };
  await requestTermination(id, deps);
  await requestReconcile(deps.queues, machine.pool);
  return { ok: true, machine: { ...machine, state: 'terminating' } };
}
