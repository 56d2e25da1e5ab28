import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { ZoneStatus } from '../status.js';
import type { CommandKit } from './program.js';
import { addChurnCommand } from './lease-commands.js';

/** The operator's hands: `vmpool breaker list|set|audit`, `vmpool recover`, `vmpool pool resume`, `vmpool provider resume`. */
export function addOperatorCommands(program: Command, kit: CommandKit, print: (line: string) => void): void {
  const breaker = program.command('breaker').description('zone circuit breakers, shared by every vmpool process');

  breaker
    .command('list')
    .description('every zone: mode, state, failure rate, outcomes in the window, open until')
    .option('--json', 'print the API JSON')
    .action(async (opts: { json?: boolean }) => {
      const { zones } = await kit.client().request<{ zones: ZoneStatus[] }>('GET', '/v1/zones');
      kit.out(opts.json, { zones }, () => formatZones(zones));
    });

  breaker
    .command('set <zone> <mode>')
    .description('override a zone: open (keep launches away), closed (use it whatever its failures) or auto')
    .requiredOption('--reason <text>', 'why, for the audit log and the next operator')
    .option('--for <duration>', 'lift the override after this long, e.g. 30m')
    .option('--json', 'print the API JSON')
    .action(async (zone: string, mode: string, opts: { reason: string; for?: string; json?: boolean }) => {
      const body = { mode, reason: opts.reason, by: userInfo().username, ...(opts.for ? { for: opts.for } : {}) };
      const result = await kit.client().request<ZoneStatus>('PUT', `/v1/zones/${encodeURIComponent(zone)}/breaker`, body);
      kit.out(opts.json, result, () => formatZones([result]));
    });

  breaker
    .command('audit')
    .description('recent breaker transitions, newest first')
    .option('--count <n>', 'how many', '20')
    .option('--json', 'print the API JSON')
    .action(async (opts: { count: string; json?: boolean }) => {
      type Entry = { zone: string; from: string; to: string; why: string; by: string; at: string; failureRate: number };
      const { transitions } = await kit.client().request<{ transitions: Entry[] }>('GET', `/v1/zones/audit?count=${encodeURIComponent(opts.count)}`);
      kit.out(opts.json, { transitions }, () =>
        transitions.map((t) => `${t.at}  ${t.zone}  ${t.from} -> ${t.to}  (${t.why}; by ${t.by}; failure rate ${Math.round(t.failureRate * 100)}%)`).join('\n') || 'no transitions yet',
      );
    });

  program
    .command('recover')
    .description('rebuild lost machine records from the cloud tags (producers do this by themselves after a Redis loss)')
    .option('--dry-run', 'only show what would be recreated')
    .option('--json', 'print the API JSON')
    .action(async (opts: { dryRun?: boolean; json?: boolean }) => {
      type Plan = { recreate: { machineId: string; pool: string; zone: string; instanceId: string; state: string }[]; known: number; unattributed: string[]; restored?: number };
      const plan = await kit.client().request<Plan>(opts.dryRun ? 'GET' : 'POST', '/v1/recovery', opts.dryRun ? undefined : {});
      kit.out(opts.json, plan, () =>
        [
          ...plan.recreate.map((m) => `${opts.dryRun ? 'would recreate' : 'recreated'} ${m.machineId} (${m.pool}, ${m.zone}, ${m.instanceId}) as ${m.state}`),
          `${plan.known} machine(s) already known; ${plan.unattributed.length} tagged instance(s) not attributable (left to the reaper)`,
        ].join('\n'),
      );
    });

  const pool = program.command('pool').description('pool-level actions');
  addChurnCommand(pool, kit, print);
  pool
    .command('resume <pool>')
    .description('resume launching for a pool halted by a fatal launch error (after fixing its cause)')
    .option('--json', 'print the API JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const result = await kit.client().request<{ pool: string; resumed: boolean }>('DELETE', `/v1/pools/${encodeURIComponent(name)}/halt`);
      kit.out(opts.json, result, () => (result.resumed ? `pool ${name} resumed` : `pool ${name} was not halted`));
    });

  program
    .command('provider')
    .description('provider-level actions')
    .command('resume <provider>')
    .description("resume launching into a provider halted by an authorization refusal (after fixing the permission or credentials)")
    .option('--json', 'print the API JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const result = await kit.client().request<{ provider: string; resumed: boolean }>('DELETE', `/v1/providers/${encodeURIComponent(name)}/halt`);
      kit.out(opts.json, result, () => (result.resumed ? `provider ${name} resumed` : `provider ${name} was not halted`));
    });
}

/** One line per zone, aligned, the way an operator scans it at 3 a.m. */
export function formatZones(zones: readonly ZoneStatus[]): string {
  const rows = zones.map((z) => [
    z.zone,
    z.mode === 'auto' ? z.state : `${z.state} (${z.mode}${z.until ? ` until ${z.until}` : ''}: ${z.reason ?? ''})`,
    describeFailures(z),
    z.openUntil ? `open until ${z.openUntil}` : '',
  ]);
  const header = ['ZONE', 'BREAKER', 'FAILURES', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/**
 * The failures column. A closed zone whose window holds failures and at least
 * one success is taking machines again (often just healed: its probe
 * succeeded): said as recovering, so it does not read as an outage.
 */
export function describeFailures(z: Pick<ZoneStatus, 'state' | 'failures' | 'outcomes' | 'failuresToOpen'>): string {
  if (z.outcomes === 0) return 'no boots yet';
  const recent = `${z.failures} of its last ${z.outcomes} boots failed`;
  if (z.failures === 0 || z.state !== 'closed') return recent;
  const opens = `${z.failuresToOpen} more failure${z.failuresToOpen === 1 ? '' : 's'} in a row open${z.failuresToOpen === 1 ? 's' : ''} it`;
  return `${z.failures < z.outcomes ? 'recovering' : 'failing'}: ${recent}; ${opens}`;
}
