import { timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import ssh2, { type AuthContext, type Connection, type ParsedKey, type ServerChannel, type Session } from 'ssh2';
import { fingerprint, generateEd25519KeyPair, type Ed25519KeyPair } from '../boot/host-key.js';
import { withKeyObjects } from '../boot/signing-key.js';
import { coalesceWrites } from '../local/coalesced-writes.js';
import type { Logger } from '../log.js';
import { wireTerminal } from './terminal.js';
import { execClient, type VmCommand } from './exec-client.js';

export interface SimVmOptions {
  /** Loopback address to listen on; each VM gets its own 127.x.y.z, like a private IP. */
  address: string;
  /** 0 picks a free port. */
  port: number;
  /** One OpenSSH public key line (`ssh-ed25519 AAAA... comment`): the only key let in. */
  authorizedKey: string;
  /** The VM's disk: commands run here with HOME pointing here. Not deleted by close(). */
  scratchDir: string;
  logger: Logger;
  /** A wedged sshd: connections are accepted and then never spoken to (no banner, no close). */
  hang?: boolean;
  /** Folders of tools the VM's image comes with, on PATH after `~/bin`. */
  binDirs?: readonly string[];
  /** Its host key (a fresh one when absent): a VM restarted with its own key is the same host. */
  hostKey?: Ed25519KeyPair;
}

/** A simulated VM: a real SSH server whose commands run as local processes. */
export interface SimVm {
  readonly address: string;
  readonly port: number;
  /** `SHA256:...`, exactly as OpenSSH prints it. */
  readonly hostKeyFingerprint: string;
  /** Ends every connection, kills running commands, stops listening. */
  close(): Promise<void>;
}

interface VmState {
  authorized: ParsedKey;
  scratchDir: string;
  binDirs: readonly string[];
  logger: Logger;
  children: Set<VmCommand>;
  connections: Set<Connection>;
}

// A fresh VM's environment, never this process's: ours holds cloud credentials and tokens.
// `~/bin` first, as on a stock Ubuntu login, so fault injection can shadow a command.
function vmEnv(home: string, binDirs: readonly string[]): NodeJS.ProcessEnv {
  const path = [`${home}/bin`, ...binDirs, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'].join(':');
  return { HOME: home, USER: 'vmpool', SHELL: '/bin/sh', LANG: 'C.UTF-8', PATH: path };
}

/** Starts a VM listening on `address:port`; rejects with the listen error (e.g. `EADDRINUSE`). */
export async function startSimVm(options: SimVmOptions): Promise<SimVm> {
  const authorized = parseAuthorizedKey(options.authorizedKey);
  makeScratchDir(options.scratchDir);
  const hostKey = options.hostKey ?? generateEd25519KeyPair();
  const hostKeyFingerprint = fingerprint(hostKey.parsed.getPublicSSH());
  const logger = options.logger.child({ component: 'sim-vm', address: options.address });
  const state: VmState = { authorized, scratchDir: options.scratchDir, binDirs: options.binDirs ?? [], logger, children: new Set(), connections: new Set() };
  // As { key }: ssh2 reads a bare object so; the parsed key is kept as is, signing with its KeyObject.
  const ssh = new ssh2.Server({ hostKeys: [{ key: hostKey.parsed }] }, (conn) => serveConnection(conn, state));
  const sockets = new Set<Socket>();
  // Our own TCP server feeding ssh2, so close() can reach (and destroy) every socket.
  const tcp = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (!options.hang) return ssh.injectSocket(coalesceWrites(socket));
    // Left paused: the client's bytes sit unread, as with an sshd stuck before its banner.
    socket.on('error', (err) => logger.debug({ err }, 'hung ssh connection error'));
  });
  const port = await listen(tcp, options.port, options.address);
  logger.debug({ port, hostKeyFingerprint, hang: options.hang === true }, 'sim vm listening');
  let closing: Promise<void> | undefined;
  return {
    address: options.address,
    port,
    hostKeyFingerprint,
    close: () => (closing ??= closeVm(tcp, sockets, state, options.hang === true)),
  };
}

/** Every VM of a cloud authorizes the same key: parsed once, so its KeyObject is made once too. */
const authorizedKeys = new Map<string, ParsedKey>();

function parseAuthorizedKey(line: string): ParsedKey {
  const known = authorizedKeys.get(line);
  if (known) return known;
  const key = ssh2.utils.parseKey(line);
  if (key instanceof Error) throw new Error(`sim vm: cannot parse the authorized key: ${key.message}`, { cause: key });
  authorizedKeys.set(line, withKeyObjects(key));
  return key;
}

// Plain mkdir first: Node's recursive one costs 0.32 ms against 0.04 ms (measured), and the parent is there but for the first VM.
function makeScratchDir(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') mkdirSync(dir, { recursive: true });
    else if (code !== 'EEXIST') throw err;
  }
}

function listen(server: NetServer, port: number, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      const bound = server.address();
      resolve(typeof bound === 'object' && bound ? bound.port : port);
    });
  });
}

function serveConnection(conn: Connection, state: VmState): void {
  state.connections.add(conn);
  conn.on('close', () => state.connections.delete(conn));
  // A client vanishing mid-handshake is normal for a VM; it must not crash the cloud.
  conn.on('error', (err) => state.logger.debug({ err }, 'ssh connection error'));
  conn.on('authentication', (auth) => authenticate(auth, state.authorized));
  conn.on('ready', () => conn.on('session', (accept) => serveSession(accept(), state)));
}

// Same checks as ssh2's server example: the key offered must be ours, and a signed request must verify.
function authenticate(auth: AuthContext, allowed: ParsedKey): void {
  if (auth.method !== 'publickey') return auth.reject(['publickey']);
  const ours = allowed.getPublicSSH();
  const sameKey = auth.key.algo === allowed.type && auth.key.data.length === ours.length && timingSafeEqual(auth.key.data, ours);
  if (!sameKey) return auth.reject(['publickey']);
  if (auth.signature && auth.blob && allowed.verify(auth.blob, auth.signature, auth.hashAlgo) !== true) return auth.reject(['publickey']);
  auth.accept();
}

function serveSession(session: Session, state: VmState): void {
  let child: VmCommand | undefined;
  let terminal = false;
  session.on('pty', (accept) => ((terminal = true), accept?.()));
  session.on('env', (accept) => accept?.());
  session.on('window-change', (accept) => accept?.());
  session.on('signal', (accept, _reject, info) => {
    accept?.();
    if (child) child.kill(`SIG${info.name}`);
  });
  session.on('exec', (accept, reject, info) => {
    if (child) return reject?.();
    child = runInChannel(accept(), ['-c', info.command], state, terminal);
  });
  session.on('shell', (accept, reject) => {
    if (child) return reject?.();
    child = runInChannel(accept(), ['-i'], state, terminal);
  });
}

function runInChannel(channel: ServerChannel, args: string[], state: VmState, terminal: boolean): VmCommand {
  // Its own process group (one kill reaches everything it started), forked by the exec host: cheap, and never stalling this process.
  const child = execClient.spawn(args, { cwd: state.scratchDir, env: vmEnv(state.scratchDir, state.binDirs) });
  state.children.add(child);
  channel.on('error', (err: Error) => state.logger.debug({ err }, 'ssh channel error'));
  child.stdin.on('error', () => undefined); // a command that exits without reading its input
  // Ctrl-C: an interactive sh ignores SIGINT; its foreground command does not.
  if (terminal) wireTerminal(channel, child, () => child.kill('SIGINT'));
  else wirePipes(channel, child);
  child.on('error', (err: Error) => {
    state.children.delete(child); // a process that never started may never emit 'exit'
    state.logger.warn({ err }, 'sim vm could not start a command');
    channel.exit(127);
    channel.end();
  });
  child.on('close', (code: number | null, signal: string | null) => {
    state.children.delete(child);
    if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
    else channel.exit(code ?? 0);
    channel.end();
  });
  // The client hung up (or timed the command out): nothing the command started may outlive it.
  channel.on('close', () => child.kill('SIGKILL'));
  return child;
}

function wirePipes(channel: ServerChannel, child: VmCommand): void {
  child.stdout?.pipe(channel, { end: false });
  child.stderr?.pipe(channel.stderr, { end: false });
  if (child.stdin) channel.pipe(child.stdin);
}


async function closeVm(tcp: NetServer, sockets: Set<Socket>, state: VmState, hung: boolean): Promise<void> {
  const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
  // A hung sshd has no goodbye to send: cut its connections at once.
  if (hung) sockets.forEach((socket) => socket.destroy());
  // Hang up first, as a machine going away would: clients see a lost connection, not a clean exit.
  for (const conn of state.connections) conn.end();
  const exits = [...state.children].map((child) => exited(child));
  for (const child of state.children) child.kill('SIGKILL');
  await Promise.all(exits);
  // end() lets the disconnect message out; a client that never hangs up is cut off shortly after.
  const cutoff = setTimeout(() => sockets.forEach((socket) => socket.destroy()), 500);
  await closed;
  clearTimeout(cutoff);
}

function exited(child: VmCommand): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}
