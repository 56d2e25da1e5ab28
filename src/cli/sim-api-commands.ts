import type { Command } from 'commander';
import type { ActionView, ApiReport } from '../sim/api-gate.js';

interface Kit {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  out(json: boolean, value: unknown, human: () => string): void;
}

/** `vmpool sim api`, `vmpool sim deny` and `vmpool sim outage`: the simulated EC2 API's traffic, throttling, permissions and outages. */
export function addSimApiCommands(sim: Command, kit: Kit): void {
  sim
    .command('api')
    .description("each EC2 action's calls, throttled (RequestLimitExceeded), denied (UnauthorizedOperation) and DryRun answers, and its token buckets")
    .option('--json', 'print the API JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await kit.request<ApiReport>('GET', '/v1/sim/api');
      kit.out(!!opts.json, report, () => apiTable(report));
    });

  sim
    .command('deny [actions...]')
    .description('make the simulated IAM refuse EC2 actions (e.g. RunInstances) with UnauthorizedOperation; --clear allows the named ones again, or all')
    .option('--clear', 'allow the named actions again (every action when none is named)')
    .option('--json', 'print the API JSON')
    .action(async (actions: string[], opts: { clear?: boolean; json?: boolean }) => {
      // No action named: --clear allows every action; without it, just show what is denied.
      let report = await kit.request<ApiReport>(opts.clear && actions.length === 0 ? 'DELETE' : 'GET', opts.clear && actions.length === 0 ? '/v1/sim/api/denied' : '/v1/sim/api');
      for (const action of actions) report = await kit.request<ApiReport>(opts.clear ? 'DELETE' : 'PUT', `/v1/sim/api/denied/${encodeURIComponent(action)}`);
      kit.out(!!opts.json, { denied: report.denied }, () => `denied: ${report.denied.join(', ') || 'none'}`);
    });

  sim
    .command('outage [actions...]')
    .description('make EC2 actions (e.g. DescribeInstances) answer a server error to every request, as an endpoint outage does; --clear ends the named ones, or all')
    .option('--code <code>', 'ServiceUnavailable (503, the default), Unavailable (503), InternalError or InternalFailure (500)')
    .option('--clear', 'end the outage of the named actions (of every action when none is named)')
    .option('--json', 'print the API JSON')
    .action(async (actions: string[], opts: { code?: string; clear?: boolean; json?: boolean }) => {
      const all = opts.clear && actions.length === 0;
      let report = await kit.request<ApiReport>(all ? 'DELETE' : 'GET', all ? '/v1/sim/api/failing' : '/v1/sim/api');
      for (const action of actions) report = await kit.request<ApiReport>(opts.clear ? 'DELETE' : 'PUT', `/v1/sim/api/failing/${encodeURIComponent(action)}`, opts.clear ? undefined : opts.code ? { code: opts.code } : {});
      const failing = Object.entries(report.failing ?? {}).map(([action, f]) => `${action} (${f.status} ${f.code})`);
      kit.out(!!opts.json, { failing: report.failing ?? {} }, () => `failing: ${failing.join(', ') || 'none'}`);
    });
}

const bucket = (view: ActionView, kind: string): string => {
  const b = view.buckets[kind];
  return b === undefined ? '-' : `${Math.floor(b.level)}/${b.size} +${b.refill}/s`;
};

function apiTable(report: ApiReport): string {
  const rows = [
    ['ACTION', 'CALLS', 'THROTTLED', 'DENIED', 'DRY-RUN', 'REQUEST-BUCKET', 'RESOURCE-BUCKET'],
    ...report.actions.map((a) => [a.action, String(a.calls), String(a.throttled), String(a.denied), String(a.dryRuns), bucket(a, a.buckets.unfiltered && !a.buckets.request ? 'unfiltered' : 'request'), bucket(a, 'resource')]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const table = rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
  const failing = Object.entries(report.failing ?? {}).map(([action, f]) => `${action} (${f.status} ${f.code})`);
  const footer = `throttling ${report.throttling ? 'on' : 'off'}; denied: ${report.denied.join(', ') || 'none'}${failing.length > 0 ? `; failing: ${failing.join(', ')}` : ''}`;
  return [...(report.actions.length > 0 ? table : ['no EC2 calls yet']), footer].join('\n');
}
