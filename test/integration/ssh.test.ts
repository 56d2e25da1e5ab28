import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fingerprint, generateEd25519KeyPair, type Ed25519KeyPair } from '../../src/boot/host-key.js';
import { connectSsh, connectSshWithRetry, isLoopback, SshError, type SshSession, type SshTarget } from '../../src/boot/ssh.js';
import { freePort } from '../../src/local/free-port.js';
import type { SimVm } from '../../src/sim/vm.js';
import { alive } from '../helpers/child.js';
import { loopbackAddress, startTestVm, type TestVm } from '../helpers/sim-vm.js';
import { testKeyPath } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startVm(address?: string, port?: number, authorizedKey?: string, hostKey?: Ed25519KeyPair): Promise<TestVm> {
  return startTestVm(cleanups, { address, port, authorizedKey, hostKey });
}

function target(host: string, port: number, extra: Partial<SshTarget> = {}): SshTarget {
  return { host, port, username: 'builder', privateKey: readFileSync(testKeyPath()), ...extra };
}

async function login(vm: SimVm, extra: Partial<SshTarget> = {}): Promise<SshSession> {
  const session = await connectSsh(target(vm.address, vm.port, extra), { timeoutMs: 10_000, loopbackOnly: true });
  cleanups.push(() => session.close());
  return session;
}

async function failure(promise: Promise<unknown>): Promise<SshError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof SshError)) throw new Error(`expected an SshError, got ${String(err)}`);
  return err;
}

describe('connectSsh', () => {
  it('runs a command in the VM and returns its exit code and interleaved output', async () => {
    const vm = await startVm();
    const session = await login(vm);
    const result = await session.exec('pwd; echo oops >&2; exit 7', { timeoutMs: 10_000 });
    expect(result).toEqual({ exitCode: 7, timedOut: false, output: `${vm.scratchDir}\noops\n` });
    expect(session.hostKeyFingerprint).toBe(vm.hostKeyFingerprint);
  });

  it('logs in when the host key matches the expected fingerprint', async () => {
    const vm = await startVm();
    const session = await login(vm, { hostKeyFingerprint: vm.hostKeyFingerprint });
    expect((await session.exec('true', { timeoutMs: 10_000 })).exitCode).toBe(0);
  });

  it('reports the fingerprint OpenSSH prints for the VM host key', async () => {
    const vm = await startVm();
    const session = await login(vm);
    expect(session.hostKeyFingerprint).toBe((await openSshFingerprint(vm)) ?? session.hostKeyFingerprint);
    // Without OpenSSH on the machine, the unit test's known vector is the reference.
    expect(fingerprint(Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIG+Z79Z6mWemM4gmW999ygPjBhEuQ996laEjZO8BFxl5', 'base64'))).toBe('SHA256:e0LXsZF365r9q2nikjoXkaUhFvL5CtRmNHIBIaM1NNQ');
  });

  it('refuses a key the VM does not authorize, with kind auth', async () => {
    const vm = await startVm();
    const stranger = generateEd25519KeyPair().private;
    expect((await failure(login(vm, { privateKey: stranger }))).kind).toBe('auth');
  });

  it('refuses a host key other than the expected one, with kind host-key-mismatch', async () => {
    const vm = await startVm();
    const err = await failure(login(vm, { hostKeyFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }));
    expect(err.kind).toBe('host-key-mismatch');
    expect(err.message).toContain(vm.hostKeyFingerprint);
  });

  it('refuses a non-loopback host before opening any socket', async () => {
    const connect = vi.spyOn(net.Socket.prototype, 'connect');
    // A 10-minute connect timeout: an answer at all (within the test's timeout) shows nothing was dialled.
    const err = await failure(connectSsh(target('192.0.2.1', 22), { timeoutMs: 600_000, loopbackOnly: true }));
    expect(err.kind).toBe('not-loopback');
    expect(connect).not.toHaveBeenCalled();
  });

  it('reports a port nobody listens on as unreachable', async () => {
    const address = loopbackAddress();
    const err = await failure(connectSsh(target(address, await freePort(address)), { timeoutMs: 10_000, loopbackOnly: true }));
    expect(err.kind).toBe('unreachable');
  });

  it('times out on a server that accepts TCP but never speaks SSH', async () => {
    const silent = await silentServer();
    // The server never speaks: without the timeout this would wait forever (the test's own timeout), not fail fast.
    const err = await failure(connectSsh(target(silent.address, silent.port), { timeoutMs: 300, loopbackOnly: true }));
    expect(err.kind).toBe('timeout');
  });
});

describe('isLoopback', () => {
  it('accepts 127.0.0.0/8 and every spelling of ::1, refuses the rest and host names', () => {
    for (const host of ['127.0.0.1', '127.77.3.4', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['192.0.2.1', '128.0.0.1', '10.0.0.1', '::2', '::ffff:10.0.0.1', 'localhost', 'example.com', '']) expect(isLoopback(host), host).toBe(false); // pure check: never dial these
  });
});

describe('connectSshWithRetry', () => {
  const retry = { timeoutMs: 2_000, loopbackOnly: true, retryEveryMs: 20 };

  it('logs in once the VM starts listening after failed attempts', async () => {
    const address = loopbackAddress();
    const port = await freePort(address);
    let failures = 0;
    const onAttemptFailed = (): void => {
      if (++failures === 3) void startVm(address, port);
    };
    const session = await connectSshWithRetry(target(address, port), { ...retry, deadline: Date.now() + 30_000, onAttemptFailed });
    cleanups.push(() => session.close());
    expect(failures).toBeGreaterThanOrEqual(3);
    expect((await session.exec('echo up', { timeoutMs: 10_000 })).output).toBe('up\n');
  });

  it('retries a login refused while the VM has not installed the key yet', async () => {
    const other = generateEd25519KeyPair().public;
    const hostKey = generateEd25519KeyPair();
    const early = await startVm(loopbackAddress(), 0, other, hostKey);
    const onAttemptFailed = (err: SshError, attempt: number): void => {
      expect(err.kind).toBe('auth');
      // The same host (its host key), now with the login key installed.
      if (attempt === 1) void early.close().then(() => startVm(early.address, early.port, undefined, hostKey));
    };
    const session = await connectSshWithRetry(target(early.address, early.port), { ...retry, deadline: Date.now() + 30_000, onAttemptFailed });
    cleanups.push(() => session.close());
    expect(session.hostKeyFingerprint).toBe(early.hostKeyFingerprint);
  });

  it('pins the first host key seen: a retry that meets another key fails host-key-mismatch instead of trusting it', async () => {
    const other = generateEd25519KeyPair().public;
    const early = await startVm(loopbackAddress(), 0, other);
    const onAttemptFailed = (_err: SshError, attempt: number): void => {
      // Another host (another key) answers at the same address once the first refused the login.
      if (attempt === 1) void early.close().then(() => startVm(early.address, early.port));
    };
    const err = await failure(connectSshWithRetry(target(early.address, early.port), { ...retry, deadline: Date.now() + 30_000, onAttemptFailed }));
    expect(err.kind).toBe('host-key-mismatch');
    expect(err.message).toContain(early.hostKeyFingerprint);
  });

  it('throws the last error at the deadline when the VM never listens', async () => {
    const address = loopbackAddress();
    let attempts = 0;
    const started = Date.now();
    const err = await failure(connectSshWithRetry(target(address, await freePort(address)), { ...retry, deadline: started + 400, onAttemptFailed: () => attempts++ }));
    expect(err.kind).toBe('unreachable');
    expect(attempts).toBeGreaterThan(1);
    // Retried until the deadline, not given up early (a lower bound holds on a busy machine; an upper one would not).
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  it('does not retry a host key mismatch', async () => {
    const vm = await startVm();
    const onAttemptFailed = vi.fn();
    const wrong = target(vm.address, vm.port, { hostKeyFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    const err = await failure(connectSshWithRetry(wrong, { ...retry, deadline: Date.now() + 60_000, onAttemptFailed }));
    expect(err.kind).toBe('host-key-mismatch');
    expect(onAttemptFailed).not.toHaveBeenCalled();
  });

  it('does not retry a non-loopback host', async () => {
    const onAttemptFailed = vi.fn();
    const err = await failure(connectSshWithRetry(target('192.0.2.1', 22), { ...retry, timeoutMs: 600_000, deadline: Date.now() + 600_000, onAttemptFailed }));
    expect(err.kind).toBe('not-loopback');
    expect(onAttemptFailed).not.toHaveBeenCalled();
  });

  it('does not retry a private key it cannot parse: that is configuration, not the machine', async () => {
    const vm = await startVm();
    const onAttemptFailed = vi.fn();
    const attempt = connectSshWithRetry(target(vm.address, vm.port, { privateKey: 'not a key' }), { ...retry, deadline: Date.now() + 60_000, onAttemptFailed });
    const err = await attempt.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(SshError);
    expect(onAttemptFailed).not.toHaveBeenCalled();
  });

  it('stops retrying when aborted', async () => {
    const address = loopbackAddress();
    const controller = new AbortController();
    const attempt = connectSshWithRetry(target(address, await freePort(address)), {
      ...retry, deadline: Date.now() + 600_000, signal: controller.signal, onAttemptFailed: () => controller.abort(),
    });
    await expect(attempt).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('SshSession.exec', () => {
  it('kills a command at its timeout, reports timedOut, and the remote process is gone', async () => {
    const vm = await startVm();
    const session = await login(vm);
    // Without the timeout the command would end by itself 30 s later, not timed out.
    const result = await session.exec('echo $$ > sleep.pid; exec sleep 30', { timeoutMs: 300 });
    expect(result.timedOut).toBe(true);
    const pid = Number(readFileSync(join(vm.scratchDir, 'sleep.pid'), 'utf8'));
    await waitFor(() => !alive(pid), { what: `remote pid ${pid} gone` });
    expect((await session.exec('echo still here', { timeoutMs: 10_000 })).output).toBe('still here\n');
  });

  it('cuts the connection when the remote never answers a timed-out command', async () => {
    const mute = await muteServer();
    const session = await connectSsh(target(mute.address, mute.port), { timeoutMs: 10_000, loopbackOnly: true });
    cleanups.push(() => session.close());
    const result = await session.exec('anything', { timeoutMs: 200 });
    expect(result).toEqual({ exitCode: null, timedOut: true, output: '' });
    await expect(session.exec('again', { timeoutMs: 10_000 })).rejects.toMatchObject({ kind: 'unreachable' });
  });

  it('keeps only the last maxOutputBytes of output', async () => {
    const vm = await startVm();
    const session = await login(vm);
    const result = await session.exec("head -c 300000 /dev/zero | tr '\\0' a; echo END", { timeoutMs: 10_000, maxOutputBytes: 1_000 });
    expect(result.exitCode).toBe(0);
    expect(result.output).toHaveLength(1_000);
    expect(result.output.endsWith('aaaEND\n')).toBe(true);
  });

  it('rejects with kind unreachable when the VM goes away mid-command', async () => {
    const vm = await startVm();
    const session = await login(vm);
    const running = session.exec('echo started; exec sleep 30', { timeoutMs: 60_000 });
    await vm.close();
    expect((await failure(running)).kind).toBe('unreachable');
  });
});

/**
 * The VM's host key fingerprint as ssh-keyscan + ssh-keygen print it; undefined without OpenSSH.
 * Asynchronous on purpose: the VM runs in this process and must keep answering.
 */
async function openSshFingerprint(vm: SimVm): Promise<string | undefined> {
  const run = promisify(execFile);
  try {
    const scan = await run('ssh-keyscan', ['-t', 'ed25519', '-p', String(vm.port), vm.address], { timeout: 10_000 });
    const dir = mkdtempSync(join(tmpdir(), 'vmpool-keyscan-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'host.pub'), scan.stdout);
    const printed = await run('ssh-keygen', ['-lf', join(dir, 'host.pub')]);
    return /SHA256:[A-Za-z0-9+/]+/.exec(printed.stdout)?.[0];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** An SSH server that lets anyone in and then never answers a request to open a session. */
async function muteServer(): Promise<{ address: string; port: number }> {
  const hostKey = generateEd25519KeyPair().private;
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (conn) => {
    conn.on('error', () => undefined);
    conn.on('authentication', (auth) => auth.accept());
    conn.on('session', () => undefined);
    cleanups.push(() => void conn.end());
  });
  const address = loopbackAddress();
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { address, port: (server.address() as net.AddressInfo).port };
}

async function silentServer(): Promise<{ address: string; port: number }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => sockets.add(socket));
  const address = loopbackAddress();
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    sockets.forEach((socket) => socket.destroy());
    server.close(() => resolve());
  }));
  return { address, port: (server.address() as net.AddressInfo).port };
}
