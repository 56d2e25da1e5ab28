// `npm run bench:throughput`: what the control plane costs. Flags: --help.
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../src/duration.js';
import { openBench } from './bench-env.js';
import { load, machineInfo, resultsDir, stamp, writeJson } from './results.js';
import { runSet, type SetResult } from './throughput/run.js';
import { throughputReport, throughputTargets, commandsPerLifecycle, cpuPerLifecycle } from './throughput/report.js';
import { DEFAULT_SETTINGS, QUICK_SETTINGS, type ThroughputSettings } from './throughput/settings.js';

const whole = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number >= 1, got "${value}"`);
  return n;
};
const duration = (value: string): number => {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError(`expected a duration like "20s", got "${value}"`);
  return ms;
};

const program = new Command('bench:throughput')
  .description('machine lifecycles through one, then two, of each role with zero boot delay: rate, Redis commands, CPU, memory, lease latency')
  .option('--quick', 'one of each role, a smaller pool and a shorter window (about a minute); also BENCH_QUICK=1')
  .option('--sets <list>', 'processes of each role per run, comma-separated (default 1,2)', (v) => v.split(',').map(whole))
  .option('--clients <n>', 'concurrent lease clients', whole)
  .option('--warm <n>', 'warm pool size', whole)
  .option('--measure <duration>', 'the measured window', duration)
  .option('--out <dir>', 'where the JSON goes (default bench/results)')
  .option('--log-level <level>', 'log level of the processes', 'warn');

interface Flags {
  quick?: boolean;
  sets?: number[];
  clients?: number;
  warm?: number;
  measure?: number;
  out?: string;
  logLevel: string;
}

function settingsFrom(flags: Flags): ThroughputSettings {
  const base = flags.quick || process.env.BENCH_QUICK === '1' ? QUICK_SETTINGS : DEFAULT_SETTINGS;
  const warm = flags.warm ?? base.warm;
  const measureMs = flags.measure ?? base.measureMs;
  // A short window (a smoke run) shortens every other phase with it.
  const atMost = (ms: number) => Math.min(ms, Math.max(1_000, measureMs / 2));
  return {
    ...base,
    warmupMs: atMost(base.warmupMs),
    idleMs: atMost(base.idleMs),
    monitorMs: atMost(base.monitorMs),
    describeWindowMs: atMost(base.describeWindowMs),
    sets: flags.sets ?? base.sets,
    clients: flags.clients ?? base.clients,
    warm,
    max: Math.max(base.max, warm * 2 + 100),
    latencyLeases: Math.min(base.latencyLeases, Math.floor(warm / 2)),
    booting: [Math.min(base.booting[0], Math.floor(warm / 4)), Math.min(base.booting[1], Math.floor(warm / 2))],
    measureMs,
    logLevel: flags.logLevel,
  };
}

async function main(): Promise<void> {
  const flags = program.parse().opts<Flags>();
  const settings = settingsFrom(flags);
  const began = new Date();
  const machine = machineInfo();
  const bench = await openBench();
  const results: SetResult[] = [];
  try {
    for (const n of settings.sets) {
      process.stdout.write(`${n} producer(s), ${n} booter(s), ${n} web(s) ... `);
      const t0 = Date.now();
      results.push(await runSet(bench, settings, n));
      await bench.redis.flushall();
      process.stdout.write(`${Math.round((Date.now() - t0) / 1000)} s\n`);
    }
  } finally {
    await bench.close();
  }
  const targets = throughputTargets(results, machine.cores);
  const path = join(resultsDir(flags.out), `throughput-${stamp(began)}.json`);
  const summary = results.map((r) => ({ processesPerRole: r.processesPerRole, lifecyclesPerSecond: r.throughput.lifecyclesPerSecond, redisCommandsPerLifecycle: commandsPerLifecycle(r), cpuMsPerLifecycle: cpuPerLifecycle(r) }));
  writeJson(path, { benchmark: 'throughput', date: began.toISOString(), durationSeconds: Math.round((Date.now() - began.getTime()) / 1000), machine: { ...machine, loadAtEnd: load() }, settings, summary, results, targets });
  process.stdout.write(`\n${throughputReport(results, targets)}\n\nwritten: ${path}\n`);
}

await main().catch((err: unknown) => {
  process.stderr.write(`bench:throughput failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
