import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AppDeps } from './app-deps.js';
import { registerOpsMetrics } from './ops-metrics.js';
import { readCloudCalls } from './providers/cloud-calls.js';

export interface Metrics {
  registry: Registry;
  leaseWait: Histogram<'pool' | 'result'>;
}

/**
 * Prometheus metrics of the web role. Machine counts and launch/boot outcomes
 * are read from Redis at scrape time, so one scrape of any web process shows
 * what every producer and booter did.
 */
export function createMetrics(deps: Pick<AppDeps, 'config' | 'redis' | 'store' | 'counters' | 'breaker' | 'flags' | 'providerHalts' | 'waiters' | 'pulls' | 'rollouts' | 'now'>): Metrics {
  const { config, store, counters } = deps;
  const registry = new Registry();
  // prom-client's default names already begin with process_ or nodejs_: the prefix is only ours.
  collectDefaultMetrics({ register: registry, prefix: 'vmpool_' });
  // Gauges named _total break Prometheus' naming rule; the same counts are in vmpool_nodejs_active_{handles,requests,resources} by type.
  for (const kind of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`vmpool_nodejs_active_${kind}_total`);
  new Gauge({
    name: 'vmpool_machines',
    help: 'Machines by pool, zone and state (terminated ones excluded).',
    labelNames: ['pool', 'zone', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const pool of config.pools) {
        for (const [zone, byState] of Object.entries(await store.counts(pool.name))) {
          for (const [state, n] of Object.entries(byState)) this.set({ pool: pool.name, zone, state }, n);
        }
      }
    },
  });
  const outcomes = () => counters.read();
  new Counter({
    name: 'vmpool_launches_total',
    help: 'Launch calls by pool, zone and result.',
    labelNames: ['pool', 'zone', 'result'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of (await outcomes()).launches) this.inc({ pool: row.pool, zone: row.zone, result: row.result }, row.value);
    },
  });
  new Counter({
    name: 'vmpool_boot_outcomes_total',
    help: 'Ends of boots by pool, zone and outcome (ready, or which failure).',
    labelNames: ['pool', 'zone', 'outcome'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of (await outcomes()).boots) this.inc({ pool: row.pool, zone: row.zone, outcome: row.result }, row.value);
    },
  });
  new Counter({
    name: 'vmpool_cloud_calls_total',
    help: 'Cloud API requests (each SDK retry and page its own) by provider, action and result (ok, throttled, capacity, unauthorized, dry-run, client-error, server-error, network, aborted), from every process.',
    labelNames: ['provider', 'action', 'result'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await readCloudCalls(deps.redis, config.redis.prefix)) this.inc({ provider: row.provider, action: row.action, result: row.result }, row.value);
    },
  });
  registerZoneMetrics(registry, deps);
  registerProviderMetrics(registry, deps);
  registerAgentMetrics(registry, deps);
  registerOpsMetrics(registry, deps);
  const leaseWait = new Histogram({
    name: 'vmpool_lease_wait_seconds',
    help: 'Time a lease request waited for a machine, by pool and result (leased or timeout).',
    labelNames: ['pool', 'result'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  return { registry, leaseWait };
}

/** Agent pulls by registry and result (failover shows as the switch between registries), and halted canaries. */
function registerAgentMetrics(registry: Registry, deps: Pick<AppDeps, 'config' | 'pulls' | 'rollouts'>): void {
  new Counter({
    name: 'vmpool_agent_pulls_total',
    help: 'Build agent pull attempts by registry and result (ok, failed, timeout), from every booter.',
    labelNames: ['registry', 'result'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await deps.pulls.read()) this.inc({ registry: row.registry, result: row.result }, row.value);
    },
  });
  new Gauge({
    name: 'vmpool_agent_canary_halted',
    help: '1 while the canary guard keeps a pool\'s canary agent version halted.',
    labelNames: ['pool'],
    registers: [registry],
    async collect() {
      for (const pool of deps.config.pools) {
        const rollout = await deps.rollouts.current(pool);
        if (rollout) this.set({ pool: pool.name }, rollout.canaryHalted ? 1 : 0);
      }
    },
  });
}

/** Providers halted by an authorization refusal, read from Redis at scrape time (every process's view). */
function registerProviderMetrics(registry: Registry, deps: Pick<AppDeps, 'config' | 'providerHalts'>): void {
  new Gauge({
    name: 'vmpool_provider_halted',
    help: "1 while a provider's launches are halted by an authorization or authentication refusal (resume: vmpool provider resume).",
    labelNames: ['provider'],
    registers: [registry],
    async collect() {
      const names = deps.config.providers.map((p) => p.name);
      const halts = await deps.providerHalts.read(names);
      for (const name of names) this.set({ provider: name }, halts.has(name) ? 1 : 0);
    },
  });
}

const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;

/** Each zone's breaker as every process sees it, read from Redis at scrape time. */
function registerZoneMetrics(registry: Registry, deps: Pick<AppDeps, 'config' | 'breaker' | 'now'>): void {
  const zones = [...new Set(deps.config.pools.flatMap((p) => p.zones))];
  const read = () => deps.breaker.read(zones, deps.now());
  new Gauge({
    name: 'vmpool_zone_breaker_state',
    help: 'Zone breaker state: 1 for the current state (overrides included), 0 for the others.',
    labelNames: ['zone', 'state'],
    registers: [registry],
    async collect() {
      for (const h of (await read()).values()) for (const state of BREAKER_STATES) this.set({ zone: h.zone, state }, h.state === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vmpool_zone_failure_rate',
    help: 'Failed-or-slow share of the zone outcomes in the breaker window.',
    labelNames: ['zone'],
    registers: [registry],
    async collect() {
      for (const h of (await read()).values()) this.set({ zone: h.zone }, h.failureRate);
    },
  });
}
