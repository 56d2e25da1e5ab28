import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { MachineStore } from './machines/store.js';
import type { OutcomeCounters } from './outcome-counters.js';
import type { Provider } from './providers/provider.js';
import type { Queues } from './queues.js';
import type { ZoneBreaker } from './zones/breaker.js';
import type { CapacityCache } from './zones/capacity-cache.js';
import type { PoolFlags } from './pool/pool-flags.js';
import type { ProviderHalts } from './providers/provider-halts.js';
import type { LeaseWaiters } from './pool/lease-waiters.js';
import type { Epoch } from './machines/epoch.js';
import type { MachineLog } from './machines/machine-log.js';
import type { RolloutStore } from './agent/rollout-store.js';
import type { PullCounters } from './agent/pull-counters.js';
import type { ZoneStrategy } from './zones/zone-strategy.js';
import type { StatusHistory } from './status-history.js';

/**
 * What the composition root builds once per process and hands to services;
 * each service names the part it uses with `Pick<AppDeps, ...>`.
 */
export interface AppDeps {
  config: Readonly<Config>;
  redis: Redis;
  store: MachineStore;
  queues: Queues;
  providers: ReadonlyMap<string, Provider>;
  counters: OutcomeCounters;
  breaker: ZoneBreaker;
  capacity: CapacityCache;
  /** What zone choice obeys (`zones.strategy`): the Redis breaker unless a benchmark says otherwise. */
  zoneStrategy: ZoneStrategy;
  flags: PoolFlags;
  /** Providers whose launches an authorization refusal halted, shared by every process. */
  providerHalts: ProviderHalts;
  waiters: LeaseWaiters;
  /** Missing when Redis lost its data: nothing plans launches until the store is rebuilt. */
  epoch: Epoch;
  /** Each pool's agent rollout (versions, canary, its halt), shared by every process. */
  rollouts: RolloutStore;
  pulls: PullCounters;
  machineLog: MachineLog;
  /** Lease waits and status samples for the dashboard's chart. */
  history: StatusHistory;
  logger: Logger;
  now: () => number;
}
