import { DASHBOARD_CHART_JS } from './dashboard-chart.js';
import { DASHBOARD_SCRIPT_JS } from './dashboard-script.js';

/**
 * The dashboard at `/`: one self-contained page (no build step, no external
 * asset, works on a loopback-only host) that polls `GET /v1/status`, the
 * breaker audit and the status history, and shows what an operator needs
 * first during an outage, and why: alerts on top (open zones in red with the
 * audit's reason), the last hour per pool, each zone's breaker, the last ten
 * breaker transitions, each pool by state and zone. Times are ISO 8601 UTC
 * with the reader's local time beside them.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vmpool</title>
<style>
  :root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; --wait: #8250df; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px; color: #1f2328; }
  body.stale #zones, body.stale #transitions, body.stale #pools { opacity: 0.5; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 24px 0 8px; }
  #updated { color: var(--muted); }
  #offline { background: var(--bad); color: #fff; padding: 8px 12px; border-radius: 6px; margin: 8px 0; font-weight: 600; }
  #offline time { color: #fff; }
  [hidden] { display: none !important; }
  .alert { border: 1px solid; border-left-width: 6px; padding: 8px 12px; border-radius: 6px; margin: 6px 0; }
  .alert.bad { background: #ffebe9; border-color: var(--bad); color: var(--bad); font-weight: 600; }
  .alert.warn { background: #fff8c5; border-color: var(--warn); color: #4d2d00; }
  #all-clear { color: var(--ok); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); }
  th { color: var(--muted); font-weight: 600; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  time { font-variant-numeric: tabular-nums; white-space: nowrap; display: inline-block; }
  #zones td:first-child, #transitions td:nth-child(2) { white-space: nowrap; }
  .pill { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-size: 12px; }
  .pill.closed { background: var(--ok); } .pill.half-open { background: var(--warn); } .pill.open { background: var(--bad); }
  .pool { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
  .pool h3 { margin: 0 0 6px; font-size: 15px; }
  .bar { height: 8px; background: #eaeef2; border-radius: 4px; overflow: hidden; margin: 4px 0 8px; }
  .bar > span { display: block; height: 100%; background: var(--ok); }
  .chart { margin: 4px 0 8px; }
  .chart .legend { display: flex; gap: 16px; font-size: 12px; }
  .chart .key::before { content: ''; display: inline-block; width: 12px; height: 3px; margin: 0 4px 3px 0; vertical-align: middle; }
  .chart .key.ready::before { background: var(--ok); } .chart .key.wait::before { background: var(--wait); }
  .chart .axis { stroke: var(--line); }
  .chart .line { fill: none; stroke-width: 2; } .chart .line.ready { stroke: var(--ok); } .chart .line.wait { stroke: var(--wait); }
  .chart .tick { font-size: 10px; fill: var(--muted); } .chart .tick.ready { fill: var(--ok); } .chart .tick.wait { fill: var(--wait); }
  .muted { color: var(--muted); }
</style>
</head>
<body>
<h1>vmpool</h1>
<div id="updated">loading…</div>
<div id="offline" role="alert" hidden></div>
<section id="alerts" aria-label="alerts"></section>
<h2>Zones</h2>
<table id="zones"><thead><tr><th>zone</th><th>breaker</th><th>mode</th><th class="num">failures</th><th>open until</th></tr></thead><tbody></tbody></table>
<h2>Last breaker transitions</h2>
<table id="transitions"><thead><tr><th>at</th><th>zone</th><th>change</th><th>why</th><th>by</th></tr></thead><tbody></tbody></table>
<h2>Pools</h2>
<section id="pools"></section>
<script>
${DASHBOARD_CHART_JS}
${DASHBOARD_SCRIPT_JS}
</script>
</body>
</html>
`;
