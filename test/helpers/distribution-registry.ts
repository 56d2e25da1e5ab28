import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/local/free-port.js';
import { waitFor } from './wait-for.js';

/** Debian's `docker-registry` (the Distribution registry) on a loopback port, with its own config and storage. */
export interface DistributionRegistry {
  url: string;
  /** Uploads a config and a layer blob, then PUTs a schema 2 manifest for the tag; resolves with the manifest's digest. */
  push(image: string, tag: string): Promise<string>;
  stop(): Promise<void>;
}

const BINARY = 'docker-registry';

/** Starts one; fails (never skips) with what to install when the binary is missing. */
export async function startDistributionRegistry(): Promise<DistributionRegistry> {
  if (spawnSync('sh', ['-c', `command -v ${BINARY}`]).status !== 0) {
    throw new Error(`${BINARY} is not installed: run scripts/ensure-registry.sh as root, or apt-get install -y docker-registry (Debian's Distribution registry)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'vmpool-distribution-'));
  const port = await freePort();
  const configPath = join(dir, 'config.yml');
  writeFileSync(configPath, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn(BINARY, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => (await fetch(`${url}/v2/`).catch(() => undefined))?.status === 200, { what: `${BINARY} answering on ${url} (stderr: ${stderr})`, timeoutMs: 60_000 });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, push: (image, tag) => push(url, image, tag), stop };
}

async function push(url: string, image: string, tag: string): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, tag }));
  const layer = Buffer.from(`layer of ${image}:${tag}`);
  const blobs = [config, layer].map((body) => ({ body, digest: sha256(body) }));
  for (const blob of blobs) await uploadBlob(url, image, blob.body, blob.digest);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: blobs[0]!.digest },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: blobs[1]!.digest }],
    }),
  );
  const put = await fetch(`${url}/v2/${image}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' }, body: manifest });
  if (put.status !== 201) throw new Error(`manifest PUT answered ${put.status}: ${await put.text()}`);
  return put.headers.get('docker-content-digest') ?? sha256(manifest);
}

// The monolithic upload of the API: POST starts a session, PUT with the digest completes it.
async function uploadBlob(url: string, image: string, body: Buffer, digest: string): Promise<void> {
  const started = await fetch(`${url}/v2/${image}/blobs/uploads/`, { method: 'POST' });
  if (started.status !== 202) throw new Error(`blob upload start answered ${started.status}`);
  const location = new URL(started.headers.get('location')!, url);
  location.searchParams.set('digest', digest);
  const done = await fetch(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body });
  if (done.status !== 201) throw new Error(`blob upload answered ${done.status}: ${await done.text()}`);
}

function sha256(body: Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}
