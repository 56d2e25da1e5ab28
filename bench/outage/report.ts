import { table } from '../table.js';
import type { OutageComparison, OutageFigures, PhaseWaits } from './figures.js';
import { FAULTS, type FaultName } from './settings.js';

const waits = (w: PhaseWaits) => `${w.p50} / ${w.p95} / ${w.p99}${w.timeouts ? ` (${w.timeouts} timed out)` : ''}`;
const orDash = (value: number | null, unit = '') => (value === null ? '-' : `${value}${unit}`);

/** One fault's figures side by side, the ratios, and the targets: what `npm run bench:outage` prints. */
export function outageReport(fault: FaultName, figures: readonly OutageFigures[], comparison: OutageComparison): string {
  const runs = figures.filter((f) => f.fault === fault);
  const row = (label: string, cell: (f: OutageFigures) => string) => [label, ...runs.map(cell)];
  const rows = [
    ['', ...runs.map((f) => f.strategy)],
    row('launches into zone b during the fault', (f) => String(f.launchesIntoFailingZone)),
    row('wasted launches', (f) => String(f.wastedLaunches)),
    row('wasted machine-seconds', (f) => String(f.wastedMachineSeconds)),
    row('lease wait p50/p95/p99 ms, before', (f) => waits(f.leaseWaitMs.before)),
    row('  during the fault', (f) => waits(f.leaseWaitMs.during)),
    row('  after the heal', (f) => waits(f.leaseWaitMs.after)),
    row('first failure -> zone avoided', (f) => (f.zoneAvoidedAfterMs === null ? 'never' : `${f.zoneAvoidedAfterMs} ms`)),
    row('failures before it was avoided', (f) => orDash(f.failuresBeforeAvoided)),
    row('launches into b per open period', (f) => (f.launchesPerOpenPeriod ? f.launchesPerOpenPeriod.join(',') : '-')),
    row('heal -> zone b used again', (f) => orDash(f.zoneBackAfterHealMs, ' ms')),
    row('leaked instances', (f) => String(f.leakedInstances)),
  ];
  const lines = [
    `zone b: ${fault} ${JSON.stringify(FAULTS[fault])}`,
    table(rows),
    `redis-breaker / no-breaker: wasted launches ${orDash(comparison.wastedLaunchesRatio)}, p95 lease wait during the fault ${orDash(comparison.p95WaitDuringFaultRatio)}`,
    ...comparison.targets.map((t) => `  [${t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED'}] ${t.target}: ${t.measured}`),
  ];
  for (const f of runs) for (const problem of f.problems) lines.push(`  problem (${f.strategy}): ${problem}`);
  return lines.join('\n');
}
