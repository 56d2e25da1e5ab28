import type { LeaseClient } from '../lease-client.js';

/** Builds as fast as machines come: each client leases (waiting if it must), releases at once, again. */
export class ClosedLoop {
  leased = 0;
  released = 0;
  readonly unexpected: string[] = [];
  private stopped = false;
  private readonly loops: Promise<void>[];

  constructor(clients: readonly LeaseClient[], concurrency: number, wait: string) {
    this.loops = Array.from({ length: concurrency }, (_, i) => this.loop(clients[i % clients.length]!, wait));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private async loop(client: LeaseClient, wait: string): Promise<void> {
    while (!this.stopped) {
      const answer = await client.lease(wait).catch((err: unknown) => ({ status: 0, id: undefined, error: String(err) }));
      if (answer.status !== 200 || !answer.id) {
        if (answer.status !== 503) this.unexpected.push(`lease answered ${answer.status}`);
        continue;
      }
      this.leased++;
      const status = await client.release(answer.id).catch(() => 0);
      if (status === 200) this.released++;
      else this.unexpected.push(`release answered ${status}`);
    }
  }
}

/** `count` leases from a full pool by `concurrency` clients at once, each answered from the ready machines (wait 0s); held, not released. */
export async function leaseBurst(clients: readonly LeaseClient[], concurrency: number, count: number): Promise<{ ms: number[]; ids: string[]; refused: number }> {
  const ms: number[] = [];
  const ids: string[] = [];
  let refused = 0;
  let next = 0;
  const worker = async (client: LeaseClient) => {
    while (next < count) {
      next++;
      const answer = await client.lease('0s');
      if (answer.status === 200 && answer.id) {
        ms.push(answer.ms);
        ids.push(answer.id);
      } else refused++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(clients[i % clients.length]!)));
  return { ms, ids, refused };
}

/** `count` health checks by `concurrency` clients at once: the same load as a lease burst on the cheapest route. */
export async function healthBurst(clients: readonly LeaseClient[], concurrency: number, count: number): Promise<number[]> {
  const ms: number[] = [];
  let next = 0;
  const worker = async (client: LeaseClient) => {
    while (next < count) {
      next++;
      ms.push(await client.health());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(clients[i % clients.length]!)));
  return ms;
}
