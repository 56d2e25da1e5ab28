/**
 * The dashboard at `/`: one self-contained page (no build step, no external
 * asset, works on a loopback-only host) that polls `GET /v1/status` and shows
 * what an operator needs first during an outage: alerts on top, then each
 * zone's breaker, then each pool by state and zone. Built with DOM calls and
 * textContent only, so operator-written reasons can never inject markup.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vmpool</title>
<style>
  :root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px; color: #1f2328; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 24px 0 8px; }
  #updated { color: var(--muted); }
  #offline { display: none; background: var(--bad); color: #fff; padding: 8px 12px; border-radius: 6px; margin: 8px 0; }
  .alert { background: #ffebe9; border: 1px solid var(--bad); padding: 8px 12px; border-radius: 6px; margin: 6px 0; }
  .alert.warn { background: #fff8c5; border-color: var(--warn); }
  #all-clear { color: var(--ok); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); }
  th { color: var(--muted); font-weight: 600; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .pill { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-size: 12px; }
  .pill.closed { background: var(--ok); } .pill.half-open { background: var(--warn); } .pill.open { background: var(--bad); }
  .pool { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
  .pool h3 { margin: 0 0 6px; font-size: 15px; }
  .bar { height: 8px; background: #eaeef2; border-radius: 4px; overflow: hidden; margin: 4px 0 8px; }
  .bar > span { display: block; height: 100%; background: var(--ok); }
  .muted { color: var(--muted); }
</style>
</head>
<body>
<h1>vmpool</h1>
<div id="updated">loading…</div>
<div id="offline" role="alert"></div>
<section id="alerts" aria-label="alerts"></section>
<h2>Zones</h2>
<table id="zones"><thead><tr><th>zone</th><th>breaker</th><th>mode</th><th class="num">failures</th><th>open until</th></tr></thead><tbody></tbody></table>
<h2>Pools</h2>
<section id="pools"></section>
<script>
const STATES = ['requested', 'launching', 'booting', 'preparing', 'ready', 'leased', 'failed', 'terminating'];

function el(tag, props, children) {
  const node = document.createElement(tag);
  // dataset and style are read-only objects: their entries are set one by one.
  const { dataset, style, ...rest } = props || {};
  Object.assign(node, rest);
  Object.assign(node.dataset, dataset || {});
  if (style) node.style.cssText = style;
  for (const child of children || []) node.append(child);
  return node;
}

function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : '';
}

function alertsOf(status) {
  const out = [];
  for (const pool of status.pools) {
    if (pool.halted) out.push(['bad', 'pool ' + pool.name + ' halted: ' + pool.halted.reason + ' (resume: vmpool pool resume ' + pool.name + ')']);
    if (pool.alert) out.push(['bad', 'pool ' + pool.name + ': ' + pool.alert.reason]);
    if (pool.overdueLeases.length) out.push(['warn', 'pool ' + pool.name + ': ' + pool.overdueLeases.length + ' lease(s) past maxLeaseDuration']);
    if (pool.agent && pool.agent.canaryHalted) out.push(['bad', 'pool ' + pool.name + ': canary ' + pool.agent.canaryHalted.version + ' halted: ' + pool.agent.canaryHalted.reason]);
  }
  for (const zone of status.zones) {
    if (zone.state !== 'closed') out.push(['warn', 'zone ' + zone.zone + ' is ' + zone.state + (zone.openUntil ? ' until ' + time(zone.openUntil) : '') + (zone.reason ? ': ' + zone.reason : '')]);
  }
  return out;
}

function renderAlerts(status) {
  const alerts = alertsOf(status);
  const items = alerts.map(([level, text]) => el('div', { className: 'alert' + (level === 'warn' ? ' warn' : ''), textContent: text }));
  document.getElementById('alerts').replaceChildren(...(items.length ? items : [el('div', { id: 'all-clear', textContent: 'No alerts: every zone closed, every pool launching.' })]));
}

function renderZones(status) {
  const rows = status.zones.map((z) => el('tr', { dataset: { zone: z.zone } }, [
    el('td', { textContent: z.zone }),
    el('td', {}, [el('span', { className: 'pill ' + z.state, textContent: z.state })]),
    el('td', { textContent: z.mode === 'auto' ? 'auto' : z.mode + (z.by ? ' by ' + z.by : '') + (z.until ? ' until ' + time(z.until) : '') + (z.reason ? ': ' + z.reason : '') }),
    el('td', { className: 'num', textContent: Math.round(z.failureRate * 100) + '% of ' + z.outcomes }),
    el('td', { textContent: time(z.openUntil) }),
  ]));
  document.querySelector('#zones tbody').replaceChildren(...rows);
}

function renderPool(pool) {
  const ready = pool.machines.ready;
  const share = pool.target > 0 ? Math.min(100, Math.round((ready / pool.target) * 100)) : 100;
  const zoneRows = Object.entries(pool.zones).map(([zone, counts]) =>
    el('tr', {}, [el('td', { textContent: zone }), ...STATES.map((s) => el('td', { className: 'num', textContent: String(counts[s] || 0) }))]));
  const totals = el('tr', {}, [el('th', { textContent: 'all zones' }), ...STATES.map((s) => el('th', { className: 'num', textContent: String(pool.machines[s] || 0) }))]);
  const versions = pool.agent ? Object.entries(pool.agent.machines).map(([v, c]) => v + ': ' + c.ready + ' ready, ' + c.leased + ' leased').join('; ') : '';
  const agent = pool.agent
    ? el('div', { className: 'muted', textContent: 'agent ' + pool.agent.image + ' ' + pool.agent.version + (pool.agent.canary ? ', canary ' + pool.agent.canary.version : '') +
        (versions ? ' (' + versions + ')' : '') + (pool.agent.superseded ? ', ' + pool.agent.superseded + ' still to replace' : '') })
    : '';
  return el('div', { className: 'pool', dataset: { pool: pool.name } }, [
    el('h3', { textContent: 'pool ' + pool.name + ': ' + ready + '/' + pool.target + ' ready' + (pool.waiting ? ', ' + pool.waiting + ' waiting' : '') + ', ' + pool.machines.leased + ' leased' }),
    el('div', { className: 'bar', title: share + '% of target' }, [el('span', { style: 'width: ' + share + '%' })]),
    el('table', {}, [el('thead', {}, [el('tr', {}, [el('th', { textContent: 'zone' }), ...STATES.map((s) => el('th', { className: 'num', textContent: s }))])]), el('tbody', {}, [...zoneRows, totals])]),
    el('div', { className: 'muted', textContent: 'min ' + pool.min + ', scheduled ' + pool.scheduled + ', max ' + pool.max }),
    agent,
  ]);
}

async function refresh() {
  const offline = document.getElementById('offline');
  let status;
  try {
    const res = await fetch('/v1/status', { cache: 'no-store' });
    if (!res.ok) throw new Error('status answered ' + res.status);
    status = await res.json();
  } catch (err) {
    offline.textContent = 'Cannot reach vmpool (' + err.message + '); showing the last figures received.';
    offline.style.display = 'block';
    return;
  }
  try {
    renderAlerts(status);
    renderZones(status);
    document.getElementById('pools').replaceChildren(...status.pools.map(renderPool));
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    offline.style.display = 'none';
  } catch (err) {
    offline.textContent = 'The dashboard could not show this status (' + err.message + '); vmpool status on the command line has it.';
    offline.style.display = 'block';
  }
}

refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
