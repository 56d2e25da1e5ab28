import { execFile, spawnSync } from 'node:child_process';
import { createServer, request } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, inject } from 'vitest';
import { createApp, type App, type Role } from '../../src/app.js';
import { fingerprint } from '../../src/boot/host-key.js';
import { buildProgram } from '../../src/cli/program.js';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { Machine } from '../../src/machines/machine.js';
import { startSimCloud, type SimCloud } from '../../src/sim/sim-cloud.js';
import { onePool, simProviders, simRegistries } from '../helpers/system.js';
import { mergeDeep, testConfig, testKeyPath } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';
import { loseEverything } from '../helpers/lose-redis.js';
import { gatedStep } from '../helpers/prepare-gate.js';

// Issue 11 item 5: the host key seen at first contact is the machine's for life.
// The sim publishes its VMs' fingerprints under a tag of its own here, as EC2
// publishes none: what vmpool knows of a host key is what it pinned itself.
const PUBLISHED_BY_SIM = 'sim:published-host-key';

let redis: Redis;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await redis.quit();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  sim: SimCloud;
  config: Readonly<Config>;
  start: (roles: readonly Role[]) => Promise<App>;
}

/** `apiEndpoint` puts something in front of the sim's EC2 API (vmpool calls it instead). */
async function setUp(overrides: Record<string, unknown>, apiEndpoint: (sim: SimCloud) => Promise<string> = (sim) => Promise.resolve(sim.endpoint)): Promise<Setup> {
  const simOnly = testConfig(overrides);
  const logger = createLogger(simOnly.log);
  const sim = await startSimCloud({ config: simOnly.sim, logger, hostKeyTag: PUBLISHED_BY_SIM });
  cleanups.push(() => sim.close());
  const config = testConfig(mergeDeep({ registries: simRegistries(sim) }, mergeDeep(overrides, { providers: simProviders(await apiEndpoint(sim)) })) as Record<string, unknown>);
  const start = async (roles: readonly Role[]): Promise<App> => {
    const app = await createApp({ config, logger, roles });
    cleanups.push(() => app.close());
    return app;
  };
  return { sim, config, start };
}

const instanceTags = (sim: SimCloud, machine: Machine) => sim.instances().find((i) => i.instanceId === machine.instanceId)!.tags;

/**
 * An EC2 endpoint in front of the sim whose first `count` CreateTags answer
 * `InvalidInstanceID.NotFound`, as EC2 may right after a launch though
 * DescribeInstances already shows the instance (each part of its API
 * catches up on its own). Everything else passes through.
 */
async function laggingCreateTags(target: string, count: number): Promise<{ url: string; refused: () => number }> {
  let refused = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (refused < count && new URLSearchParams(body.toString()).get('Action') === 'CreateTags') {
        refused++;
        res.writeHead(400, { 'content-type': 'text/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance ID 'i-0123456789abcdef0' does not exist</Message></Error></Errors><RequestID>lagging</RequestID></Response>`);
        return;
      }
      const forwarded = request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forwarded.on('error', () => res.destroy());
      forwarded.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, refused: () => refused };
}

describe('host key pinning', () => {
  it('pins the first key in the record and on the instance, and a rebuild from tags keeps the pin: a changed host fails host-key-mismatch, not its zone', async () => {
    const { sim, config, start } = await setUp(onePool({ warm: 1, max: 1 }));
    const app = await start(['producer', 'booter', 'web']);
    const machine = await waitFor(async () => (await app.store.list('small', 'ready'))[0], { what: 'a ready machine' });
    const published = instanceTags(sim, machine)[PUBLISHED_BY_SIM];
    expect(machine.hostKeyFingerprint).toBe(published);
    expect(machine.hostKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
    expect(fingerprint(Buffer.from(machine.hostKey!.split(' ')[1]!, 'base64'))).toBe(published);
    expect(instanceTags(sim, machine)[config.ssh.hostKeyTag]).toBe(published);

    await sim.replaceHostKey(machine.instanceId!);
    await loseEverything(redis, config.redis.prefix);
    await waitFor(async () => ['ready', 'failed', 'terminating', 'terminated'].includes((await app.store.get(machine.id))?.state ?? ''), { what: 'the rebuilt machine to be judged', timeoutMs: 30_000 });
    const failed = await app.store.get(machine.id);
    expect(failed).toMatchObject({ failure: 'host-key-mismatch', hostKeyFingerprint: published });
    expect((await app.breaker.read([machine.zone], Date.now())).get(machine.zone)).toMatchObject({ state: 'closed', failures: 0 });
  });

  it('pins the key on the instance though CreateTags first answers that the instance does not exist, without failing or restarting the boot', async () => {
    let proxy: Awaited<ReturnType<typeof laggingCreateTags>> | undefined;
    const { sim, config, start } = await setUp(onePool({ warm: 1, max: 1 }), async (s) => (proxy = await laggingCreateTags(s.endpoint, 2)).url);
    const app = await start(['producer', 'booter', 'web']);
    const machine = await waitFor(async () => (await app.store.list('small', 'ready'))[0], { what: 'a ready machine' });
    expect(proxy!.refused()).toBe(2);
    expect(instanceTags(sim, machine)[config.ssh.hostKeyTag]).toBe(machine.hostKeyFingerprint);
    // Asked again in place: the boot job neither failed nor started over (a retried job marks the boot resumed).
    expect([machine.failure, machine.bootResumedAt]).toEqual([undefined, undefined]);
  });

  it('a boot taken over by another booter fails host-key-mismatch when the machine now presents another key', async () => {
    const { sim, start } = await setUp({ ...onePool({ warm: 1, max: 1, prepare: { steps: [gatedStep('60s')] } }), shutdown: { grace: '1s' } });
    const first = await start(['producer', 'booter']);
    const machine = await waitFor(async () => (await first.store.list('small', 'preparing'))[0], { what: 'a machine preparing' });
    const pinned = machine.hostKeyFingerprint;
    expect(pinned).toBeDefined();
    const scratch = join(sim.rootDir, machine.instanceId!);
    await waitFor(() => existsSync(join(scratch, 'started')), { what: 'the gated step to run' });
    await first.close(); // the boot is handed back mid-prepare

    await sim.replaceHostKey(machine.instanceId!);
    writeFileSync(join(scratch, 'go'), ''); // a booter that trusted the new key would now finish the prepare
    const second = await start(['booter']);
    await waitFor(async () => ['ready', 'failed', 'terminating', 'terminated'].includes((await second.store.get(machine.id))?.state ?? ''), { what: 'the taken-over boot to end', timeoutMs: 30_000 });
    expect(await second.store.get(machine.id)).toMatchObject({ failure: 'host-key-mismatch', hostKeyFingerprint: pinned });
  });
});

describe('vmpool lease', () => {
  const exec = promisify(execFile);

  it('prints an ssh command that accepts only the pinned host key', async () => {
    const { sim, config, start } = await setUp(onePool({ warm: 1, max: 1 }));
    const app = await start(['producer', 'booter', 'web']);
    await waitFor(async () => (await app.store.list('small', 'ready')).length === 1, { what: 'a ready machine' });
    const dir = mkdtempSync(join(tmpdir(), 'vmpool-known-hosts-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const lines: string[] = [];
    const program = buildProgram({ resolveApi: () => ({ url: app.url! }), simUrl: () => sim.endpoint, privateKeyPath: testKeyPath(), knownHostsDir: dir, print: (line) => lines.push(line) });
    await program.parseAsync(['node', 'vmpool', 'lease', 'small']);
    const printed = lines.join('\n');
    const machine = (await app.store.list('small', 'leased'))[0]!;
    const file = join(dir, machine.id);
    expect(printed).not.toContain('accept-new');
    expect(printed).not.toContain('/dev/null');
    const command = printed.split('\n').find((line) => line.trim().startsWith('ssh '))!.trim();
    expect(command).toBe(`ssh -i ${testKeyPath()} -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${file} -p ${machine.port} ${config.ssh.user}@${machine.address}`);
    expect(readFileSync(file, 'utf8')).toBe(`[${machine.address}]:${machine.port} ${machine.hostKey}\n`);

    if (spawnSync('ssh', ['-V']).error) return; // no OpenSSH client here: the file's content was checked above
    // Real OpenSSH, the printed options: the pinned host is let in, a changed one is refused.
    const args = [...command.split(' ').slice(1, -1), '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', command.split(' ').at(-1)!, 'true'];
    await expect(exec('ssh', args, { timeout: 60_000 })).resolves.toBeDefined();
    await sim.replaceHostKey(machine.instanceId!);
    const refused = await exec('ssh', args, { timeout: 60_000 }).then(() => undefined, (err: Error & { stderr?: string }) => err);
    expect(refused?.stderr).toMatch(/host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i);
  });
});

