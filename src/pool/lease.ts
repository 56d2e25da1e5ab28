import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../app-deps.js';
import type { Machine } from '../machines/machine.js';
import { requestReconcile, requestTerminationSweep } from '../queues.js';
import type { LeaseHandout } from './lease-handout.js';
import { describeError } from '../errors.js';

export type ReleaseDeps = Pick<AppDeps, 'store' | 'queues' | 'logger' | 'now'>;
export type LeaseDeps = Pick<AppDeps, 'store' | 'queues' | 'waiters' | 'logger' | 'now'> & {
  /** This process's waiting requests, served oldest first. */
  handout: LeaseHandout;
};

/**
 * Leases a ready machine of `pool`, waiting up to `waitMs` for one. Every
 * lease also asks for a reconcile, so the pool starts replacing the machine at
 * once instead of at the next scheduled tick; a request that has to wait
 * counts as demand, raising the pool's target (up to max) while it waits.
 * With `agentVersion`, only a machine carrying that build agent version will do.
 * The handout tags the instance as leased right after the answer (`tagLeased`).
 */
export async function leaseMachine(pool: string, waitMs: number, deps: LeaseDeps, signal?: AbortSignal, agentVersion?: string): Promise<Machine | undefined> {
  const deadline = deps.now() + waitMs;
  let waiting: { id: string; registered: Promise<boolean> } | undefined;
  const onWait = () => {
    const id = randomUUID();
    const registered = deps.waiters.start(pool, id, deadline).then(
      () => requestReconcile(deps.queues, pool).then(() => true),
      (err: unknown) => {
        deps.logger.warn({ pool, error: describeError(err) }, 'could not record a waiting lease request: the pool does not see it as demand');
        return false;
      },
    );
    waiting = { id, registered };
  };
  // Requests already waiting here come first: a newcomer does not overtake them.
  const leased = deps.handout.wait(pool, deadline, { signal, agentVersion, onWait });
  await requestReconcile(deps.queues, pool);
  try {
    return await leased;
  } finally {
    if (waiting && (await waiting.registered)) await deps.waiters.end(pool, waiting.id);
  }
}

export type ReleaseResult = { ok: true; machine: Machine } | { ok: false; reason: 'not-found' | 'not-leased'; state?: string };

/** Releases a leased machine. Machines are single-use: released means terminated. */
export async function releaseMachine(id: string, deps: ReleaseDeps): Promise<ReleaseResult> {
  const machine = await deps.store.get(id);
  if (!machine) return { ok: false, reason: 'not-found' };
  if (machine.state !== 'leased') return { ok: false, reason: 'not-leased', state: machine.state };
  const moved = await deps.store.transition(machine, 'terminating', deps.now(), {}, ['leased']);
  if (!moved.ok) return { ok: false, reason: 'not-leased', state: moved.reason === 'wrong-state' ? moved.state : undefined };
  await requestTerminationSweep(deps.queues);
  await requestReconcile(deps.queues, machine.pool);
  return { ok: true, machine: { ...machine, state: 'terminating' } };
}
