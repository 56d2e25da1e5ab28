import { userInfo } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { formatReport, type VerifyReport } from '../agent/verify.js';
import { ApiError } from './api-client.js';
import type { CommandKit } from './program.js';

interface RolloutAnswer {
  pools: { pool: string; version: string; canary?: { version: string; share: number } }[];
  reports: VerifyReport[];
}

/** `vmpool agent verify|set|resume`: the build agent rollout, for every process at once. */
export function addAgentCommands(program: Command, kit: CommandKit): void {
  const agent = program.command('agent').description('the build agent: verify a version in every registry, roll it out or back, resume a halted canary');

  agent
    .command('verify <version>')
    .description('ask every configured registry whether the agent image has this tag, and its digest; exit 1 if one lacks it or digests differ')
    .option('--pool <pool>', 'only the registries and image of this pool')
    .option('--json', 'print the API JSON')
    .action(async (version: string, opts: { pool?: string; json?: boolean }) => {
      const query = new URLSearchParams({ version, ...(opts.pool ? { pool: opts.pool } : {}) });
      const report = await kit.client().request<VerifyReport>('GET', `/v1/agent/verify?${query.toString()}`);
      kit.out(opts.json, report, () => formatReport(report));
      if (!report.ok) throw new Error(`agent ${version} is not ready to roll out: ${report.problems.join('; ')}`);
    });

  agent
    .command('set <version>')
    .description('roll the agent out (or back) to this stable version: new machines get it and ready machines on other versions are replaced progressively')
    .option('--canary <version>', 'also give this version to a share of machines')
    .option('--share <ratio>', 'the canary share, e.g. 0.1', ratio)
    .option('--pool <pool>', 'only this pool (default: every pool with an agent)')
    .option('--force', 'roll out even if verify rejects the version')
    .option('--json', 'print the API JSON')
    .action(async (version: string, opts: { canary?: string; share?: number; pool?: string; force?: boolean; json?: boolean }) => {
      if ((opts.canary === undefined) !== (opts.share === undefined)) throw new InvalidArgumentError('--canary and --share go together');
      const body = {
        version,
        canary: opts.canary ? { version: opts.canary, share: opts.share } : null,
        ...(opts.pool ? { pool: opts.pool } : {}),
        force: opts.force === true,
        by: userInfo().username,
      };
      let answer: RolloutAnswer;
      try {
        answer = await kit.client().request<RolloutAnswer>('PUT', '/v1/agent/rollout', body);
      } catch (err) {
        // Show what verify found before the refusal itself.
        const reports = err instanceof ApiError && err.status === 409 ? (err.body as { reports?: VerifyReport[] }).reports : undefined;
        if (reports && !opts.json) kit.out(false, reports, () => reports.map(formatReport).join('\n\n'));
        throw err;
      }
      kit.out(opts.json, answer, () =>
        answer.pools.map((p) => `pool ${p.pool}: agent ${p.version}${p.canary ? `, canary ${p.canary.version} at ${Math.round(p.canary.share * 100)}%` : ''}; ready machines on other versions are replaced progressively (vmpool status shows the progress)`).join('\n'),
      );
    });

  agent
    .command('resume')
    .description('resume a canary the guard halted (after fixing its cause)')
    .option('--pool <pool>', 'only this pool')
    .option('--json', 'print the API JSON')
    .action(async (opts: { pool?: string; json?: boolean }) => {
      const query = opts.pool ? `?pool=${encodeURIComponent(opts.pool)}` : '';
      const result = await kit.client().request<{ resumed: string[] }>('DELETE', `/v1/agent/canary-halt${query}`);
      kit.out(opts.json, result, () => (result.resumed.length ? `canary resumed in ${result.resumed.join(', ')}` : 'no canary was halted'));
    });
}

function ratio(value: string): number {
  const share = Number(value);
  if (value.trim() === '' || !(share > 0 && share <= 1)) throw new InvalidArgumentError(`expected a share above 0 and at most 1, got "${value}"`);
  return share;
}
