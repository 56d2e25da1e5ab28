import type { Command } from 'commander';
import { formatDuration } from '../duration.js';
import type { RegistryView } from '../sim/sim-registry.js';
import { duration, probability } from './arg-parsers.js';

interface Kit {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  out(json: boolean, value: unknown, human: () => string): void;
}

interface RegistryFlags {
  delete?: string[];
  push?: string[];
  fail?: number;
  slow?: number;
  clear?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `vmpool sim registry <name>` and `vmpool sim registries`: the simulated container registries' content and faults. */
export function addSimRegistryCommands(sim: Command, kit: Kit): void {
  sim
    .command('registry <name>')
    .description('change a simulated registry: delete or push image tags, make it fail or slow; --clear heals it (faults gone, images as at start)')
    .option('--delete <image:tag>', 'remove a tag (repeatable)', collect)
    .option('--push <image:tag>', 'add a tag (repeatable)', collect)
    .option('--fail [p]', 'answer this share of manifest requests with 503 (no value: 1.0; 0 removes it)', probability)
    .option('--slow <duration>', 'hold every manifest answer this long, e.g. 10s (0s removes it)', duration)
    .option('--clear', 'heal it first; alone, just heal it')
    .option('--json', 'print the API JSON')
    .action(async (name: string, opts: RegistryFlags) => {
      const path = `/v1/sim/registries/${encodeURIComponent(name)}`;
      const change = {
        ...(opts.clear ? { clear: true } : {}),
        ...(opts.fail !== undefined ? { fail: typeof opts.fail === 'number' ? opts.fail : 1 } : {}),
        ...(opts.slow !== undefined ? { slowMs: opts.slow } : {}),
        ...(opts.delete ? { delete: opts.delete } : {}),
        ...(opts.push ? { push: opts.push } : {}),
      };
      const view = Object.keys(change).length === 0 ? await kit.request<RegistryView>('GET', path) : await kit.request<RegistryView>('PUT', path, change);
      kit.out(!!opts.json, view, () => describeRegistry(view));
    });

  sim
    .command('registries')
    .description('every simulated registry: URL, images, faults')
    .option('--json', 'print the API JSON')
    .action(async (opts: { json?: boolean }) => {
      const listing = await kit.request<{ registries: RegistryView[] }>('GET', '/v1/sim/registries');
      kit.out(!!opts.json, listing, () => listing.registries.map(describeRegistry).join('\n') || 'no registries');
    });
}

function describeRegistry(r: RegistryView): string {
  const faults = [r.faults.fail ? `fail ${Math.round(r.faults.fail * 100)}%` : '', r.faults.slowMs ? `slow ${formatDuration(r.faults.slowMs)}` : ''].filter(Boolean).join(', ') || 'healthy';
  return `${r.name} ${r.url}${r.token ? ' (token)' : ''}: ${faults}; images: ${r.images.join(', ') || 'none'}`;
}
