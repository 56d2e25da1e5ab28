/**
 * The dashboard's chart, as page script: each pool's ready machines and its
 * lease wait p95 over the last hour of status samples, drawn as inline SVG
 * with DOM calls (no library, nothing loaded). The time axis ends at the
 * newest sample, so the same samples always draw the same picture.
 */
export const DASHBOARD_CHART_JS = String.raw`
const SVG_NS = 'http://www.w3.org/2000/svg';
const CHART = { width: 520, height: 110, left: 34, right: 52, top: 8, bottom: 18 };

function svg(tag, attrs, children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  for (const child of children || []) node.append(child);
  return node;
}

function seriesPath(points, x, y) {
  const parts = [];
  let pen = 'M';
  for (const p of points) {
    if (p.value === null || p.value === undefined) { pen = 'M'; continue; }
    parts.push(pen + x(p.at).toFixed(1) + ' ' + y(p.value).toFixed(1));
    pen = 'L';
  }
  return parts.join(' ');
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const step = Math.pow(10, Math.floor(Math.log10(value)));
  for (const m of [1, 2, 5, 10]) if (value <= m * step) return m * step;
  return 10 * step;
}

function seconds(value) {
  return value >= 1 ? value.toFixed(1) + ' s' : Math.round(value * 1000) + ' ms';
}

function renderChart(pool, samples) {
  const box = el('div', { className: 'chart', dataset: { chart: pool } });
  if (!samples.length) {
    box.append(el('div', { className: 'muted', textContent: 'last hour: no samples yet (one every 30 s)' }));
    return box;
  }
  const end = Date.parse(samples[samples.length - 1].at);
  const start = end - 3600 * 1000;
  const ready = samples.map((s) => ({ at: Date.parse(s.at), value: s.readyByPool[pool] }));
  const wait = samples.map((s) => ({ at: Date.parse(s.at), value: s.leaseWaitP95ByPool[pool] }));
  const readyMax = niceMax(Math.max(1, ...ready.map((p) => p.value || 0)));
  const waitMax = niceMax(Math.max(0.01, ...wait.map((p) => p.value || 0)));
  const { width, height, left, right, top, bottom } = CHART;
  const x = (at) => left + ((at - start) / (end - start)) * (width - left - right);
  const yReady = (v) => top + (1 - v / readyMax) * (height - top - bottom);
  const yWait = (v) => top + (1 - v / waitMax) * (height - top - bottom);
  const base = height - bottom;
  const label = (tx, ty, text, anchor, cls) => svg('text', { x: tx, y: ty, 'text-anchor': anchor, class: cls }, [document.createTextNode(text)]);
  const latestReady = ready[ready.length - 1].value;
  const latestWait = wait[wait.length - 1].value;
  box.append(
    el('div', { className: 'legend' }, [
      el('span', { className: 'key ready', textContent: 'ready ' + (latestReady === undefined ? '?' : latestReady) }),
      el('span', { className: 'key wait', textContent: 'lease wait p95 ' + (latestWait === null || latestWait === undefined ? 'none' : seconds(latestWait)) }),
      el('span', { className: 'muted', textContent: 'last hour, to the latest sample' }),
    ]),
    svg('svg', { width, height, viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': 'pool ' + pool + ': ready machines and lease wait p95, last hour' }, [
      svg('line', { x1: left, y1: base, x2: width - right, y2: base, class: 'axis' }),
      svg('line', { x1: left, y1: top, x2: left, y2: base, class: 'axis' }),
      svg('line', { x1: width - right, y1: top, x2: width - right, y2: base, class: 'axis' }),
      label(left - 4, top + 8, String(readyMax), 'end', 'tick ready'),
      label(left - 4, base, '0', 'end', 'tick ready'),
      label(width - right + 4, top + 8, seconds(waitMax), 'start', 'tick wait'),
      label(width - right + 4, base, '0', 'start', 'tick wait'),
      label(left, height - 4, '-60 min', 'start', 'tick'),
      label(width - right, height - 4, 'latest', 'end', 'tick'),
      svg('path', { d: seriesPath(ready, x, yReady), class: 'line ready' }),
      svg('path', { d: seriesPath(wait, x, yWait), class: 'line wait' }),
    ]),
  );
  return box;
}
`;
