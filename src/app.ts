import type { Redis } from 'ioredis';
import { connectRedis } from './redis-connection.js';
import type { FastifyInstance } from 'fastify';
import type { Logger } from './log.js';
import { coalesceWrites } from './local/coalesced-writes.js';
import type { Config } from './config.js';
import { MachineStore } from './machines/store.js';
import { closeQueues, createQueues } from './queues.js';
import { OutcomeCounters } from './outcome-counters.js';
import { Ec2Provider } from './providers/ec2.js';
import { GuardedProvider } from './providers/guarded-provider.js';
import { TerminateCoalescer } from './providers/terminate-coalescer.js';
import { HaltingProvider } from './providers/halting-provider.js';
import { ProviderHalts } from './providers/provider-halts.js';
import { RateBudget } from './providers/rate-budget.js';
import { CloudCallCounters } from './providers/cloud-calls.js';
import type { Provider } from './providers/provider.js';
import { createMetrics } from './metrics.js';
import { buildServer } from './http/server.js';
import { startProducer } from './roles/producer.js';
import { startBooter } from './roles/booter.js';
import type { RoleHandle } from './roles/role.js';
import type { AppDeps } from './app-deps.js';
import { readLoginKey } from './boot/login-key.js';
import { ZoneBreaker } from './zones/breaker.js';
import { CapacityCache } from './zones/capacity-cache.js';
import { PoolFlags } from './pool/pool-flags.js';
import { LeaseWaiters } from './pool/lease-waiters.js';
import { LeaseHandout } from './pool/lease-handout.js';
import { tagLeased } from './pool/lease-tags.js';
import { Epoch } from './machines/epoch.js';
import { closeGracefully } from './http/graceful-close.js';
import { MachineLog } from './machines/machine-log.js';
import { RolloutStore } from './agent/rollout-store.js';
import { PullCounters } from './agent/pull-counters.js';
import { noBreakerStrategy, redisBreakerStrategy, type ZoneStrategy } from './zones/zone-strategy.js';
import { LocalBreakerStrategy } from './zones/local-breaker.js';
import { StatusHistory } from './status-history.js';
import { startStatusSampler } from './status-sampler.js';

export type Role = 'producer' | 'booter' | 'web';

export interface AppOptions {
  config: Readonly<Config>;
  logger: Logger;
  roles: readonly Role[];
  now?: () => number;
  /** Providers to use instead of building them from config (tests). */
  providers?: ReadonlyMap<string, Provider>;
}

/** A running process's services (what tests and the all-in-one reach into) and its lifecycle. */
export interface App extends Pick<AppDeps, 'redis' | 'store' | 'queues' | 'providers' | 'counters' | 'breaker' | 'capacity' | 'flags' | 'waiters' | 'epoch' | 'rollouts' | 'pulls' | 'machineLog' | 'zoneStrategy' | 'history' | 'providerHalts'> {
  /** The web role's server, listening, when that role runs. */
  readonly http?: FastifyInstance;
  /** Base URL of the web role, when it runs. */
  readonly url?: string;
  /** Stops taking work, lets running jobs finish, closes connections; idempotent. */
  close(): Promise<void>;
}

/**
 * The composition root: builds each dependency once and starts the roles
 * asked for. Any number of processes may run any roles against one Redis.
 */
export async function createApp(options: AppOptions): Promise<App> {
  const { config, logger, roles } = options;
  const now = options.now ?? Date.now;
  // BullMQ needs connections that retry forever; the store's answers go to API clients, so the same applies.
  const redis = await connectRedis(config.redis, logger, (connection) => {
    // Commands issued in one turn (a script call and its follow-ups, a burst of answers) share one system call.
    // Not ioredis's enableAutoPipelining: BullMQ users report lost job data with it. Each reconnect brings a new socket.
    connection.on('connect', () => coalesceWrites(connection.stream));
  });
  const store = new MachineStore(redis, config.redis.prefix);
  const queues = createQueues(redis, config.redis.prefix);
  const counters = new OutcomeCounters(redis, config.redis.prefix);
  const breaker = new ZoneBreaker(redis, config.redis.prefix, config.breaker, logger.child({ component: 'breaker' }));
  const capacity = new CapacityCache(redis, config.redis.prefix, config.capacityCache.ttl);
  const flags = new PoolFlags(redis, config.redis.prefix);
  const waiters = new LeaseWaiters(redis, config.redis.prefix);
  const epoch = new Epoch(redis, config.redis.prefix);
  const rollouts = new RolloutStore(redis, config.redis.prefix);
  const pulls = new PullCounters(redis, config.redis.prefix);
  const machineLog = new MachineLog(redis, config.redis.prefix);
  const history = new StatusHistory(redis, config.redis.prefix);
  const providerHalts = new ProviderHalts(redis, config.redis.prefix);
  const cloudCalls = new CloudCallCounters(redis, config.redis.prefix);
  const providers = options.providers ?? buildProviders(config, { halts: providerHalts, redis, calls: cloudCalls }, logger, now);
  const zoneStrategy = buildZoneStrategy(config, breaker, capacity, logger);
  const deps = { config, redis, store, queues, counters, breaker, capacity, zoneStrategy, flags, providerHalts, waiters, epoch, rollouts, pulls, machineLog, history, providers, now };
  // Read before anything starts, so a missing key fails the process cleanly.
  const privateKey = roles.includes('booter') ? readLoginKey(config.ssh.privateKeyPath) : undefined;
  const handles: RoleHandle[] = [];
  let closing = false;
  const endWaits = new AbortController();
  let http: FastifyInstance | undefined;
  let handout: LeaseHandout | undefined;
  let url: string | undefined;
  let sampler: { stop(): void } | undefined;
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      closing = true;
      sampler?.stop();
      // Reverse order of construction: stop taking work, then drop what it needed. Each role has the same grace, at once.
      await Promise.all([...handles.map((h) => h.close()), http && closeGracefully(http, config.shutdown.grace, endWaits, logger).then(() => tagsSent(handout, logger))]);
      await closeQueues(queues);
      await cloudCalls.close();
      await redis.quit().catch(() => redis.disconnect());
      zoneStrategy.close?.();
      if (!options.providers) for (const provider of providers.values()) provider.close?.();
    })());
  try {
    // The web role first: a port in use fails the start before anything is launched.
    if (roles.includes('web')) {
      handout = new LeaseHandout(store, now, (machines) => tagLeased(machines, { providers, logger, now }), logger.child({ component: 'lease' }));
      http = buildServer({ ...deps, metrics: createMetrics(deps), logger, isClosing: () => closing, shutdown: endWaits.signal, handout });
      await http.listen({ host: config.http.host, port: config.http.port });
      const address = http.server.address();
      const port = typeof address === 'object' && address ? address.port : config.http.port;
      url = `http://${config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host}:${port}`;
      sampler = startStatusSampler({ ...deps, logger: logger.child({ component: 'status-sampler' }) });
    }
    if (roles.includes('producer')) handles.push(await startProducer({ ...deps, logger: logger.child({ component: 'producer' }) }));
    if (privateKey) handles.push(startBooter({ ...deps, privateKey, logger: logger.child({ component: 'booter' }) }));
  } catch (err) {
    await close();
    throw err;
  }
  return { redis, store, queues, providers, counters, breaker, capacity, zoneStrategy, flags, providerHalts, waiters, epoch, rollouts, pulls, machineLog, history, http, url, close };
}

/** How long lease tags still in flight once the HTTP server has closed may hold the exit (the grace is spent by then). */
const TAGS_AT_EXIT_MS = 1_000;

/** Lease tags still in flight at shutdown get a moment to land; the reaper writes any that did not. */
async function tagsSent(handout: LeaseHandout | undefined, logger: Logger): Promise<void> {
  if (!handout) return;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), TAGS_AT_EXIT_MS)));
  const sent = await Promise.race([handout.tagsSent().then(() => true), expired]);
  clearTimeout(timer);
  if (!sent) logger.warn({ waitedMs: TAGS_AT_EXIT_MS }, 'lease tags still unsent at exit; the reaper writes them');
}

/** `zones.strategy`: the shared Redis breaker in production; the others for the outage benchmark. */
function buildZoneStrategy(config: Readonly<Config>, breaker: ZoneBreaker, capacity: CapacityCache, logger: Logger): ZoneStrategy {
  if (config.zones.strategy === 'no-breaker') return noBreakerStrategy();
  if (config.zones.strategy === 'local-breaker') return new LocalBreakerStrategy(config.breaker, logger.child({ component: 'local-breaker' }));
  return redisBreakerStrategy(breaker, capacity);
}

/**
 * Each configured cloud, spending its rate budget shared with every process,
 * behind this process's fail-fast guard on each action of its API, watched
 * for refusals that halt its launches (shared), with terminations coalesced
 * into batches.
 */
function buildProviders(config: Readonly<Config>, shared: { halts: ProviderHalts; redis: Redis; calls: CloudCallCounters }, logger: Logger, now: () => number): Map<string, Provider> {
  return new Map(
    config.providers.map((p): [string, Provider] => {
      const budget = p.rateBudget.shared ? new RateBudget(shared.redis, config.redis.prefix, p.name, p.rateBudget) : undefined;
      const ec2 = new Ec2Provider(p, logger.child({ component: 'ec2', provider: p.name }), { budget, calls: shared.calls });
      const watched = new HaltingProvider(new GuardedProvider(ec2, config.cloudApi, logger), shared.halts, { pauseMs: config.producer.fatalPause, logger, now });
      return [p.name, new TerminateCoalescer(watched)];
    }),
  );
}
