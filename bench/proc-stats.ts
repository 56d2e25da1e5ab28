import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** What /proc says about one process: CPU used so far and its peak resident memory. */
export interface ProcSample {
  /** User plus system CPU time, children it waited for included (the sim's shells). */
  cpuMs: number;
  /** VmHWM: the largest resident set the process ever had. */
  peakRssMb: number;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // Linux's USER_HZ nearly everywhere
    }
  }
  return ticksPerSecond;
}

/** Reads /proc/<pid>/stat and /status; undefined once the process is gone (or without procfs). */
export function readProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces), from field 3 (state) on.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0); // utime stime cutime cstime
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwmKb = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
    return { cpuMs: (ticks / clockTicks()) * 1_000, peakRssMb: Math.round(hwmKb / 1024) };
  } catch {
    return undefined;
  }
}
