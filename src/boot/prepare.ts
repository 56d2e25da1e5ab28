import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { ExecResult, SshSession } from './ssh.js';
import type { MachineLogEntry } from '../machines/machine-log.js';

/** Which failures of a step count against the machine's zone. */
export type ZoneFaultPolicy = 'timeout' | 'always' | 'never';

/** One command of a pool's prepare plan, run on the machine over SSH. */
export interface PrepareStep {
  /** Named in logs and in the failure a machine is marked with. */
  name: string;
  /** Shell command line, run with the login user's shell. */
  run: string;
  /** The step is killed, the connection closed and the machine failed after this long. */
  timeoutMs: number;
  /** `timeout` when absent: a hang points at the machine or its network, an exit code at the step. */
  zoneFault?: ZoneFaultPolicy;
}

/** How a step ended, for the machine's log (which adds the time). */
export type StepRecord = Omit<MachineLogEntry, 'at'>;

export interface PrepareOptions {
  /** Only the tail of each step's output is kept (64 KiB when absent). */
  outputBytes?: number;
  /** Called after each step with its output: the machine's log. */
  record?: (entry: StepRecord) => Promise<void>;
}

export type PrepareOutcome =
  | { ok: true; steps: { name: string; ms: number }[] }
  | {
      ok: false;
      /** The first step that did not succeed; later steps never ran. */
      step: string;
      /** `timeout`: the step hung and was killed; `failed`: it exited non-zero or died of a signal. */
      reason: 'failed' | 'timeout';
      /** Whether the step's policy counts this failure against the zone. */
      zoneFault: boolean;
      exitCode: number | null;
      /** The last bytes of the step's output (stdout and stderr interleaved). */
      output: string;
    };

// A warn line carries only this much of the output; the outcome keeps the exec's (larger) tail.
const LOG_TAIL_CHARS = 2_000;

/**
 * Runs the steps in order and stops at the first one that exits non-zero, dies
 * of a signal or times out. A step that hangs is killed at its timeout and the
 * connection closed: a remote that ignored the kill cannot keep anything
 * running on our session. A connection lost mid-step is not a step failure:
 * the SshError (kind `unreachable`) propagates for the caller to classify.
 */
export async function runPrepare(session: SshSession, steps: readonly PrepareStep[], logger: Logger, options: PrepareOptions = {}): Promise<PrepareOutcome> {
  const log = logger.child({ component: 'prepare' });
  const done: { name: string; ms: number }[] = [];
  for (const step of steps) {
    const started = performance.now();
    const result = await session.exec(step.run, { timeoutMs: step.timeoutMs, ...(options.outputBytes ? { maxOutputBytes: options.outputBytes } : {}) });
    const ms = Math.round(performance.now() - started);
    await options.record?.({ name: step.name, ok: succeeded(result), ms, exitCode: result.exitCode, timedOut: result.timedOut, output: result.output });
    log.debug({ step: step.name, ms, exitCode: result.exitCode, signal: result.signal, timedOut: result.timedOut }, 'prepare step finished');
    if (succeeded(result)) {
      done.push({ name: step.name, ms });
      continue;
    }
    if (result.timedOut) session.close();
    const reason = result.timedOut ? 'timeout' : 'failed';
    const zoneFault = countsAgainstZone(step.zoneFault ?? 'timeout', reason);
    const output = result.output.slice(-LOG_TAIL_CHARS);
    log.warn({ step: step.name, reason, zoneFault, ms, exitCode: result.exitCode, signal: result.signal, output }, 'prepare step failed');
    return { ok: false, step: step.name, reason, zoneFault, exitCode: result.exitCode, output: result.output };
  }
  return { ok: true, steps: done };
}

export function countsAgainstZone(policy: ZoneFaultPolicy, reason: 'failed' | 'timeout'): boolean {
  return policy === 'always' || (policy === 'timeout' && reason === 'timeout');
}

function succeeded(result: ExecResult): boolean {
  return !result.timedOut && result.exitCode === 0;
}
