import type { Command } from 'commander';
import type { Config } from '../config.js';
import { createLogger } from '../log.js';
import { preflightPools, type PreflightRow } from '../pool/preflight.js';
import { Ec2Provider } from '../providers/ec2.js';

export interface DoctorContext {
  /** The configuration, valid; throws (a ConfigError naming every bad key) otherwise. */
  config(): Readonly<Config>;
  print(line: string): void;
}

/**
 * `vmpool doctor`: each pool checked against its cloud, changing nothing.
 * It talks to the cloud with the config's own providers and credentials,
 * not through the API: a preflight is for before anything runs (a new
 * account, a new image, a new IAM policy), and it checks the permissions
 * vmpool's processes will have, from where they will run.
 */
export function addDoctorCommand(program: Command, ctx: DoctorContext): void {
  program
    .command('doctor')
    .description('check each pool against its cloud, launching nothing: DryRun launches in each zone, the image, instance type offerings, tag and terminate permissions; exit 1 if any check fails')
    .option('--pool <name>', 'check this pool only')
    .option('--json', 'print the checks as JSON')
    .action(async (opts: { pool?: string; json?: boolean }) => {
      const config = ctx.config();
      const pools = config.pools.filter((p) => opts.pool === undefined || p.name === opts.pool);
      if (pools.length === 0) throw new Error(opts.pool === undefined ? 'the configuration has no pools to check' : `no pool named "${opts.pool}"; the configuration has ${config.pools.map((p) => p.name).join(', ') || 'none'}`);
      const rows = await check(config, pools);
      const failed = rows.filter((r) => !r.ok).length;
      ctx.print(opts.json ? JSON.stringify({ ok: failed === 0, checks: rows }, null, 2) : doctorTable(rows));
      if (failed > 0) throw new Error(`${failed} of ${rows.length} checks failed`);
    });
}

async function check(config: Readonly<Config>, pools: Config['pools']): Promise<PreflightRow[]> {
  const logger = createLogger({ level: 'silent', pretty: false });
  const used = new Set(pools.map((p) => p.provider));
  const providers = new Map(config.providers.filter((p) => used.has(p.name)).map((p) => [p.name, new Ec2Provider(p, logger)]));
  try {
    return await preflightPools({ deployment: config.deployment, pools }, providers);
  } finally {
    for (const provider of providers.values()) provider.close();
  }
}

/** One row per check, aligned; a passed check's caveat follows its "ok". */
export function doctorTable(rows: readonly PreflightRow[]): string {
  const cells = [
    ['POOL', 'ZONE', 'CHECK', 'RESULT'],
    ...rows.map((r) => [r.pool, r.zone ?? '-', r.check, r.ok ? `ok${r.detail ? ` (${r.detail})` : ''}` : `FAILED: ${r.detail ?? 'refused'}`]),
  ];
  const widths = cells[0]!.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  const table = cells.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd());
  const failed = rows.filter((r) => !r.ok).length;
  return [...table, failed === 0 ? `all ${rows.length} checks passed` : `${failed} of ${rows.length} checks failed`].join('\n');
}
