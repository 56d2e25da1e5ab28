import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { freePort } from '../../src/local/free-port.js';
import { testConfig } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';

// A Redis add-on on a Procfile platform is reached at a rediss:// URL, often with a self-signed certificate
// (Heroku's): a real redis-server speaking TLS only, with a certificate made for the test.
let dir: string;
let server: ChildProcess;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vmpool-redis-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=vmpool-test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  port = await freePort();
  const args = ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', join(dir, 'cert.pem'), '--tls-key-file', join(dir, 'key.pem'),
    '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'];
  server = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(() => output.includes('Ready to accept connections'), { what: 'the TLS redis-server' });
});

afterAll(async () => {
  if (server.exitCode === null) await new Promise((resolve) => { server.once('exit', resolve); server.kill('SIGTERM'); });
  rmSync(dir, { recursive: true, force: true });
});

describe('a rediss:// Redis URL', () => {
  it('connects the store and BullMQ over TLS, accepting a self-signed certificate when tlsVerify is false', async () => {
    const config = testConfig({ redis: { url: `rediss://127.0.0.1:${port}`, tlsVerify: false } });
    let app: App | undefined;
    let worker: Worker | undefined;
    try {
      app = await createApp({ config, logger: createLogger(config.log), roles: [] });
      expect(await app.redis.ping()).toBe('PONG');
      // A worker's blocking connection is BullMQ's duplicate of the app's: it must carry the TLS options too.
      const done: string[] = [];
      worker = new Worker<{ pool: string }>(app.queues.reconcile.name, (job) => Promise.resolve(void done.push(job.data.pool)), { connection: app.redis, prefix: config.redis.prefix });
      await app.queues.reconcile.add('reconcile', { pool: 'small' });
      await waitFor(() => done.includes('small'), { what: 'the job to run over TLS' });
    } finally {
      await worker?.close();
      await app?.close();
    }
  });
});
