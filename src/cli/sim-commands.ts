import { Option, type Command } from 'commander';
import { formatDuration } from '../duration.js';
import { duration, probability } from './arg-parsers.js';
import type { ZoneFaults } from '../sim/sim-faults.js';
import { ApiError } from './api-client.js';
import { addSimApiCommands } from './sim-api-commands.js';
import { addSimRegistryCommands } from './sim-registry-commands.js';

export interface SimCommandsContext {
  /** The simulated cloud's base URL, from `--sim-url`, else the environment or config. */
  simUrl(flags: { simUrl?: string }): string;
  print(line: string): void;
  /** The provider name vmpool gives the simulated cloud: zones are shown as vmpool spells them, `sim/zone-b`. */
  simProvider?: string;
}

/** One zone as the sim's fault API answers it. */
interface ZoneView {
  zone: string;
  faults: ZoneFaults;
}

type Probability = 'capacityError' | 'launchError' | 'bootFail' | 'sshHang';
type FaultFlags = Partial<Record<Probability, number>> & { slowBoot?: number; clear?: boolean; json?: boolean };

// Flag, field, column heading, help: one row per probability the sim knows.
const PROBABILITIES: ReadonlyArray<readonly [string, Probability, string, string]> = [
  ['--capacity-error [p]', 'capacityError', 'CAPACITY-ERROR', 'RunInstances fails with InsufficientInstanceCapacity'],
  ['--launch-error [p]', 'launchError', 'LAUNCH-ERROR', 'RunInstances fails with InternalError (HTTP 500)'],
  ['--boot-fail [p]', 'bootFail', 'BOOT-FAIL', 'instances die while booting (terminated, Server.InternalError)'],
  ['--ssh-hang [p]', 'sshHang', 'SSH-HANG', 'instances run but their sshd accepts and never answers'],
];

/** Adds `vmpool sim fault <zone>` and `vmpool sim faults`: break and heal simulated zones while everything runs. */
export function addSimCommands(program: Command, ctx: SimCommandsContext): Command {
  const sim = program
    .command('sim')
    .description('the simulated cloud: make its zones misbehave on demand')
    .option('--sim-url <url>', 'the simulated cloud (default: $VMPOOL_SIM_URL, else sim.host and sim.port in config)');
  const request = <T>(method: string, path: string, body?: unknown): Promise<T> => simRequest<T>(ctx.simUrl(sim.opts<{ simUrl?: string }>()), method, path, body);
  const zoneId = (zone: string) => (zone.includes('/') ? zone : `${ctx.simProvider ?? 'sim'}/${zone}`);
  const out = (json: boolean, value: unknown, human: () => string) => ctx.print(json ? JSON.stringify(value, null, 2) : human());

  const fault = sim
    .command('fault <zone>')
    .description('set faults of a zone (sim/zone-b), added to the ones it has unless --clear; a flag without a value means 1.0');
  for (const [flags, , , help] of PROBABILITIES) fault.addOption(new Option(flags, `${help}: probability 0..1`).preset('1').argParser(probability));
  fault
    .option('--slow-boot <duration>', 'add this much to every boot, e.g. 20s (0s removes it)', duration)
    .option('--clear', 'heal the zone first; alone, just heal it')
    .option('--json', 'print the API JSON')
    .action(async (zone: string, opts: FaultFlags) => {
      const path = `/v1/sim/zones/${encodeURIComponent(zone)}/faults`;
      const wanted = requested(opts);
      let result: ZoneView;
      if (Object.keys(wanted).length === 0) result = await request<ZoneView>(opts.clear ? 'DELETE' : 'GET', path);
      else {
        const base = opts.clear ? {} : (await request<ZoneView>('GET', path)).faults;
        result = await request<ZoneView>('PUT', path, { ...base, ...wanted });
      }
      out(!!opts.json, result, () => `${zoneId(result.zone)}: ${describeFaults(result.faults)}`);
    });

  sim
    .command('faults')
    .description('every zone of the simulated cloud and its faults')
    .option('--json', 'print the API JSON')
    .action(async (opts: { json?: boolean }) => {
      const listing = await request<{ zones: ZoneView[] }>('GET', '/v1/sim/zones');
      out(!!opts.json, listing, () => faultTable(listing.zones.map((z) => ({ ...z, zone: zoneId(z.zone) }))));
    });
  addSimRegistryCommands(sim, { request, out });
  addSimApiCommands(sim, { request, out });
  return sim;
}

function requested(opts: FaultFlags): ZoneFaults {
  const wanted: ZoneFaults = {};
  for (const [, field] of PROBABILITIES) if (opts[field] !== undefined) wanted[field] = opts[field];
  if (opts.slowBoot !== undefined) wanted.slowBootMs = opts.slowBoot;
  return wanted;
}

const percent = (p: number | undefined): string => (p === undefined ? '-' : `${Number((p * 100).toFixed(1))}%`);
const slowBoot = (ms: number | undefined): string => (ms === undefined ? '-' : formatDuration(ms));

function describeFaults(faults: ZoneFaults): string {
  const parts = PROBABILITIES.filter(([, field]) => faults[field] !== undefined).map(([, field, heading]) => `${heading.toLowerCase()} ${percent(faults[field])}`);
  if (faults.slowBootMs !== undefined) parts.push(`slow-boot ${slowBoot(faults.slowBootMs)}`);
  return parts.length === 0 ? 'healthy' : parts.join(', ');
}

function faultTable(zones: readonly ZoneView[]): string {
  const rows = [
    ['ZONE', ...PROBABILITIES.map(([, , heading]) => heading), 'SLOW-BOOT'],
    ...zones.map(({ zone, faults }) => [zone, ...PROBABILITIES.map(([, field]) => percent(faults[field])), slowBoot(faults.slowBootMs)]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

async function simRequest<T>(baseUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  let url: URL;
  try {
    url = new URL(path, baseUrl);
  } catch {
    throw new Error(`the simulated cloud's URL is not a URL: "${baseUrl}"; set --sim-url or VMPOOL_SIM_URL`);
  }
  const init: RequestInit = body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const response = await fetch(url, init).catch((err: unknown) => {
    throw new Error(`cannot reach the simulated cloud at ${baseUrl}; is npm start (or npm run sim) running? Set --sim-url or VMPOOL_SIM_URL otherwise.`, { cause: err });
  });
  // Something else on that port (not the sim) answers without our JSON: report its status.
  const parsed: unknown = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, parsed as { error?: string; message?: string });
  return parsed as T;
}
