/**
 * The dashboard's page script: polls the API and renders with DOM calls and
 * textContent only, so operator-written reasons can never inject markup.
 * Kept apart from the page's markup so each stays readable.
 */
export const DASHBOARD_SCRIPT_JS = String.raw`
const STATES = ['requested', 'launching', 'booting', 'preparing', 'ready', 'leased', 'failed', 'terminating'];
const HISTORY_EVERY = 8; // refreshes (of 2 s) between reads of the history, which changes every 30 s
let refreshes = 0;
let history = [];
let audit = [];
let lastGood;

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

const pad = (n) => String(n).padStart(2, '0');

/** ISO 8601 UTC to the second, then the reader's local time of day (24 h) beside it. */
function timeText(iso) {
  const d = new Date(iso);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z') + ' (' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + ' local)';
}

function time(iso) {
  return iso ? el('time', { className: 'time', dateTime: iso, textContent: timeText(iso) }) : '';
}

function percent(rate) {
  return Math.round(rate * 100) + '%';
}

/** Why a zone is open or half-open, in words: the operator's override, else the audit's latest move into that state. */
function zoneReason(zone) {
  if (zone.mode !== 'auto') return zone.mode.replace('-', ' ') + ' by ' + (zone.by || 'an operator') + (zone.reason ? ': ' + zone.reason : '');
  const move = audit.find((t) => t.zone === zone.zone && t.to === zone.state);
  if (!move) return 'reason not in the audit';
  const numbers = /failure rate/.test(move.why) ? ' (' + percent(move.failureRate) + ' of ' + move.outcomes + ' recent outcomes)' : '';
  return move.why + numbers;
}

function alertsOf(status) {
  const out = [];
  for (const zone of status.zones) {
    if (zone.state === 'open') {
      out.push(['bad', 'zone', zone.zone, ['zone ' + zone.zone + ' open: ' + zoneReason(zone) + (zone.openUntil || zone.until ? '; until ' : ''), time(zone.openUntil || zone.until)]]);
    } else if (zone.state === 'half-open') {
      out.push(['warn', 'zone', zone.zone, ['zone ' + zone.zone + ' half-open, probing: ' + zoneReason(zone)]]);
    } else if (zone.mode === 'forced-closed') {
      out.push(['warn', 'zone', zone.zone, ['zone ' + zone.zone + ' ' + zoneReason(zone)]]);
    }
  }
  for (const provider of status.providers || []) {
    if (provider.halted) out.push(['bad', 'provider', provider.name, ['provider ' + provider.name + ' halted: ' + provider.halted.reason + ' (resume: vmpool provider resume ' + provider.name + ')']]);
  }
  for (const pool of status.pools) {
    if (pool.halted) out.push(['bad', 'pool', pool.name, ['pool ' + pool.name + ' halted: ' + pool.halted.reason + ' (resume: vmpool pool resume ' + pool.name + ')']]);
    if (pool.alert) out.push(['bad', 'pool', pool.name, ['pool ' + pool.name + ': ' + pool.alert.reason]]);
    if (pool.agent && pool.agent.canaryHalted) out.push(['bad', 'pool', pool.name, ['pool ' + pool.name + ': canary ' + pool.agent.canaryHalted.version + ' halted: ' + pool.agent.canaryHalted.reason]]);
    if (pool.overdueLeases.length) out.push(['warn', 'pool', pool.name, ['pool ' + pool.name + ': ' + pool.overdueLeases.length + ' lease(s) past maxLeaseDuration']]);
  }
  return out;
}

function renderAlerts(status) {
  const items = alertsOf(status).map(([level, kind, subject, parts]) =>
    el('div', { className: 'alert ' + level, dataset: { alert: kind, subject } }, parts));
  const section = document.getElementById('alerts');
  section.replaceChildren(...(items.length ? items : [el('div', { id: 'all-clear', textContent: 'No alerts: every zone closed, every pool launching.' })]));
  section.hidden = false;
}

function renderZones(status) {
  const rows = status.zones.map((z) => el('tr', { dataset: { zone: z.zone } }, [
    el('td', { textContent: z.zone }),
    el('td', {}, [el('span', { className: 'pill ' + z.state, textContent: z.state })]),
    el('td', {}, [z.mode === 'auto' ? 'auto' : z.mode + (z.by ? ' by ' + z.by : '') + (z.reason ? ': ' + z.reason : '') + (z.until ? ', until ' : ''), time(z.until)]),
    el('td', { className: 'num', textContent: percent(z.failureRate) + ' of ' + z.outcomes }),
    el('td', {}, [time(z.openUntil)]),
  ]));
  document.querySelector('#zones tbody').replaceChildren(...rows);
}

function renderTransitions() {
  const rows = audit.slice(0, 10).map((t) => el('tr', { dataset: { zone: t.zone } }, [
    el('td', {}, [time(t.at)]),
    el('td', { textContent: t.zone }),
    el('td', {}, [el('span', { className: 'pill ' + t.from, textContent: t.from }), ' \u2192 ', el('span', { className: 'pill ' + t.to, textContent: t.to })]),
    el('td', { textContent: t.why + (/failure rate/.test(t.why) ? ' (' + percent(t.failureRate) + ' of ' + t.outcomes + ')' : '') }),
    el('td', { textContent: t.by }),
  ]));
  const body = document.querySelector('#transitions tbody');
  body.replaceChildren(...(rows.length ? rows : [el('tr', {}, [el('td', { colSpan: 5, className: 'muted', textContent: 'no breaker transitions yet' })])]));
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
    renderChart(pool.name, history),
    el('table', {}, [el('thead', {}, [el('tr', {}, [el('th', { textContent: 'zone' }), ...STATES.map((s) => el('th', { className: 'num', textContent: s }))])]), el('tbody', {}, [...zoneRows, totals])]),
    el('div', { className: 'muted', textContent: 'min ' + pool.min + ', scheduled ' + pool.scheduled + ', max ' + pool.max }),
    agent,
  ]);
}

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(path + ' answered ' + res.status);
  return res.json();
}

/** Cut off: the banner replaces the alerts (their state is unknown now); the figures below stay, dimmed, as of the last answer. */
function showOffline(message) {
  const offline = document.getElementById('offline');
  offline.replaceChildren(message + (lastGood ? '; alerts unknown; the figures below are from ' : '; alerts unknown.'), lastGood ? time(lastGood) : '');
  offline.hidden = false;
  document.getElementById('alerts').hidden = true;
  document.body.classList.add('stale');
}

async function refresh() {
  let status;
  try {
    const wantHistory = refreshes++ % HISTORY_EVERY === 0;
    const [s, a, h] = await Promise.all([
      getJson('/v1/status'),
      getJson('/v1/zones/audit?count=50').catch(() => undefined),
      wantHistory ? getJson('/v1/status/history?since=1h').catch(() => undefined) : undefined,
    ]);
    status = s;
    if (a) audit = a.transitions;
    if (h) history = h.samples;
  } catch (err) {
    showOffline('Cannot reach vmpool (' + err.message + ')');
    return;
  }
  try {
    renderAlerts(status);
    renderZones(status);
    renderTransitions();
    document.getElementById('pools').replaceChildren(...status.pools.map(renderPool));
    lastGood = new Date().toISOString();
    document.getElementById('updated').replaceChildren('updated ', time(lastGood));
    document.getElementById('offline').hidden = true;
    document.body.classList.remove('stale');
  } catch (err) {
    showOffline('The dashboard could not show this status (' + err.message + '); vmpool status on the command line has it');
  }
}

refresh();
setInterval(refresh, 2000);
`;
