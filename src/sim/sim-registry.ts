import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { parseReference } from '../agent/reference.js';

export interface SimRegistryOptions {
  name: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Ask for a bearer token (401 + challenge) as Docker Hub does; the token endpoint hands one to anyone. */
  token: boolean;
  /** `image:tag` references present at start (and again after `clear`). */
  images: readonly string[];
  logger: Logger;
  random?: () => number;
}

/** What an operator changes at run time (`vmpool sim registry`); clear is applied first. */
export interface RegistryChange {
  /** Heal: no faults, and the images it started with. */
  clear?: boolean;
  /** Share of manifest requests answered 503. */
  fail?: number;
  /** Every manifest answer is held back this long. */
  slowMs?: number;
  delete?: readonly string[];
  push?: readonly string[];
}

export interface RegistryView {
  name: string;
  url: string;
  token: boolean;
  images: string[];
  faults: { fail?: number; slowMs?: number };
}

const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

/**
 * The manifest the simulated registries serve for a reference: the same
 * bytes (so the same digest) in every registry, as a mirrored image has.
 */
export function simManifest(reference: string): Buffer {
  const blob = (what: string) => `sha256:${createHash('sha256').update(`${what} ${reference}`).digest('hex')}`;
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1024, digest: blob('config') },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 4096, digest: blob('layer') }],
    }),
  );
}

/**
 * A container registry on loopback speaking enough of the Docker Registry
 * HTTP API v2 for agent pulls and `vmpool agent verify`: `/v2/`, HEAD and GET
 * `/v2/<name>/manifests/<tag>` (with `Docker-Content-Digest`), and a token
 * endpoint when it asks for bearer tokens. Its content and faults change at
 * run time.
 */
export class SimRegistry {
  readonly name: string;
  private images: Set<string>;
  private fail = 0;
  private slowMs = 0;
  private readonly tokens = new Set<string>();
  private readonly held = new Set<NodeJS.Timeout>();
  private readonly random: () => number;
  private server?: Server;
  private base = '';

  constructor(private readonly options: SimRegistryOptions) {
    this.name = options.name;
    this.images = new Set(options.images);
    this.random = options.random ?? Math.random;
  }

  get url(): string {
    return this.base;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.answer(req, res));
    this.server = server;
    const address = await new Promise<AddressInfo>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve(server.address() as AddressInfo));
    });
    this.base = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  /** Applies a change and returns the registry as it is now; throws RangeError for a bad reference or value. */
  change(change: RegistryChange): RegistryView {
    const bad = [...(change.delete ?? []), ...(change.push ?? [])].find((ref) => !parseReference(ref));
    if (bad !== undefined) throw new RangeError(`expected an image reference like "vmpool/build-agent:1.5.0", got ${JSON.stringify(bad)}`);
    if (change.clear) {
      this.images = new Set(this.options.images);
      this.fail = 0;
      this.slowMs = 0;
    }
    if (change.fail !== undefined) this.fail = change.fail;
    if (change.slowMs !== undefined) this.slowMs = change.slowMs;
    for (const ref of change.delete ?? []) this.images.delete(ref);
    for (const ref of change.push ?? []) this.images.add(ref);
    return this.view();
  }

  view(): RegistryView {
    const faults = { ...(this.fail ? { fail: this.fail } : {}), ...(this.slowMs ? { slowMs: this.slowMs } : {}) };
    return { name: this.name, url: this.base, token: this.options.token, images: [...this.images].sort(), faults };
  }

  async close(): Promise<void> {
    for (const timer of this.held) clearTimeout(timer);
    this.held.clear();
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://registry.invalid').pathname;
    if (path === '/token') return this.issueToken(res);
    if (!path.startsWith('/v2/')) return json(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'not a registry API path' }] });
    if (this.options.token && !this.tokens.has((req.headers.authorization ?? '').replace(/^Bearer /, ''))) return this.challenge(res, path);
    if (path === '/v2/') return json(res, 200, {});
    const match = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (!match || (req.method !== 'GET' && req.method !== 'HEAD')) return json(res, 404, { errors: [{ code: 'UNSUPPORTED', message: `${req.method} ${path}` }] });
    const reference = `${match[1]}:${decodeURIComponent(match[2]!)}`;
    const reply = () => this.manifest(req, res, reference);
    if (this.slowMs <= 0) return reply();
    const timer = setTimeout(() => (this.held.delete(timer), reply()), this.slowMs);
    this.held.add(timer);
    res.once('close', () => (clearTimeout(timer), this.held.delete(timer)));
  }

  private manifest(req: IncomingMessage, res: ServerResponse, reference: string): void {
    const log = (status: number) => this.options.logger.debug({ registry: this.name, method: req.method, reference, status }, 'sim registry manifest request');
    if (this.fail > 0 && this.random() < this.fail) return log(503), json(res, 503, { errors: [{ code: 'UNAVAILABLE', message: 'service unavailable (sim fault)' }] });
    if (!this.images.has(reference)) return log(404), json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: `manifest unknown: ${reference}` }] });
    log(200);
    const body = simManifest(reference);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    res.writeHead(200, { 'content-type': MANIFEST_TYPE, 'content-length': body.length, 'docker-content-digest': digest });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private challenge(res: ServerResponse, path: string): void {
    const name = /^\/v2\/(.+)\/manifests\//.exec(path)?.[1];
    const scope = name ? `,scope="repository:${name}:pull"` : '';
    res.setHeader('www-authenticate', `Bearer realm="${this.base}/token",service="sim-registry-${this.name}"${scope}`);
    json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
  }

  // Anonymous pull tokens, as Docker Hub hands out; bounded so a long demo does not grow memory.
  private issueToken(res: ServerResponse): void {
    const token = randomBytes(24).toString('base64url');
    if (this.tokens.size >= 10_000) this.tokens.clear();
    this.tokens.add(token);
    json(res, 200, { token, access_token: token, expires_in: 300 });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
