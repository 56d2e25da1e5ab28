import { setTimeout as delay } from 'node:timers/promises';
import type { Machine } from '../machines/machine.js';
import type { MachineStore } from '../machines/store.js';

/** How often a pool with waiting requests is looked at again: one script call per pool per tick, however many wait. */
const RETRY_MS = 50;

interface Waiting {
  deadline: number;
  resolve(machine: Machine | undefined): void;
  /** A lease attempt for it is in flight: its client leaving is dealt with once the attempt is over. */
  trying: boolean;
  left: boolean;
}

/**
 * The lease requests of this process that wait for a machine, served oldest
 * first by one loop per pool: under a burst, fifty waiting requests cost one
 * lease attempt per tick, not fifty. A machine that becomes ready goes at
 * the next tick, and the next one at once after it.
 */
export class LeaseHandout {
  private readonly queues = new Map<string, Waiting[]>();

  constructor(
    private readonly store: Pick<MachineStore, 'lease'>,
    private readonly now: () => number,
  ) {}

  /** Requests of `pool` (for `agentVersion`, if given) waiting here now. */
  waiting(pool: string, agentVersion?: string): number {
    return this.queues.get(queueKey(pool, agentVersion))?.length ?? 0;
  }

  /**
   * A machine of `pool` (on `agentVersion`, if given), or undefined once
   * `deadline` passes or `signal` aborts (nobody left to answer). Requests for
   * one version queue apart from the rest: none holds up the other.
   */
  wait(pool: string, deadline: number, signal?: AbortSignal, agentVersion?: string): Promise<Machine | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiting: Waiting = { deadline, resolve, trying: false, left: false };
      const key = queueKey(pool, agentVersion);
      const queue = this.queues.get(key) ?? [];
      queue.push(waiting);
      signal?.addEventListener('abort', () => (waiting.trying ? (waiting.left = true) : this.drop(queue, waiting)), { once: true });
      if (!this.queues.has(key)) {
        this.queues.set(key, queue);
        void this.serve(pool, agentVersion, queue);
      }
    });
  }

  private async serve(pool: string, agentVersion: string | undefined, queue: Waiting[]): Promise<void> {
    for (;;) {
      for (const waiting of queue.filter((w) => this.now() >= w.deadline)) this.drop(queue, waiting);
      if (queue.length === 0) return void this.queues.delete(queueKey(pool, agentVersion));
      // A machine leased for a client that left meanwhile is still handed over: the caller releases it, as it would any late answer.
      const next = queue[0]!;
      next.trying = true;
      const machine = await this.store.lease(pool, this.now(), agentVersion).catch(() => undefined);
      next.trying = false;
      if (machine || next.left) {
        queue.shift();
        next.resolve(machine);
        continue;
      }
      const soonest = Math.min(...queue.map((w) => w.deadline));
      await delay(Math.max(0, Math.min(RETRY_MS, soonest - this.now())));
    }
  }

  private drop(queue: Waiting[], waiting: Waiting): void {
    const at = queue.indexOf(waiting);
    if (at >= 0) queue.splice(at, 1);
    waiting.resolve(undefined);
  }
}

function queueKey(pool: string, agentVersion: string | undefined): string {
  return agentVersion === undefined ? pool : `${pool}@${agentVersion}`;
}
