import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../src/duration.js';

/** What every benchmark's command line takes, besides its own options. */
export interface CommonFlags {
  quick?: boolean;
  out?: string;
  logLevel: string;
  profile?: string;
}

/** A benchmark's command with the options every benchmark takes; add its own to it. */
export function benchCommand(name: string, description: string, quick: string): Command {
  return new Command(name)
    .description(description)
    .option('--quick', `${quick}; also BENCH_QUICK=1`)
    .option('--out <dir>', 'where the results go (default bench/results)')
    .option('--log-level <level>', 'log level of the processes', 'warn')
    .option('--profile <dir>', 'write a CPU profile of every process into <dir>/<role>-<n>/ (read them with: node dist/bench/profile-summary.js <dir>)');
}

export function wantsQuick(flags: CommonFlags): boolean {
  return flags.quick === true || process.env.BENCH_QUICK === '1';
}

/** Runs a benchmark's main; a failure is printed whole and exits 1 (its processes were stopped on the way out). */
export async function runBenchmark(name: string, main: () => Promise<void>): Promise<void> {
  await main().catch((err: unknown) => {
    process.stderr.write(`${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}

// Values the options take, each refused with what was expected.

export function durationFlag(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError(`expected a duration like "20s", got "${value}"`);
  return ms;
}

export function wholeNumberFlag(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number >= 1, got "${value}"`);
  return n;
}

/** Comma-separated names, each one of `known`. */
export function listFlag<T extends string>(known: readonly T[]): (value: string) => T[] {
  return (value) => {
    const names = value.split(',').map((s) => s.trim());
    const bad = names.filter((n) => !known.includes(n as T));
    if (bad.length > 0) throw new InvalidArgumentError(`expected some of ${known.join(', ')}, got ${bad.join(', ')}`);
    return names as T[];
  };
}
