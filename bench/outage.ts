// `npm run bench:outage`: what the zone breaker buys. Flags: --help.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../src/duration.js';
import { ZONE_STRATEGIES, type ZoneStrategyName } from '../src/zones/zone-strategy.js';
import { openBench } from './bench-env.js';
import { load, machineInfo, resultsDir, stamp, writeJson } from './results.js';
import { outageChart } from './outage/chart.js';
import { compare, outageFigures, type OutageFigures } from './outage/figures.js';
import { outageReport } from './outage/report.js';
import { runOutage } from './outage/run.js';
import { DEFAULT_SETTINGS, FAULTS, QUICK_SETTINGS, type FaultName, type OutageSettings } from './outage/settings.js';

const PRODUCERS = 2;

const list = <T extends string>(known: readonly T[]) => (value: string): T[] => {
  const names = value.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !known.includes(n as T));
  if (bad.length > 0) throw new InvalidArgumentError(`expected some of ${known.join(', ')}, got ${bad.join(', ')}`);
  return names as T[];
};
const duration = (value: string): number => {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError(`expected a duration like "20s", got "${value}"`);
  return ms;
};

const program = new Command('bench:outage')
  .description('zone b fails (every boot, 60% of boots, capacity errors) under load; each zone strategy side by side')
  .option('--quick', 'every strategy, total boot failure only, short phases (about a minute and a half); also BENCH_QUICK=1')
  .addOption(new Option('--strategies <list>', `comma-separated: ${ZONE_STRATEGIES.join(', ')}`).argParser(list(ZONE_STRATEGIES)))
  .addOption(new Option('--faults <list>', `comma-separated: ${Object.keys(FAULTS).join(', ')}`).argParser(list(Object.keys(FAULTS) as FaultName[])))
  .option('--warmup <duration>', 'load on the full pool before the fault', duration)
  .option('--fault-for <duration>', 'how long zone b fails', duration)
  .option('--after <duration>', 'load after the heal', duration)
  .option('--open-for <duration>', 'breaker.openFor (default 8s)', duration)
  .option('--max-open-for <duration>', 'breaker.maxOpenFor (default 2m: 15 x openFor, as shipped)', duration)
  .option('--probes <n>', 'breaker.probes (default 2)', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number >= 1, got "${v}"`);
    return n;
  })
  .option('--out <dir>', 'where the JSON and charts go (default bench/results)')
  .option('--log-level <level>', 'log level of the processes', 'warn');

interface Flags {
  quick?: boolean;
  strategies?: ZoneStrategyName[];
  faults?: FaultName[];
  warmup?: number;
  faultFor?: number;
  after?: number;
  openFor?: number;
  maxOpenFor?: number;
  probes?: number;
  out?: string;
  logLevel: string;
}

function settingsFrom(flags: Flags): OutageSettings {
  const base = flags.quick || process.env.BENCH_QUICK === '1' ? QUICK_SETTINGS : DEFAULT_SETTINGS;
  return {
    ...base,
    strategies: flags.strategies ?? base.strategies,
    faults: flags.faults ?? base.faults,
    warmupMs: flags.warmup ?? base.warmupMs,
    faultMs: flags.faultFor ?? base.faultMs,
    afterMs: flags.after ?? base.afterMs,
    breaker: {
      ...base.breaker,
      openForMs: flags.openFor ?? base.breaker.openForMs,
      maxOpenForMs: flags.maxOpenFor ?? Math.max(base.breaker.maxOpenForMs, flags.openFor ?? 0),
      probes: flags.probes ?? base.breaker.probes,
    },
    logLevel: flags.logLevel,
  };
}

async function main(): Promise<void> {
  const flags = program.parse().opts<Flags>();
  const settings = settingsFrom(flags);
  const began = new Date();
  const machine = machineInfo();
  const dir = resultsDir(flags.out);
  const name = `outage-${stamp(began)}`;
  const bench = await openBench();
  const figures: OutageFigures[] = [];
  const charts: Record<string, string> = {};
  try {
    for (const [i, fault] of settings.faults.entries()) {
      // The strategies run at once, on the same machine under the same load: side by side in time as well.
      process.stdout.write(`${i + 1}/${settings.faults.length}: zone b ${fault}, strategies ${settings.strategies.join(', ')} ... `);
      const t0 = Date.now();
      const runs = await Promise.all(settings.strategies.map((strategy) => runOutage(bench, settings, strategy, fault)));
      for (const run of runs) {
        figures.push(outageFigures(run, PRODUCERS));
        const chart = `${name}-${fault}-${run.strategy}.svg`;
        writeFileSync(join(dir, chart), outageChart(run, ['sim/zone-a', 'sim/zone-b', 'sim/zone-c']));
        charts[`${fault}/${run.strategy}`] = chart;
      }
      await bench.redis.flushall();
      process.stdout.write(`${Math.round((Date.now() - t0) / 1000)} s\n`);
    }
  } finally {
    await bench.close();
  }
  const comparisons = settings.faults.map((fault) => compare(fault, figures, settings));
  const path = join(dir, `${name}.json`);
  writeJson(path, { benchmark: 'outage', date: began.toISOString(), durationSeconds: Math.round((Date.now() - began.getTime()) / 1000), machine: { ...machine, loadAtEnd: load() }, settings, figures, comparisons, charts });
  for (const comparison of comparisons) process.stdout.write(`\n${outageReport(comparison.fault, figures, comparison)}\n`);
  process.stdout.write(`\nwritten: ${path} (charts beside it)\n`);
}

await main().catch((err: unknown) => {
  process.stderr.write(`bench:outage failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
