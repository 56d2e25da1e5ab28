import { Gauge, type Registry } from 'prom-client';
import type { AppDeps } from './app-deps.js';
import { lastReaperRun, type ReapSummary } from './pool/reaper.js';
import { poolTarget } from './pool/target.js';
import { ALL_ZONES_OPEN, type PoolFlags } from './pool/pool-flags.js';

export type OpsMetricsDeps = Pick<AppDeps, 'config' | 'redis' | 'flags' | 'waiters' | 'now'>;

/** `orphansMarked` -> `orphans_marked`: Prometheus label values in the house's snake case. */
const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * What the monitoring kit's alerts (docs/monitoring/) need beyond machine
 * counts: each pool's target, halt and all-zones-open flags, and what the
 * reaper's last run found (stuck machines, leaked instances). Read from Redis
 * at scrape time, like every vmpool metric, so any web process answers for all.
 */
export function registerOpsMetrics(registry: Registry, deps: OpsMetricsDeps): void {
  new Gauge({
    name: 'vmpool_pool_target',
    help: 'Ready machines the pool keeps now: the scheduled target plus waiting lease requests, up to max.',
    labelNames: ['pool'],
    registers: [registry],
    async collect() {
      for (const pool of deps.config.pools) {
        const { target } = poolTarget(pool, deps.now(), await deps.waiters.count(pool.name, deps.now()));
        this.set({ pool: pool.name }, target);
      }
    },
  });
  const flags = (name: string, help: string, raised: (f: Awaited<ReturnType<PoolFlags['read']>>) => boolean) =>
    new Gauge({
      name,
      help,
      labelNames: ['pool'],
      registers: [registry],
      async collect() {
        for (const pool of deps.config.pools) this.set({ pool: pool.name }, raised(await deps.flags.read(pool.name)) ? 1 : 0);
      },
    });
  flags('vmpool_pool_halted', '1 while a fatal launch error (bad credentials, bad image id) halts the pool\'s launches.', (f) => f.halted !== undefined);
  // The alert also says when the provider's API cannot take launches: that is not an open zone.
  flags('vmpool_pool_all_zones_open', '1 while every zone of the pool is open: it probes the least-bad zone and launches nothing else.', (f) => f.alert?.reason === ALL_ZONES_OPEN);
  registerReaperMetrics(registry, deps);
}

function registerReaperMetrics(registry: Registry, deps: OpsMetricsDeps): void {
  new Gauge({
    name: 'vmpool_reaper_last_run_timestamp_seconds',
    help: 'When the last reaper run (any producer) finished, Unix time; absent before the first.',
    registers: [registry],
    async collect() {
      this.reset();
      const run = await lastReaperRun(deps);
      if (run) this.set(run.at / 1000);
    },
  });
  new Gauge({
    name: 'vmpool_reaper_last_run_actions',
    help: 'What the last reaper run did, by action: stuck_failed (machines past their deadline), orphans_terminated (instances vmpool did not know), terminations_retried...',
    labelNames: ['action'],
    registers: [registry],
    async collect() {
      this.reset();
      const run = await lastReaperRun(deps);
      if (!run) return;
      for (const [key, value] of Object.entries(run.summary) as [keyof ReapSummary, number][]) this.set({ action: snake(key) }, value);
    },
  });
}
