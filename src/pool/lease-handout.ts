import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';
import type { Machine } from '../machines/machine.js';
import type { MachineStore } from '../machines/store.js';
import type { Logger } from '../log.js';
import { describeError } from '../errors.js';

/** How often a pool with waiting requests is looked at again: one script call per pool per tick, however many wait. */
const RETRY_MS = 50;
/** Requests served by one script call (and one tagging call); more wait for the next round, which follows at once. */
const MAX_BATCH = 100;

interface Waiting {
  deadline: number;
  resolve(machine: Machine | undefined): void;
  /** Called once, when an attempt for it found no machine and it goes on waiting. */
  onWait?: () => void;
  /** It was in at least one lease attempt: a request that may not wait (deadline now) still gets one. */
  tried: boolean;
  /** A lease attempt for it is in flight: its client leaving is dealt with once the attempt is over. */
  trying: boolean;
  left: boolean;
}

export interface WaitOptions {
  /** Answer nothing once this aborts (nobody left to answer). */
  signal?: AbortSignal;
  /** Only a machine carrying this build agent version will do. */
  agentVersion?: string;
  /** Called once if the request's first attempt finds no machine and it is to wait: it is demand now. */
  onWait?: () => void;
}

/**
 * Every lease request of this process goes through here, served oldest first
 * by one loop per pool: the requests that arrive together (a burst of fifty)
 * cost one lease script call and one tagging call between them, not fifty of
 * each, and requests that wait cost one attempt per tick between them. A
 * machine that becomes ready goes at the next tick. Answers wait for Redis
 * only; the tagging call follows them.
 */
export class LeaseHandout {
  private readonly queues = new Map<string, Waiting[]>();
  /** Leases answered while a tagging call is in flight: they go out together in the next call. */
  private untagged: Machine[] = [];
  private tagging: Promise<void> | undefined;
  /** Queues whose latest lease attempt failed: said once when it starts failing and once when it recovers. */
  private readonly failing = new Set<string>();

  /**
   * @param tagLeased writes the leases onto the instances (what a rebuild after a
   *   Redis loss reads), started once they are answered; it must not throw.
   * @param logger hears a lease attempt that failed (the requests keep waiting and are tried again).
   */
  constructor(
    private readonly store: Pick<MachineStore, 'leaseMany'>,
    private readonly now: () => number,
    private readonly tagLeased: (machines: readonly Machine[]) => Promise<unknown> = () => Promise.resolve(),
    private readonly logger?: Pick<Logger, 'error' | 'info' | 'debug'>,
  ) {}

  /** Resolves once every lease answered so far has had its tagging call (landed or failed): a web process waits for it before it exits. */
  async tagsSent(): Promise<void> {
    await this.tagging;
  }

  /** Requests of `pool` (for `agentVersion`, if given) waiting here now. */
  waiting(pool: string, agentVersion?: string): number {
    return this.queues.get(queueKey(pool, agentVersion))?.length ?? 0;
  }

  /**
   * A machine of `pool`, or undefined once `deadline` passes (after one
   * attempt at least) or the signal aborts. Requests for one agent version
   * queue apart from the rest: none holds up the other.
   */
  wait(pool: string, deadline: number, options: WaitOptions = {}): Promise<Machine | undefined> {
    const { signal, agentVersion, onWait } = options;
    if (signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const key = queueKey(pool, agentVersion);
      const queue = this.queues.get(key) ?? [];
      const onAbort = () => (waiting.trying ? (waiting.left = true) : this.drop(queue, waiting));
      // Its listener goes with its answer: the signal may outlive the request.
      const answer = (machine: Machine | undefined) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(machine);
      };
      const waiting: Waiting = { deadline, resolve: answer, onWait, tried: false, trying: false, left: false };
      queue.push(waiting);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!this.queues.has(key)) {
        this.queues.set(key, queue);
        void this.serve(pool, agentVersion, queue);
      }
    });
  }

  private async serve(pool: string, agentVersion: string | undefined, queue: Waiting[]): Promise<void> {
    // Requests arriving in the same turn of the event loop (a burst) share the first attempt.
    await nextTurn();
    for (;;) {
      for (const waiting of queue.filter((w) => w.tried && this.now() >= w.deadline)) this.drop(queue, waiting);
      if (queue.length === 0) return void this.queues.delete(queueKey(pool, agentVersion));
      const batch = queue.slice(0, MAX_BATCH);
      for (const waiting of batch) waiting.trying = true;
      const machines = await this.attempt(pool, agentVersion, batch.length);
      const untried = queue.some((w) => !w.tried && !batch.includes(w));
      // Oldest first. A machine leased for a client that left meanwhile is still handed over: the caller releases it, as it would any late answer.
      for (const [i, waiting] of batch.entries()) {
        waiting.trying = false;
        waiting.tried = true;
        const machine = machines[i];
        if (machine || waiting.left) {
          queue.splice(queue.indexOf(waiting), 1);
          waiting.resolve(machine);
        } else if (waiting.onWait && this.now() < waiting.deadline) {
          waiting.onWait();
          waiting.onWait = undefined;
        }
      }
      // After the answers: a build never waits for the cloud's API.
      if (machines.length > 0) this.tag(machines);
      // A full batch may have more behind it; newcomers get their first attempt at once.
      if (machines.length === batch.length || untried) continue;
      const soonest = Math.min(...queue.map((w) => w.deadline));
      await delay(Math.max(0, Math.min(RETRY_MS, soonest - this.now())));
    }
  }

  /**
   * One lease script call. A failure (Redis down, a script error) answers no
   * machine: the requests keep waiting until their deadline and are tried
   * again next tick, and the failure is logged with what it holds up.
   */
  private async attempt(pool: string, agentVersion: string | undefined, waiters: number): Promise<Machine[]> {
    const key = queueKey(pool, agentVersion);
    try {
      const machines = await this.store.leaseMany(pool, this.now(), waiters, agentVersion);
      if (this.failing.delete(key)) this.logger?.info({ pool, agentVersion }, `lease attempts for pool ${pool} succeed again`);
      return machines;
    } catch (err) {
      const fields = { pool, agentVersion, waiters, error: describeError(err) };
      // Said in full once per failing spell, not once per tick (20 a second).
      if (!this.failing.has(key)) this.logger?.error(fields, `lease attempt for pool ${pool} failed: ${waiters} waiting requests get no machine until it succeeds`);
      else this.logger?.debug(fields, `lease attempt for pool ${pool} failed again`);
      this.failing.add(key);
      return [];
    }
  }

  private tag(machines: readonly Machine[]): void {
    this.untagged.push(...machines);
    this.tagging ??= this.sendTags();
  }

  /**
   * One tagging call at a time: a burst of leases answered one after another
   * costs a few calls, not one each (each call is the cloud SDK's signing and
   * parsing on this process's CPU, and EC2 throttles mutating calls).
   */
  private async sendTags(): Promise<void> {
    while (this.untagged.length > 0) {
      const batch = this.untagged;
      this.untagged = [];
      try {
        await this.tagLeased(batch);
      } catch {
        // tagLeased logs its own failures; the reaper writes a tag that did not land.
      }
    }
    this.tagging = undefined;
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
