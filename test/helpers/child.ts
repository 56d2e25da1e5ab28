import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { runWorker } from '../../src/local/worker-process.js';

export { runWorker, type Child } from '../../src/local/worker-process.js';

/** Runs a compiled worker to completion (the CLI), returning its exit code and output. */
export async function runToEnd(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | string; output: string }> {
  const child = runWorker(script, args, env);
  const code = await child.exited;
  return { code, output: child.output() };
}

/** True when nothing accepts TCP connections at host:port any more. */
export function refusesConnections(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** Signal 0 reaches a zombie too; an orphan waits for PID 1 to reap it, which some containers do slowly. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no procfs: signal 0 is all we have
  }
}
