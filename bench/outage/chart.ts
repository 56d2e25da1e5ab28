import { svgChart, type Series } from '../svg-chart.js';
import type { OutageRun } from './run.js';

const ZONE_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

/** Ready machines per zone, and every lease's wait, over the run; the fault shaded. */
export function outageChart(run: OutageRun, zones: readonly string[]): string {
  const t = (at: number) => (at - run.times.start) / 1_000;
  const ready: Series[] = zones.map((zone, i) => ({
    name: zone,
    color: ZONE_COLORS[i % ZONE_COLORS.length]!,
    style: 'line',
    points: run.samples.filter((s) => s.at >= run.times.start).map((s) => [t(s.at), s.ready[zone] ?? 0] as const),
  }));
  const leased = run.leases.filter((l) => l.status === 200).map((l) => [t(l.at), l.waitMs] as const);
  const refused = run.leases.filter((l) => l.status !== 200).map((l) => [t(l.at), l.waitMs] as const);
  return svgChart({
    title: `${run.strategy}: zone b ${run.fault}`,
    xLabel: 'seconds since the load started',
    xMax: t(run.times.end),
    shade: { from: t(run.times.fault), to: t(run.times.heal), label: `fault: ${run.fault}` },
    panels: [
      { title: 'ready machines per zone', series: ready },
      {
        title: 'lease wait (by arrival time, log scale)',
        log: { floor: 1 },
        series: [
          { name: 'leased', color: '#1f77b4', style: 'dots', points: leased },
          { name: 'no machine in time', color: '#d62728', style: 'dots', points: refused },
        ],
      },
    ],
  });
}
