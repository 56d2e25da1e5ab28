/** A few stacked time-series panels as one SVG, by hand: enough for a benchmark's charts, no dependency. */

export interface Series {
  name: string;
  color: string;
  /** [x, y] pairs, x in the chart's unit (seconds). */
  points: readonly (readonly [number, number])[];
  style: 'line' | 'dots';
}

export interface Panel {
  title: string;
  /** A log10 axis (from `logFloor`), for values spanning milliseconds to seconds. */
  log?: { floor: number };
  series: Series[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  xMax: number;
  /** A shaded stretch of x, e.g. the fault. */
  shade?: { from: number; to: number; label: string };
  panels: Panel[];
}

const WIDTH = 900;
const PANEL_HEIGHT = 220;
const MARGIN = { left: 64, right: 150, top: 50, gap: 56, bottom: 40 };

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fixed = (n: number) => Number(n.toFixed(1));

export function svgChart(options: ChartOptions): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const height = MARGIN.top + options.panels.length * (PANEL_HEIGHT + MARGIN.gap) + MARGIN.bottom - MARGIN.gap;
  const x = (value: number) => fixed(MARGIN.left + (Math.min(Math.max(value, 0), options.xMax) / options.xMax) * plotWidth);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="14" font-weight="bold">${escape(options.title)}</text>`,
  ];
  options.panels.forEach((panel, i) => parts.push(panelSvg(panel, MARGIN.top + i * (PANEL_HEIGHT + MARGIN.gap), plotWidth, x, options)));
  parts.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${height - 8}" text-anchor="middle">${escape(options.xLabel)}</text>`, '</svg>');
  return parts.join('\n');
}

function panelSvg(panel: Panel, top: number, plotWidth: number, x: (v: number) => number, options: ChartOptions): string {
  const ys = panel.series.flatMap((s) => s.points.map(([, v]) => v));
  const scale = yScale(panel, ys);
  const y = (value: number) => fixed(top + PANEL_HEIGHT - scale.fraction(value) * PANEL_HEIGHT);
  const out = [`<text x="${MARGIN.left}" y="${top - 8}" font-weight="bold">${escape(panel.title)}</text>`];
  if (options.shade) {
    const { from, to, label } = options.shade;
    out.push(`<rect x="${x(from)}" y="${top}" width="${fixed(x(to) - x(from))}" height="${PANEL_HEIGHT}" fill="#f8d7d7"/>`);
    out.push(`<text x="${x(from) + 4}" y="${top + 12}" fill="#a33">${escape(label)}</text>`);
  }
  for (const tick of scale.ticks) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(tick)}" y2="${y(tick)}" stroke="#ddd"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${y(tick) + 4}" text-anchor="end">${scale.label(tick)}</text>`);
  }
  for (const tick of xTicks(options.xMax)) {
    out.push(`<text x="${x(tick)}" y="${top + PANEL_HEIGHT + 14}" text-anchor="middle">${tick}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${top}" width="${plotWidth}" height="${PANEL_HEIGHT}" fill="none" stroke="#888"/>`);
  panel.series.forEach((series, i) => {
    const points = series.points.map(([px, py]) => `${x(px)},${y(py)}`);
    if (series.style === 'line') out.push(`<polyline fill="none" stroke="${series.color}" stroke-width="1.5" points="${points.join(' ')}"/>`);
    else out.push(...points.map((p) => `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="2" fill="${series.color}" fill-opacity="0.7"/>`));
    const ly = top + 14 + i * 16;
    out.push(`<rect x="${MARGIN.left + plotWidth + 12}" y="${ly - 8}" width="10" height="10" fill="${series.color}"/>`);
    out.push(`<text x="${MARGIN.left + plotWidth + 28}" y="${ly + 1}">${escape(series.name)}</text>`);
  });
  return out.join('\n');
}

interface YScale {
  fraction(value: number): number;
  ticks: number[];
  label(value: number): string;
}

function yScale(panel: Panel, values: readonly number[]): YScale {
  const top = Math.max(1, ...values);
  if (panel.log) {
    const floor = panel.log.floor;
    const lo = Math.log10(floor);
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(top)));
    const ticks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
    const fraction = (v: number) => (Math.log10(Math.max(v, floor)) - lo) / (hi - lo);
    return { fraction, ticks, label: (v) => (v >= 1000 ? `${v / 1000}s` : `${v}ms`) };
  }
  const step = niceStep(top / 5);
  const max = Math.ceil(top / step) * step;
  const ticks = Array.from({ length: Math.round(max / step) + 1 }, (_, i) => i * step);
  return { fraction: (v) => v / max, ticks, label: (v) => String(v) };
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
}

function xTicks(max: number): number[] {
  const step = niceStep(max / 10);
  return Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
}
