import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/config.js';
import { waitFor } from './wait-for.js';

/** A compiled worker run as a real OS process in its own process group, its output collected. */
export interface Child {
  process: ChildProcess;
  pid: number;
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** Waits for a line matching `pattern` that appears after output offset `from`. */
  waitForLine(pattern: RegExp, options?: { from?: number; timeoutMs?: number }): Promise<RegExpExecArray>;
  /** Kills the whole process group by its id (never by name) if still running. */
  kill(): Promise<void>;
  /** SIGTERM to the process group, as a platform restart does; SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<number | string>;
}

export function runWorker(script: string, args: string[], env: Record<string, string>): Child {
  // As a person runs it: not with the NODE_ENV=test the test runner sets.
  const { NODE_ENV: _testEnv, ...inherited } = process.env;
  const child = spawn(process.execPath, [join(packageRoot(), 'dist', 'workers', script), ...args], {
    env: { ...inherited, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  // 'exit' can fire before the last output is read from the pipes; 'close' waits for them, but a grandchild that
  // inherited a pipe could hold it open, so the drain is bounded.
  const drained = Promise.all([child.stdout, child.stderr].map((stream) => new Promise((resolve) => stream.once('close', resolve))));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      const status = code ?? signal ?? -1;
      const bound = setTimeout(() => resolve(status), 2_000);
      void drained.then(() => {
        clearTimeout(bound);
        resolve(status);
      });
    }),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    process: child,
    pid: child.pid!,
    output: () => text,
    exited,
    waitForLine: (pattern, { from = 0, timeoutMs = 30_000 } = {}) =>
      waitFor(
        () => {
          if (!running() && !pattern.exec(text.slice(from))) throw new Error(`process exited:\n${text.slice(-3000)}`);
          return pattern.exec(text.slice(from)) ?? undefined;
        },
        { timeoutMs, what: `${pattern} in the output of ${script}` },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n--- output since the mark:\n${text.slice(from).slice(-4000)}`);
      }),
    kill: async () => {
      if (!running()) return;
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
    },
    stop: async (graceMs = 10_000) => {
      if (running()) process.kill(-child.pid!, 'SIGTERM');
      const timer = setTimeout(() => running() && process.kill(-child.pid!, 'SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

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
