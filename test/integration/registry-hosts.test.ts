import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchManifest, RegistryError } from '../../src/agent/registry-client.js';
import { startTestSim } from '../helpers/sim-ec2.js';

// Issue 11 item 8: a registry decides neither where our token request goes nor where our (token-bearing) request is redirected.
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Fake {
  url: string;
  hits: string[];
}

/** An HTTP server on a loopback address that records each request's path and answers with `handle`. */
async function serve(address: string, handle: (req: IncomingMessage, res: ServerResponse, base: string) => void): Promise<Fake> {
  const hits: string[] = [];
  let base = '';
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    handle(req, res, base);
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  base = `http://${address}:${(server.address() as AddressInfo).port}`;
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: base, hits };
}

const MANIFEST = '{"schemaVersion":2}';

/** A registry that asks for a bearer token from `realm` and serves the manifest to whoever brings one. */
function registryWithRealm(realm: () => string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.headers.authorization !== 'Bearer t0k') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm()}",service="fake"` }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(MANIFEST);
  };
}

const tokenServer = (_req: IncomingMessage, res: ServerResponse): void => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t0k"}');

async function failure(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof Error)) throw new Error('expected a rejection');
  return err;
}

describe('registry token realm', () => {
  it('fetches the token from the registry host itself', async () => {
    const registry: Fake = await serve('127.0.0.1', (req, res, base) => (req.url?.startsWith('/token') ? tokenServer(req, res) : registryWithRealm(() => `${base}/token`)(req, res)));
    const answer = await fetchManifest(registry.url, 'a/b', '1', { method: 'GET', loopbackOnly: true });
    expect(answer).toMatchObject({ present: true });
  });

  it('refuses a realm on another host unless that host is in agent.tokenRealmHosts', async () => {
    const auth = await serve('127.0.0.2', tokenServer);
    const registry = await serve('127.0.0.1', registryWithRealm(() => `${auth.url}/token`));
    const err = await failure(fetchManifest(registry.url, 'a/b', '1', { method: 'GET', loopbackOnly: true }));
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toContain('refusing token realm on 127.0.0.2');
    expect(auth.hits).toEqual([]);
    expect(await fetchManifest(registry.url, 'a/b', '1', { method: 'GET', loopbackOnly: true, realmHosts: ['127.0.0.2'] })).toMatchObject({ present: true });
    expect(auth.hits).toHaveLength(1);
  });
});

describe('registry redirects', () => {
  it('follows a redirect within the registry host and refuses one to another host', async () => {
    const elsewhere = await serve('127.0.0.3', (_req, res) => void res.writeHead(200).end(MANIFEST));
    const registry = await serve('127.0.0.1', (req, res, base) => {
      if (req.url?.includes('/moved/')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(MANIFEST);
      if (req.url?.includes('/manifests/here')) return void res.writeHead(307, { location: `${base}/v2/a/b/moved/here` }).end();
      res.writeHead(302, { location: `${elsewhere.url}/v2/a/b/manifests/1` }).end();
    });
    expect(await fetchManifest(registry.url, 'a/b', 'here', { method: 'GET', loopbackOnly: true })).toMatchObject({ present: true });
    const err = await failure(fetchManifest(registry.url, 'a/b', 'away', { method: 'GET', loopbackOnly: true }));
    expect(err.message).toContain(`refusing a redirect to ${elsewhere.url}`);
    expect(elsewhere.hits).toEqual([]);
    // Outside loopbackOnly too: a redirect to another host is never followed.
    expect((await failure(fetchManifest(registry.url, 'a/b', 'away', { method: 'GET' }))).message).toContain('refusing a redirect');
    expect(elsewhere.hits).toEqual([]);
  });
});

describe("the simulated VMs' registry-pull", () => {
  it('refuses a registry outside loopback with a clear message', async () => {
    const { sim } = await startTestSim(cleanups);
    const shim = join(sim.rootDir, 'image-bin', 'registry-pull');
    // 0.0.0.0 is not loopback by the rule (yet a dial would stay on this machine, so the test reaches nothing outside).
    const err = await promisify(execFile)(shim, ['http://0.0.0.0:9', 'vmpool/build-agent:1.5.0', '/dev/null']).then(
      () => undefined,
      (e: Error & { code?: number; stderr?: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain('refusing to dial 0.0.0.0:9: loopbackOnly allows only 127.0.0.0/8 and ::1');
  });
});
