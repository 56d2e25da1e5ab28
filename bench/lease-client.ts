import { Agent, request } from 'node:http';
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

/**
 * The web API as a build system calls it: lease with a wait, release when
 * the build is done. Plain `node:http` with keep-alive, not `fetch`: the
 * benchmark plays fifty build systems from one process, and fetch's own CPU
 * (about 0.7 ms a request here) queued fifty requests behind each other in
 * this event loop, so the client's cost, not vmpool's, was most of the
 * latency measured. Each real client has its own CPU for that.
 */
export class LeaseClient {
  private readonly agent = new Agent({ keepAlive: true });
  private readonly base: URL;

  constructor(
    url: string,
    private readonly token: string,
    private readonly pool: string,
  ) {
    this.base = new URL(url);
  }

  async lease(wait: string): Promise<LeaseAnswer> {
    const started = performance.now();
    const { status, body } = await this.send('POST', `/v1/pools/${this.pool}/leases`, JSON.stringify({ wait }));
    const answer = JSON.parse(body) as { id?: string; zone?: string };
    return { status, id: answer.id, zone: answer.zone, ms: performance.now() - started };
  }

  /** The cheapest answer the web process gives (one Redis PING): the HTTP floor under a lease's latency. Returns ms. */
  async health(): Promise<number> {
    const started = performance.now();
    await this.send('GET', '/healthz');
    return performance.now() - started;
  }

  /** The build is done: single-use machines are terminated. Returns the HTTP status. */
  async release(id: string): Promise<number> {
    return (await this.send('DELETE', `/v1/leases/${id}`)).status;
  }

  close(): void {
    this.agent.destroy();
  }

  private send(method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return new Promise((resolve, reject) => {
      const req = request({ host: this.base.hostname, port: this.base.port, method, path, headers, agent: this.agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}
