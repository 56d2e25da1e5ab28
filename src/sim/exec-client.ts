import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { packageRoot } from '../config.js';
import type { ExecEvent, ExecRequest } from './exec-host.js';

/** What a simulated VM needs of a running command: the parts of a ChildProcess it uses. */
export interface VmCommand extends EventEmitter {
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signalCode: string | null;
  readonly stdin: Writable;
  readonly stdout: PassThrough;
  readonly stderr: PassThrough;
  /** Signals the command's whole process group (everything it started). */
  kill(signal: string): void;
}

class RemoteCommand extends EventEmitter implements VmCommand {
  pid: number | undefined;
  exitCode: number | null = null;
  signalCode: string | null = null;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdin: Writable;

  constructor(
    private readonly id: number,
    private readonly send: (request: ExecRequest) => void,
  ) {
    super();
    this.stdin = new Writable({
      write: (chunk: Buffer, _encoding, done) => (send({ t: 'stdin', id, data: chunk }), done()),
      final: (done) => (send({ t: 'stdin-end', id }), done()),
    });
  }

  kill(signal: string): void {
    if (this.exitCode === null && this.signalCode === null) this.send({ t: 'kill', id: this.id, signal });
  }

  event(event: ExecEvent): void {
    if (event.t === 'spawned') this.pid = event.pid;
    else if (event.t === 'out') (event.fd === 1 ? this.stdout : this.stderr).write(Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength));
    else if (event.t === 'error') this.emit('error', new Error(event.message));
    else this.ended(event.code, event.signal);
  }

  ended(code: number | null, signal: string | null): void {
    if (this.exitCode !== null || this.signalCode !== null) return;
    [this.exitCode, this.signalCode] = [code, signal];
    this.emit('exit', code, signal);
    this.stdout.end();
    this.stderr.end();
    this.emit('close', code, signal);
  }
}

/**
 * Runs simulated VMs' commands through one small helper process (see
 * exec-host.ts), started at the first command and restarted if it dies
 * (its commands then end as killed).
 */
export class ExecClient {
  private host: ChildProcess | undefined;
  /** The commands each host runs: a host that dies ends its own, not those of its successor. */
  private readonly commandsOf = new WeakMap<ChildProcess, Map<number, RemoteCommand>>();
  private nextId = 0;

  spawn(args: string[], options: { cwd: string; env: Record<string, string | undefined> }): VmCommand {
    const id = ++this.nextId;
    const host = this.started();
    const command = new RemoteCommand(id, (request) => host.connected && host.send(request));
    const commands = this.commandsOf.get(host)!;
    commands.set(id, command);
    command.once('close', () => commands.delete(id));
    host.send({ t: 'spawn', id, args, cwd: options.cwd, env: options.env } satisfies ExecRequest);
    return command;
  }

  /** The helper process's pid, while one runs. */
  get hostPid(): number | undefined {
    return this.host?.connected ? this.host.pid : undefined;
  }

  /** Stops the helper process: the commands still running are killed with it. */
  async close(): Promise<void> {
    const host = this.host;
    if (!host?.connected) return;
    const gone = new Promise<void>((resolve) => host.once('exit', () => resolve()));
    host.disconnect();
    await gone;
  }

  private started(): ChildProcess {
    if (this.host?.connected) return this.host;
    const host = fork(join(packageRoot(), 'dist', 'workers', 'sim-exec-host.js'), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const commands = new Map<number, RemoteCommand>();
    this.commandsOf.set(host, commands);
    host.on('message', (event: ExecEvent) => commands.get(event.id)?.event(event));
    const gone = () => {
      if (this.host === host) this.host = undefined;
      for (const command of commands.values()) command.ended(null, 'SIGKILL');
    };
    host.on('exit', gone);
    // A host that could not start (out of processes) emits no exit: its commands end here.
    host.on('error', gone);
    // Neither the host nor its channel keeps the cloud's process alive: the host goes when the channel closes.
    host.unref();
    host.channel?.unref();
    this.host = host;
    return host;
  }
}

/** The one exec client of this process. */
export const execClient = new ExecClient();
