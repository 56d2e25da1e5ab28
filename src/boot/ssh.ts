import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2 from 'ssh2';
import { fingerprint, publicKeyLine } from './host-key.js';
import { withKeyObjects } from './signing-key.js';
import { sshExec, type ExecOptions, type ExecResult } from './ssh-exec.js';
import { isLoopback } from '../local/loopback.js';
import { coalesceWrites } from '../local/coalesced-writes.js';

export { isLoopback } from '../local/loopback.js';

export type { ExecOptions, ExecResult } from './ssh-exec.js';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  privateKey: string | Buffer;
  /** Expected `SHA256:...` fingerprint; undefined = trust on first use. */
  hostKeyFingerprint?: string;
}

/** One authenticated connection to a machine. */
export interface SshSession {
  /** The fingerprint the machine presented (worth recording when trusting on first use). */
  readonly hostKeyFingerprint: string;
  /** The host's public key as known_hosts holds it (`ssh-ed25519 AAAA...`). */
  readonly hostKey: string;
  /** Resolves on exit or timeout (never hangs); rejects with SshError `unreachable` if the connection is lost mid-command. */
  exec(command: string, options: ExecOptions): Promise<ExecResult>;
  close(): void;
}

export type SshErrorKind = 'unreachable' | 'timeout' | 'host-key-mismatch' | 'auth' | 'not-loopback';

/** Why a connection failed, in the terms the booter and the zone breaker reason in. */
export class SshError extends Error {
  override readonly name = 'SshError';
  /** The fingerprint the host presented before the attempt failed, if it got that far: a retry must see it again. */
  readonly seenHostKey?: string;
  constructor(
    readonly kind: SshErrorKind,
    message: string,
    options?: { cause?: unknown; seenHostKey?: string },
  ) {
    super(message, options);
    if (options?.seenHostKey) this.seenHostKey = options.seenHostKey;
  }
}

export interface ConnectOptions {
  timeoutMs: number;
  /** Refuse anything but 127.0.0.0/8 and ::1, before a socket exists. */
  loopbackOnly: boolean;
  signal?: AbortSignal;
}

/** One connection attempt: TCP, handshake, host key check and login within `timeoutMs`. */
export function connectSsh(target: SshTarget, options: ConnectOptions): Promise<SshSession> {
  if (options.loopbackOnly && !isLoopback(target.host)) {
    return Promise.reject(new SshError('not-loopback', `refusing to dial ${target.host}: loopbackOnly allows only 127.0.0.0/8 and ::1`));
  }
  options.signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    const where = `${target.host}:${target.port}`;
    let seen: string | undefined;
    let seenKey = '';
    let settled = false;
    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (err === undefined) return resolve(createSession(client, where, seen ?? '', seenKey));
      client.destroy();
      reject(err);
    };
    const onAbort = (): void => settle(asError(options.signal?.reason));
    const timer = setTimeout(() => settle(new SshError('timeout', `ssh ${where}: no login within ${options.timeoutMs}ms`)), options.timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    client.once('ready', () => settle());
    // Stays attached after login: ssh2 emits socket errors here, and exec learns of them via 'close'.
    client.on('error', (err) => settle(toSshError(err, where, target.hostKeyFingerprint, seen)));
    client.once('close', () => settle(toSshError(new Error('connection closed before login'), where, target.hostKeyFingerprint, seen)));
    try {
      client.connect(
        connectConfig(target, options.timeoutMs, (key) => {
          seenKey = publicKeyLine(key);
          return (seen = fingerprint(key));
        }),
      );
    } catch (err) {
      settle(asError(err)); // a private key ssh2 cannot parse: configuration, not the machine
    }
  });
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error('aborted', { cause: value });
}

/** Login keys parsed once per key buffer: a booter logs in thousands of times, and parsing costs more than the login's signature. */
const parsedKeys = new WeakMap<Buffer, ssh2.ParsedKey>();

function loginKey(privateKey: string | Buffer): ssh2.ParsedKey {
  const cached = Buffer.isBuffer(privateKey) ? parsedKeys.get(privateKey) : undefined;
  if (cached) return cached;
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`cannot parse the login key: ${parsed.message}`);
  const key = withKeyObjects(parsed);
  if (Buffer.isBuffer(privateKey)) parsedKeys.set(privateKey, key);
  return key;
}

function connectConfig(target: SshTarget, timeoutMs: number, onHostKey: (key: Buffer) => string): ssh2.ConnectConfig {
  const key = loginKey(target.privateKey);
  let tried = false;
  return {
    host: target.host,
    port: target.port,
    // Our own socket, connecting, so the packets ssh2 writes in one turn go out in one send (see coalesced-writes.ts).
    sock: coalesceWrites(connect({ host: target.host, port: target.port })),
    username: target.username,
    // The parsed key through authHandler (given as privateKey, ssh2 would parse it again on every connection); one attempt.
    authHandler: (_methods, _partial, next) => {
      // false ends the login as failed: ssh2 accepts it, its types do not say so.
      next(tried ? (false as unknown as ssh2.AuthenticationType) : { type: 'publickey', username: target.username, key });
      tried = true;
    },
    readyTimeout: timeoutMs + 1_000, // our timer decides; this is a backstop
    keepaliveInterval: 10_000,
    // Without hostHash, ssh2 hands over the raw key blob: the form OpenSSH fingerprints.
    hostVerifier: (key: Buffer) => {
      const seen = onHostKey(key);
      return target.hostKeyFingerprint === undefined || seen === target.hostKeyFingerprint;
    },
  };
}

function toSshError(err: Error & { level?: string; code?: string }, where: string, expected: string | undefined, seen: string | undefined): SshError {
  const options = { cause: err, seenHostKey: seen };
  if (expected !== undefined && seen !== undefined && seen !== expected) {
    return new SshError('host-key-mismatch', `ssh ${where}: host key ${seen} is not the expected ${expected}`, options);
  }
  if (err.level === 'client-authentication') return new SshError('auth', `ssh ${where}: key not accepted`, options);
  if (err.level === 'client-timeout' || err.code === 'ETIMEDOUT') return new SshError('timeout', `ssh ${where}: ${err.message}`, options);
  return new SshError('unreachable', `ssh ${where}: ${err.message}`, options);
}

function createSession(client: ssh2.Client, where: string, hostKeyFingerprint: string, hostKey: string): SshSession {
  const lost = (message: string, options?: { cause?: unknown }): SshError => new SshError('unreachable', `ssh ${where}: ${message}`, options);
  return {
    hostKeyFingerprint,
    hostKey,
    exec: (command, options) => sshExec(client, command, options, lost),
    close: () => void client.end(),
  };
}

export interface RetryOptions extends ConnectOptions {
  retryEveryMs: number;
  /** Epoch ms after which no new attempt starts. */
  deadline: number;
  now?: () => number;
  /** Called after each failed attempt that will be retried (logging, metrics, tests). */
  onAttemptFailed?: (err: SshError, attempt: number) => void;
}

const RETRIED: ReadonlySet<SshErrorKind> = new Set(['unreachable', 'timeout', 'auth']);

/**
 * Connects, retrying what a booting machine does (refuses, stalls, or rejects
 * the key it has not installed yet) until `deadline`; then throws the last
 * error. A wrong host key or a non-loopback host fails at once. The first host
 * key seen is pinned for the later attempts: a retry never trusts anew.
 */
export async function connectSshWithRetry(target: SshTarget, options: RetryOptions): Promise<SshSession> {
  const now = options.now ?? Date.now;
  let previous: SshError | undefined;
  let pinned = target;
  for (let attempt = 1; ; attempt++) {
    const timeoutMs = Math.max(1, Math.min(options.timeoutMs, options.deadline - now()));
    try {
      return await connectSsh(pinned, { ...options, timeoutMs });
    } catch (err) {
      if (!(err instanceof SshError) || !RETRIED.has(err.kind)) throw err;
      if (pinned.hostKeyFingerprint === undefined && err.seenHostKey) pinned = { ...pinned, hostKeyFingerprint: err.seenHostKey };
      const pause = Math.min(options.retryEveryMs, options.deadline - now());
      // An attempt the deadline cut short says less than the one before it ("refused" beats "timed out after 3ms").
      if (pause <= 0) throw err.kind === 'timeout' && timeoutMs < options.timeoutMs && previous ? previous : err;
      previous = err;
      options.onAttemptFailed?.(err, attempt);
      await sleep(pause, undefined, { signal: options.signal });
    }
  }
}
