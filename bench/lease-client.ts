import { performance } from 'node:perf_hooks';

/** One lease request as its client saw it. */
export interface LeaseAnswer {
  status: number;
  /** The machine, when leased. */
  id?: string;
  zone?: string;
  /** From sending the request to the whole answer, in ms. */
  ms: number;
}

/** The web API as a build system calls it: lease with a wait, release when the build is done. */
export class LeaseClient {
  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly pool: string,
  ) {}

  async lease(wait: string): Promise<LeaseAnswer> {
    const started = performance.now();
    const res = await fetch(`${this.url}/v1/pools/${this.pool}/leases`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ wait }),
    });
    const body = (await res.json()) as { id?: string; zone?: string };
    return { status: res.status, id: body.id, zone: body.zone, ms: performance.now() - started };
  }

  /** The build is done: single-use machines are terminated. Returns the HTTP status. */
  async release(id: string): Promise<number> {
    const res = await fetch(`${this.url}/v1/leases/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${this.token}` } });
    await res.arrayBuffer();
    return res.status;
  }
}
