import { userInfo } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { formatDuration } from '../duration.js';
import type { LeaseEntry } from '../pool/lease-list.js';
import type { CommandKit } from './program.js';

/** `vmpool leases [pool]`: every lease, oldest first, so leases left by drills or crashed jobs can be found and released. */
export function addLeasesCommand(program: Command, kit: CommandKit): void {
  program
    .command('leases [pool]')
    .description('every leased machine, oldest first: id, pool, zone, address, age, who asked')
    .option('--json', 'print the API JSON')
    .action(async (pool: string | undefined, opts: { json?: boolean }) => {
      const query = pool ? `?pool=${encodeURIComponent(pool)}` : '';
      const answer = await kit.client().request<{ leases: LeaseEntry[] }>('GET', `/v1/leases${query}`);
      kit.out(opts.json, answer, () => formatLeases(answer.leases));
    });
}

/** One aligned row per lease, or a sentence when there is none. */
export function formatLeases(leases: readonly LeaseEntry[]): string {
  if (leases.length === 0) return 'no leases';
  const rows = leases.map((l) => [l.id, l.pool, l.zone, l.address ? `${l.address}:${l.port ?? ''}` : '-', l.ageSeconds === undefined ? '-' : formatDuration(l.ageSeconds * 1_000), l.leasedBy ?? '-']);
  const header = ['ID', 'POOL', 'ZONE', 'ADDRESS', 'AGE', 'LEASED BY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

interface LeaseAnswer {
  id: string;
  zone: string;
}

/**
 * `vmpool pool churn <pool> --count N`: leases a machine and releases it, N
 * times, each lease waiting for a ready machine. Leases take the oldest ready
 * machine, so a few rounds reach every zone and make each launch a
 * replacement: what a breaker drill needs to see a broken zone fail.
 */
export function addChurnCommand(pool: Command, kit: CommandKit, print: (line: string) => void): void {
  pool
    .command('churn <pool>')
    .description('lease and release machines, --count times (each lease waits up to --wait): makes the pool launch replacements in every zone')
    .option('--count <n>', 'how many leases', wholeNumber, 10)
    .option('--wait <duration>', 'how long each lease may wait for a ready machine', '60s')
    .option('--json', 'print one JSON object per round')
    .action(async (name: string, opts: { count: number; wait: string; json?: boolean }) => {
      const client = kit.client();
      const zones = new Map<string, number>();
      for (let round = 1; round <= opts.count; round++) {
        const lease = await client.request<LeaseAnswer>('POST', `/v1/pools/${encodeURIComponent(name)}/leases`, { wait: opts.wait, leasedBy: `vmpool pool churn (${userInfo().username})` });
        await client.request('DELETE', `/v1/leases/${encodeURIComponent(lease.id)}`);
        zones.set(lease.zone, (zones.get(lease.zone) ?? 0) + 1);
        print(opts.json ? JSON.stringify({ round, id: lease.id, zone: lease.zone, released: true }) : `${round}/${opts.count}: leased ${lease.id} in ${lease.zone}, released it`);
      }
      if (!opts.json) print(`churned ${opts.count} lease(s) of pool ${name}: ${[...zones].map(([zone, n]) => `${zone} ${n}`).join(', ')}; the pool launches their replacements`);
    });
}

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 1_000) throw new InvalidArgumentError(`expected a whole number from 1 to 1000, got "${value}"`);
  return n;
}
