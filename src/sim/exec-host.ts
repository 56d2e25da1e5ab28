import { spawn, type ChildProcess } from 'node:child_process';

/** What a simulated VM asks of the exec host, over the IPC channel. */
export type ExecRequest =
  | { t: 'spawn'; id: number; args: string[]; cwd: string; env: Record<string, string | undefined> }
  | { t: 'stdin'; id: number; data: Uint8Array }
  | { t: 'stdin-end'; id: number }
  /** Signals the command's whole process group. */
  | { t: 'kill'; id: number; signal: string };

/** What the exec host reports about each command. */
export type ExecEvent =
  | { t: 'spawned'; id: number; pid: number }
  | { t: 'error'; id: number; message: string }
  | { t: 'out'; id: number; fd: 1 | 2; data: Uint8Array }
  | { t: 'close'; id: number; code: number | null; signal: string | null };

/**
 * The exec host's side: runs `/bin/sh` for each request, each in its own
 * process group (so one kill reaches everything a command started; the
 * simulated VM signals the group by the pid reported here), and relays its
 * output and exit. It exists because forking costs in proportion to the
 * forking process's memory: 5.6 ms from a 200 MB simulated cloud, 1.2 ms from
 * this small process (measured), and the cloud's API stalls for every fork.
 * When the cloud goes away (the IPC channel closes), so do its commands.
 */
export function serveExecRequests(): void {
  const children = new Map<number, ChildProcess>();
  const send = (event: ExecEvent) => process.send?.(event);
  process.on('message', (request: ExecRequest) => {
    if (request.t === 'spawn') {
      const child = spawn('/bin/sh', request.args, { cwd: request.cwd, env: request.env, detached: true, stdio: 'pipe' });
      children.set(request.id, child);
      child.stdin.on('error', () => undefined); // a command that exits without reading its input
      child.on('spawn', () => send({ t: 'spawned', id: request.id, pid: child.pid! }));
      child.on('error', (err) => {
        children.delete(request.id);
        send({ t: 'error', id: request.id, message: err.message });
      });
      child.stdout.on('data', (data: Buffer) => send({ t: 'out', id: request.id, fd: 1, data }));
      child.stderr.on('data', (data: Buffer) => send({ t: 'out', id: request.id, fd: 2, data }));
      child.on('close', (code, signal) => {
        children.delete(request.id);
        send({ t: 'close', id: request.id, code, signal });
      });
    } else if (request.t === 'stdin') children.get(request.id)?.stdin?.write(request.data);
    else if (request.t === 'stdin-end') children.get(request.id)?.stdin?.end();
    else killGroup(children.get(request.id), request.signal);
  });
  const stop = () => {
    for (const child of children.values()) killGroup(child, 'SIGKILL');
    process.exit(0);
  };
  process.on('disconnect', stop);
  // The cloud's process group stopped (a platform restart): exit normally, so `--cpu-prof` writes its profile.
  process.on('SIGTERM', stop);
}

function killGroup(child: ChildProcess | undefined, signal: string): void {
  if (child?.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already gone, which is the goal.
  }
}
