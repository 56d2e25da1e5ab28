import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { ExecResult, SshSession } from './ssh.js';

/** One command of a pool's prepare plan, run on the machine over SSH. */
export interface PrepareStep {
  /** Named in logs and in the failure a machine is marked with. */
  name: string;
  /** Shell command line, run with the login user's shell. */
  run: string;
  /** The step is killed and the machine failed after this long. */
  timeoutMs: number;
}

export type PrepareOutcome =
  | { ok: true; steps: { name: string; ms: number }[] }
  | {
      ok: false;
      /** The first step that did not succeed; later steps never ran. */
      step: string;
      /** `timeout` is a zone-health signal (a hanging machine); `failed` usually means the step itself. */
      reason: 'failed' | 'timeout';
      exitCode: number | null;
      /** The last bytes of the step's output (stdout and stderr interleaved). */
      output: string;
    };

// A warn line carries only this much of the output; the outcome keeps the exec's (larger) tail.
const LOG_TAIL_CHARS = 2_000;

/**
 * Runs the steps in order and stops at the first one that exits non-zero, dies
 * of a signal or times out. A connection lost mid-step is not a step failure:
 * the SshError (kind `unreachable`) propagates for the caller to classify.
 */
export async function runPrepare(session: SshSession, steps: readonly PrepareStep[], logger: Logger): Promise<PrepareOutcome> {
  const log = logger.child({ component: 'prepare' });
  const done: { name: string; ms: number }[] = [];
  for (const step of steps) {
    const started = performance.now();
    const result = await session.exec(step.run, { timeoutMs: step.timeoutMs });
    const ms = Math.round(performance.now() - started);
    log.debug({ step: step.name, ms, exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut }, 'prepare step finished');
    if (succeeded(result)) {
      done.push({ name: step.name, ms });
      continue;
    }
    const reason = result.timedOut ? 'timeout' : 'failed';
    const output = result.output.slice(-LOG_TAIL_CHARS);
    log.warn({ step: step.name, reason, ms, exitCode: result.exitCode, signal: result.signal, output }, 'prepare step failed');
    return { ok: false, step: step.name, reason, exitCode: result.exitCode, output: result.output };
  }
  return { ok: true, steps: done };
}

function succeeded(result: ExecResult): boolean {
  return !result.timedOut && result.exitCode === 0;
}
