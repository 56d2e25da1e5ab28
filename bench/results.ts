import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/config.js';

/** The machine a figure was measured on, and how busy it was: figures mean little without it. */
export interface MachineInfo {
  cores: number;
  cpu: string;
  memoryGb: number;
  node: string;
  redis: string;
  /** 1, 5 and 15 minute load averages when the benchmark started and ended. */
  loadAtStart: number[];
  loadAtEnd?: number[];
}

export function machineInfo(): MachineInfo {
  let redis = 'unknown';
  try {
    redis = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? redis;
  } catch {
    // reported as unknown
  }
  return { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, redis, loadAtStart: load() };
}

export function load(): number[] {
  return loadavg().map((n) => Number(n.toFixed(2)));
}

/** Where a benchmark writes: `bench/results/` (git-ignored) unless `--out` says otherwise. */
export function resultsDir(out?: string): string {
  const dir = out ?? join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** `2025-05-01-143005`: a file name that sorts by time and never overwrites an earlier run of the day. */
export function stamp(at: Date): string {
  return at.toISOString().slice(0, 19).replace('T', '-').replace(/:/g, '');
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}
