import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../config.js';
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

/**
 * Starts `dist/workers/<script>` as its own process group (stopped by its
 * id, never by name), as a person runs it: without the NODE_ENV=test of a
 * test runner. Tests and benchmarks run vmpool's roles this way.
 * `nodeArgs` go to node before the script (`--cpu-prof`, which NODE_OPTIONS refuses).
 */
export function runWorker(script: string, args: string[], env: Record<string, string>, nodeArgs: readonly string[] = []): Child {
  // eslint-disable-next-line no-restricted-properties -- a child inherits this process's environment, as from a shell
  const { NODE_ENV: _testEnv, ...inherited } = process.env;
  const child = spawn(process.execPath, [...nodeArgs, join(packageRoot(), 'dist', 'workers', script), ...args], {
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
