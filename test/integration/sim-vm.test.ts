import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { startSimVm, type SimVm } from '../../src/sim/vm.js';
import { fingerprint, generateEd25519KeyPair } from '../../src/boot/host-key.js';
import { alive } from '../helpers/child.js';
import { loopbackAddress, startTestVm } from '../helpers/sim-vm.js';
import { testKeyPath } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';

const logger = createLogger({ level: 'silent', pretty: false });
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Connected { client: ssh2.Client; hostKey: Buffer }

function connect(vm: SimVm, privateKey = readFileSync(testKeyPath())): Promise<Connected> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKey: Buffer = Buffer.alloc(0);
    cleanups.push(() => void client.end());
    client.once('ready', () => resolve({ client, hostKey })).once('error', reject);
    client.connect({
      host: vm.address, port: vm.port, username: 'builder', privateKey, readyTimeout: 10_000,
      hostVerifier: (key: Buffer) => ((hostKey = key), true),
    });
  });
}

interface Run { code: number | null; signal: string | null; stdout: string; stderr: string }

function run(client: ssh2.Client, command: string, onStart?: (channel: ssh2.ClientChannel) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) return reject(err);
      const result: Run = { code: null, signal: null, stdout: '', stderr: '' };
      channel.on('data', (d: Buffer) => (result.stdout += d.toString()));
      channel.stderr.on('data', (d: Buffer) => (result.stderr += d.toString()));
      channel.on('exit', (code: number | null, signal?: string) => Object.assign(result, { code, signal: signal ?? null }));
      channel.on('close', () => resolve(result));
      onStart?.(channel);
    });
  });
}

describe('simulated VM', () => {
  it('runs an exec command in the scratch dir with HOME there and returns its output and exit code', async () => {
    const vm = await startTestVm(cleanups);
    const { client } = await connect(vm);
    const result = await run(client, 'pwd; echo "$HOME"; echo oops >&2; exit 3');
    expect(result).toEqual({ code: 3, signal: null, stdout: `${vm.scratchDir}\n${vm.scratchDir}\n`, stderr: 'oops\n' });
  });

  it('reports a command killed by a signal as an exit signal', async () => {
    const vm = await startTestVm(cleanups);
    const { client } = await connect(vm);
    const result = await run(client, 'kill -TERM $$');
    expect(result.signal).toBe('SIGTERM');
  });

  it('presents the host key whose fingerprint it advertises', async () => {
    const vm = await startTestVm(cleanups);
    const { hostKey } = await connect(vm);
    expect(fingerprint(hostKey)).toBe(vm.hostKeyFingerprint);
    expect(vm.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('refuses a key other than the authorized one', async () => {
    const vm = await startTestVm(cleanups);
    const stranger = generateEd25519KeyPair().private;
    await expect(connect(vm, Buffer.from(stranger))).rejects.toMatchObject({ level: 'client-authentication' });
  });

  it('runs an interactive shell fed from the channel', async () => {
    const vm = await startTestVm(cleanups);
    const { client } = await connect(vm);
    const output = await new Promise<string>((resolve, reject) => {
      client.shell((err, channel) => {
        if (err) return reject(err);
        let out = '';
        channel.on('data', (d: Buffer) => (out += d.toString()));
        channel.on('close', () => resolve(out));
        channel.end('pwd\nexit 0\n');
      });
    });
    expect(output).toContain(vm.scratchDir);
  });

  it('acts as a terminal when a pty is asked for: echoes keys, Enter ends a line, output lines end in CRLF', async () => {
    const vm = await startTestVm(cleanups);
    const { client } = await connect(vm);
    const output = await new Promise<string>((resolve, reject) => {
      client.shell({ term: 'xterm' }, (err, channel) => {
        if (err) return reject(err);
        let out = '';
        channel.on('data', (d: Buffer) => (out += d.toString()));
        channel.on('close', () => resolve(out));
        channel.write('echo hix\x7f\r');
        channel.write('exit 0\r');
      });
    });
    expect(output).toContain('echo hix\b \b\r\n');
    expect(output).toContain('hi\r\n'); // typed-ahead echo may land before it, so no more context than this
    expect(output.replace(/\r\n/g, '')).not.toContain('\n');
  });

  it('kills the command process group when the client closes the channel', async () => {
    const vm = await startTestVm(cleanups);
    const { client } = await connect(vm);
    const done = run(client, 'sleep 30 & echo $! > bg.pid; echo $$ > sh.pid; wait', (channel) => {
      void waitFor(() => readPids(vm.scratchDir).length === 2, { what: 'pid files' }).then(() => channel.close());
    });
    await done;
    const pids = readPids(vm.scratchDir);
    await waitFor(() => pids.every((pid) => !alive(pid)), { what: 'processes gone' });
  });

  it('close() kills running commands and ends connections', async () => {
    const vm = await startTestVm(cleanups);
    const { client } = await connect(vm);
    const ended = new Promise<void>((resolve) => client.once('close', () => resolve()));
    void run(client, 'echo $$ > sh.pid; sleep 30').catch(() => undefined);
    await waitFor(() => readPids(vm.scratchDir).length === 1, { what: 'pid file' });
    await vm.close();
    expect(alive(readPids(vm.scratchDir)[0]!)).toBe(false);
    await ended;
  });

  it('rejects with EADDRINUSE when its address and port are taken', async () => {
    const address = loopbackAddress();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, address, resolve));
    cleanups.push(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
    const port = (squatter.address() as { port: number }).port;
    const scratchDir = mkdtempSync(join(tmpdir(), 'vmpool-sim-vm-'));
    cleanups.push(() => rmSync(scratchDir, { recursive: true, force: true }));
    await expect(startSimVm({ address, port, authorizedKey: readFileSync(`${testKeyPath()}.pub`, 'utf8'), scratchDir, logger })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});

function readPids(dir: string): number[] {
  return ['bg.pid', 'sh.pid']
    .map((name) => { try { return Number(readFileSync(join(dir, name), 'utf8').trim()); } catch { return 0; } })
    .filter((pid) => pid > 0);
}
