// `npm run bench:throughput`: what the control plane costs. Flags: --help.
import { join } from 'node:path';
import { runSteps, type BenchEnv } from './bench-env.js';
import { benchCommand, durationFlag as duration, runBenchmark, wantsQuick, wholeNumberFlag as whole, type CommonFlags } from './cli.js';
import { load, machineInfo, resultsDir, stamp, writeJson } from './results.js';
import { runSet } from './throughput/run.js';
import { throughputReport, throughputTargets, commandsPerLifecycle, cpuPerLifecycle } from './throughput/report.js';
import { DEFAULT_SETTINGS, QUICK_SETTINGS, type ThroughputSettings } from './throughput/settings.js';

const program = benchCommand(
  'bench:throughput',
  'machine lifecycles through one, then two, of each role with zero boot delay: rate, Redis commands, CPU, memory, lease latency',
  'one of each role, a smaller pool and a shorter window (about a minute)',
)
  .option('--sets <list>', 'processes of each role per run, comma-separated (default 1,2)', (v) => v.split(',').map(whole))
  .option('--clients <n>', 'concurrent lease clients', whole)
  .option('--warm <n>', 'warm pool size', whole)
  .option('--measure <duration>', 'the measured window', duration);

interface Flags extends CommonFlags {
  sets?: number[];
  clients?: number;
  warm?: number;
  measure?: number;
}

function settingsFrom(flags: Flags): ThroughputSettings {
  const base = wantsQuick(flags) ? QUICK_SETTINGS : DEFAULT_SETTINGS;
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
    profileDir: flags.profile,
  };
}

async function main(): Promise<void> {
  const flags = program.parse().opts<Flags>();
  const settings = settingsFrom(flags);
  const began = new Date();
  const machine = machineInfo();
  const results = await runSteps(settings.sets.map((n) => ({ label: `${n} producer(s), ${n} booter(s), ${n} web(s)`, run: (bench: BenchEnv) => runSet(bench, settings, n) })));
  const targets = throughputTargets(results, machine.cores);
  const path = join(resultsDir(flags.out), `throughput-${stamp(began)}.json`);
  const summary = results.map((r) => ({ processesPerRole: r.processesPerRole, lifecyclesPerSecond: r.throughput.lifecyclesPerSecond, redisCommandsPerLifecycle: commandsPerLifecycle(r), cpuMsPerLifecycle: cpuPerLifecycle(r) }));
  writeJson(path, { benchmark: 'throughput', date: began.toISOString(), durationSeconds: Math.round((Date.now() - began.getTime()) / 1000), machine: { ...machine, loadAtEnd: load() }, settings, summary, results, targets });
  process.stdout.write(`\n${throughputReport(results, targets)}\n\nwritten: ${path}\n`);
}

await runBenchmark('bench:throughput', main);
