// `npm run bench:outage`: what the zone breaker buys. Flags: --help.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option } from 'commander';
import { ZONE_STRATEGIES, type ZoneStrategyName } from '../src/zones/zone-strategy.js';
import { runSteps, type BenchEnv } from './bench-env.js';
import { benchCommand, durationFlag as duration, listFlag as list, runBenchmark, wantsQuick, wholeNumberFlag, type CommonFlags } from './cli.js';
import { load, machineInfo, resultsDir, stamp, writeJson } from './results.js';
import { outageChart } from './outage/chart.js';
import { compare, outageFigures, type OutageFigures } from './outage/figures.js';
import { outageReport } from './outage/report.js';
import { runOutage } from './outage/run.js';
import { DEFAULT_SETTINGS, FAULTS, QUICK_SETTINGS, type FaultName, type OutageSettings } from './outage/settings.js';

const PRODUCERS = 2;

const program = benchCommand(
  'bench:outage',
  'zone b fails (every boot, 60% of boots, capacity errors) under load; each zone strategy side by side',
  'every strategy, total boot failure only, short phases (about a minute and a half)',
)
  .addOption(new Option('--strategies <list>', `comma-separated: ${ZONE_STRATEGIES.join(', ')}`).argParser(list(ZONE_STRATEGIES)))
  .addOption(new Option('--faults <list>', `comma-separated: ${Object.keys(FAULTS).join(', ')}`).argParser(list(Object.keys(FAULTS) as FaultName[])))
  .option('--warmup <duration>', 'load on the full pool before the fault', duration)
  .option('--fault-for <duration>', 'how long zone b fails', duration)
  .option('--after <duration>', 'load after the heal', duration)
  .option('--open-for <duration>', 'breaker.openFor (default 8s)', duration)
  .option('--max-open-for <duration>', 'breaker.maxOpenFor (default: openFor, no growth, as shipped)', duration)
  .option('--probes <n>', 'breaker.probes (default 1, as shipped)', wholeNumberFlag);

interface Flags extends CommonFlags {
  strategies?: ZoneStrategyName[];
  faults?: FaultName[];
  warmup?: number;
  faultFor?: number;
  after?: number;
  openFor?: number;
  maxOpenFor?: number;
  probes?: number;
}

function settingsFrom(flags: Flags): OutageSettings {
  const base = wantsQuick(flags) ? QUICK_SETTINGS : DEFAULT_SETTINGS;
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
      // As shipped, the open period does not grow: maxOpenFor follows openFor unless given.
      maxOpenForMs: flags.maxOpenFor ?? flags.openFor ?? base.breaker.maxOpenForMs,
      probes: flags.probes ?? base.breaker.probes,
    },
    logLevel: flags.logLevel,
    profileDir: flags.profile,
  };
}

async function main(): Promise<void> {
  const flags = program.parse().opts<Flags>();
  const settings = settingsFrom(flags);
  const began = new Date();
  const machine = machineInfo();
  const dir = resultsDir(flags.out);
  const name = `outage-${stamp(began)}`;
  // The strategies of a fault run at once, on the same machine under the same load: side by side in time as well.
  const batches = await runSteps(
    settings.faults.map((fault, i) => ({
      label: `${i + 1}/${settings.faults.length}: zone b ${fault}, strategies ${settings.strategies.join(', ')}`,
      run: (bench: BenchEnv) => Promise.all(settings.strategies.map((strategy) => runOutage(bench, settings, strategy, fault))),
    })),
  );
  const figures: OutageFigures[] = [];
  const charts: Record<string, string> = {};
  for (const run of batches.flat()) {
    figures.push(outageFigures(run, PRODUCERS, settings.breaker));
    const chart = `${name}-${run.fault}-${run.strategy}.svg`;
    writeFileSync(join(dir, chart), outageChart(run, ['sim/zone-a', 'sim/zone-b', 'sim/zone-c']));
    charts[`${run.fault}/${run.strategy}`] = chart;
  }
  const comparisons = settings.faults.map((fault) => compare(fault, figures, settings));
  const path = join(dir, `${name}.json`);
  writeJson(path, { benchmark: 'outage', date: began.toISOString(), durationSeconds: Math.round((Date.now() - began.getTime()) / 1000), machine: { ...machine, loadAtEnd: load() }, settings, figures, comparisons, charts });
  for (const comparison of comparisons) process.stdout.write(`\n${outageReport(comparison.fault, figures, comparison)}\n`);
  process.stdout.write(`\nwritten: ${path} (charts beside it)\n`);
}

await runBenchmark('bench:outage', main);
