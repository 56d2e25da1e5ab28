import { join } from 'node:path';
import { Command } from 'commander';
import type { Status } from '../status.js';
import { summarizePool } from '../status.js';
import type { leaseView } from '../http/v1.js';
import { ApiClient } from './api-client.js';
import { addOperatorCommands, formatZones } from './operator-commands.js';
import { addSimCommands } from './sim-commands.js';
import { addAgentCommands } from './agent-commands.js';
import { summarizeAgent } from '../agent/agent-status.js';
import { parseDuration } from '../duration.js';
import { addLeasesCommand } from './lease-commands.js';
import { formatWaitProgress, startProgress, type ProgressStream } from './wait-progress.js';
import { leaseSshCommand } from './lease-ssh.js';
import { addDoctorCommand } from './doctor-command.js';
import type { Config } from '../config.js';

type Lease = ReturnType<typeof leaseView>;

export interface CliContext {
  /** API base URL and token as found from flags, environment or config. */
  resolveApi(flags: { url?: string; token?: string }): { url: string; token?: string };
  /** The simulated cloud's URL as found from flags, environment or config. */
  simUrl(flags: { simUrl?: string }): string;
  /** The login key's path, when this machine has the config that names it. */
  privateKeyPath?: string;
  /** Where `lease` writes each machine's known_hosts file (`.vmpool/known_hosts` under the working directory by default). */
  knownHostsDir?: string;
  print(line: string): void;
  /** Where a lease wait shows its progress (stderr): only written to when it is a terminal. */
  progress?: ProgressStream;
  /** The provider name of the simulated cloud in config (`sim`): zone ids are spelled `sim/zone-b` everywhere. */
  simProvider?: string;
  /** Who the CLI says asked for a lease, unless `--by` says otherwise. */
  leasedBy?: string;
  /** The local configuration, for commands that talk to the cloud themselves (`doctor`); throws why it is unusable. */
  config?(): Readonly<Config>;
}

/** What every command file gets: an API client for the global flags, and one way to print. */
export interface CommandKit {
  client(): ApiClient;
  /** Prints `value` as JSON with `--json`, else the human text. */
  out(json: boolean | undefined, value: unknown, human: () => string): void;
}

/** The `vmpool` command. Every command takes `--json` to print the API's JSON as is. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('vmpool').description('Pools of pre-booted build VMs').showHelpAfterError();
  program.option('--url <url>', 'API base URL (default: $VMPOOL_URL, else the port in config)').option('--token <token>', 'API token (default: $VMPOOL_TOKEN or $API_TOKEN)');
  const kit: CommandKit = {
    client: () => {
      const api = ctx.resolveApi(program.opts<{ url?: string; token?: string }>());
      return new ApiClient(api.url, api.token);
    },
    out: (json, value, human) => ctx.print(json ? JSON.stringify(value, null, 2) : human()),
  };

  program
    .command('status')
    .description('machines per pool, state and zone; zone breakers')
    .option('--json', 'print the API JSON')
    .action(async (opts: { json?: boolean }) => {
      const status = await kit.client().request<Status>('GET', '/v1/status');
      const states = new Map(status.zones.map((z) => [z.zone, z.state]));
      const pools = status.pools.flatMap((p) => [summarizePool(p, states, { limits: true }), ...(p.agent ? [summarizeAgent(p.agent)] : [])]);
      const halted = status.providers.flatMap((p) => (p.halted ? [`provider ${p.name}: HALTED: ${p.halted.reason} (resume: vmpool provider resume ${p.name})`] : []));
      kit.out(opts.json, status, () => [...halted, ...pools, '', formatZones(status.zones)].join('\n'));
    });

  program
    .command('lease <pool>')
    .description('lease a ready machine (single use: release terminates it)')
    .option('--wait <duration>', 'how long to wait for a ready machine, e.g. 30s', '30s')
    .option('--by <text>', 'who asks, shown by vmpool leases (e.g. a CI job URL; default: your user name)')
    .option('--json', 'print the API JSON')
    .action(async (pool: string, opts: { wait: string; by?: string; json?: boolean }) => {
      const client = kit.client();
      const leasedBy = opts.by ?? ctx.leasedBy;
      const request = client.request<Lease>('POST', `/v1/pools/${encodeURIComponent(pool)}/leases`, { wait: opts.wait, ...(leasedBy ? { leasedBy } : {}) });
      const lease = await withWaitProgress(request, { pool, waitMs: parseDuration(opts.wait) ?? 0, stream: ctx.progress, client });
      kit.out(opts.json, lease, () => describeLease(lease, ctx.knownHostsDir ?? join(process.cwd(), '.vmpool', 'known_hosts'), ctx.privateKeyPath));
    });

  program
    .command('release <id>')
    .description('release a leased machine; it is terminated and the pool refills')
    .option('--json', 'print the API JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const result = await kit.client().request<{ id: string; state: string }>('DELETE', `/v1/leases/${encodeURIComponent(id)}`);
      kit.out(opts.json, result, () => `released ${result.id}: ${result.state}`);
    });

  addLeasesCommand(program, kit);
  addOperatorCommands(program, kit, (line) => ctx.print(line));
  addAgentCommands(program, kit);
  addSimCommands(program, { simUrl: (flags) => ctx.simUrl(flags), print: (line) => ctx.print(line), simProvider: ctx.simProvider });
  addDoctorCommand(program, {
    config: () => {
      if (!ctx.config) throw new Error('doctor needs the configuration (config/ and NODE_CONFIG), and none was loaded');
      return ctx.config();
    },
    print: (line) => ctx.print(line),
  });
  return program;
}

/** Shows the wait on a terminal: elapsed time, and what the pool is doing about it (from status, every few seconds). */
async function withWaitProgress<T>(request: Promise<T>, p: { pool: string; waitMs: number; stream?: ProgressStream; client: ApiClient }): Promise<T> {
  if (!p.stream?.isTTY || p.waitMs === 0) return request;
  const started = Date.now();
  let why: string | undefined;
  let asked = 0;
  const progress = startProgress(p.stream, () => {
    if (asked++ % 3 === 0) {
      void p.client.request<Status>('GET', '/v1/status').then(
        (status) => {
          why = status.pools.find((x) => x.name === p.pool)?.belowTarget?.reason;
        },
        () => undefined,
      );
    }
    return formatWaitProgress({ pool: p.pool, elapsedMs: Date.now() - started, waitMs: p.waitMs, why });
  });
  try {
    return await request;
  } finally {
    progress.stop();
  }
}

function describeLease(lease: Lease, knownHostsDir: string, keyPath: string | undefined): string {
  const ssh = leaseSshCommand(lease, knownHostsDir, keyPath);
  return [
    `leased ${lease.id} from pool ${lease.pool} in ${lease.zone} (${lease.instanceId})`,
    `  ${ssh.command}`,
    `  host key ${lease.hostKeyFingerprint}${ssh.knownHostsFile ? ` (pinned in ${ssh.knownHostsFile})` : ' (not in the answer: check it before you accept it)'}`,
    ...(keyPath ? [`  private key ${keyPath}`] : []),
    `release it with: npx vmpool release ${lease.id}`,
  ].join('\n');
}
