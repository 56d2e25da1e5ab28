import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

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

/**
 * Reads /proc/<pid>/stat and /status; undefined once the process is gone (or
 * without procfs). The CPU figure covers the whole process tree: its own
 * time, its children's once reaped (cutime), and the live children's (the
 * sim's exec host runs all the VMs' commands and lives as long as the sim).
 */
export function readProc(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwmKb = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
    return { cpuMs: (treeTicks(pid, processTable()) / clockTicks()) * 1_000, peakRssMb: Math.round(hwmKb / 1024) };
  } catch {
    return undefined;
  }
}

interface ProcEntry {
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
}

function processTable(): Map<number, ProcEntry> {
  const table = new Map<number, ProcEntry>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces), from field 3 (state) on.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(name), { ppid: Number(fields[1]), ticks: [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

function treeTicks(pid: number, table: Map<number, ProcEntry>): number {
  const own = table.get(pid);
  if (!own) throw new Error(`process ${pid} is gone`);
  let ticks = own.ticks;
  for (const [child, entry] of table) if (entry.ppid === pid) ticks += treeTicks(child, table);
  return ticks;
}
