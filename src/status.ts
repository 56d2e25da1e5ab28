import type { AppDeps } from './app-deps.js';
import { STATES, type MachineState } from './machines/machine.js';
import { totalsByState } from './machines/store.js';
import type { PoolFlag } from './pool/pool-flags.js';
import { poolTarget } from './pool/target.js';
import { overdueLeases } from './pool/reaper.js';
import type { ZoneHealth } from './zones/breaker.js';
import { readAgentStatus, type AgentStatus } from './agent/agent-status.js';
import { isoTime, shownText } from './iso-time.js';
import { belowTarget, type BelowTarget } from './pool/below-target.js';
import { splitZoneId } from './providers/zone-id.js';

/** A pool flag as the API shows it: the time as an ISO string. */
export interface FlagView {
  reason: string;
  since: string;
}

/** Machines per state, every state present (terminated ones are not counted). */
export type StateCounts = Record<Exclude<MachineState, 'terminated'>, number>;

export interface PoolStatus {
  name: string;
  /** Ready machines the pool keeps now: the scheduled target plus waiting leases, up to max. */
  target: number;
  /** The target the schedule (or `warm`) sets for now. */
  scheduled: number;
  /** Lease requests waiting for a machine. */
  waiting: number;
  min: number;
  max: number;
  machines: StateCounts;
  zones: Record<string, StateCounts>;
  /** Launching stopped after a fatal error (bad credentials, bad image id) until it lapses or is resumed. */
  halted?: FlagView;
  /** Raised while no zone of the pool can take a launch: every zone open, or its provider's API unable to take launches (halted, failing fast). */
  alert?: FlagView;
  /** Why the pool holds fewer ready machines than its target, when it does. */
  belowTarget?: BelowTarget;
  /** Leased machines past the pool's maxLeaseDuration (a build stuck, or a client that never released). */
  overdueLeases: string[];
  /** The build agent rollout: versions, canary (and its halt), machines per version. Absent when the pool pulls no agent. */
  agent?: AgentStatus;
}

/** A zone's breaker in status and `GET /v1/zones`; times as ISO strings. */
export interface ZoneStatus {
  zone: string;
  state: ZoneHealth['state'];
  mode: ZoneHealth['mode'];
  reason?: string;
  by?: string;
  until?: string;
  failureRate: number;
  outcomes: number;
  failures: number;
  openUntil?: string;
  reopens: number;
  /** How many more failures in a row would open the zone. */
  failuresToOpen: number;
}

/** A provider whose launches are halted (an authorization refusal), for every process. */
export interface ProviderHaltView {
  reason: string;
  /** The refused action (launch, describe, terminate, tag): its next success clears the halt. */
  action: string;
  since: string;
  /** When a trial launch may go (a launch refusal only). */
  retryAt: string;
}

export interface ProviderStatus {
  name: string;
  halted?: ProviderHaltView;
}

/** Something an operator must act on, in one list: a halted provider, a pool's alert or halt. */
export interface AlertView {
  kind: 'provider-halted' | 'pool-alert' | 'pool-halted';
  /** The provider or pool it is about. */
  subject: string;
  message: string;
  since: string;
}

export interface Status {
  pools: PoolStatus[];
  zones: ZoneStatus[];
  providers: ProviderStatus[];
  alerts: AlertView[];
}

export type StatusDeps = Pick<AppDeps, 'config' | 'store' | 'breaker' | 'flags' | 'providerHalts' | 'waiters' | 'rollouts' | 'now'>;

const COUNTED = STATES.filter((s): s is Exclude<MachineState, 'terminated'> => s !== 'terminated');

function stateCounts(source: Partial<Record<MachineState | 'slow', number>>): StateCounts {
  return Object.fromEntries(COUNTED.map((s) => [s, source[s] ?? 0])) as StateCounts;
}

/** The `GET /v1/status` document: each pool's counts and flags, each zone's breaker. */
export async function readStatus(deps: StatusDeps): Promise<Status> {
  const { config, store } = deps;
  const zoneList = await readZones(deps);
  const breakers = new Map(zoneList.map((z) => [z.zone, z]));
  const providers = await readProviders(deps);
  const pools = await Promise.all(
    config.pools.map(async (pool): Promise<PoolStatus> => {
      const [counts, flags, waiting, overdue, agent] = await Promise.all([
        store.counts(pool.name),
        deps.flags.read(pool.name),
        deps.waiters.count(pool.name, deps.now()),
        overdueLeases(pool, deps),
        readAgentStatus(pool, deps),
      ]);
      const target = poolTarget(pool, deps.now(), waiting);
      const zones: Record<string, StateCounts> = {};
      for (const zone of [...pool.zones, ...Object.keys(counts).filter((z) => !pool.zones.includes(z))]) {
        zones[zone] = stateCounts(counts[zone] ?? {});
      }
      const agentPart = agent ? { agent } : {};
      const machines = stateCounts(totalsByState(counts));
      const halted = flagView(flags.halted);
      const refused = providers.find((p) => p.halted && pool.zones.some((z) => splitZoneId(z).provider === p.name));
      const providerHalted = refused?.halted ? { provider: refused.name, reason: refused.halted.reason } : undefined;
      const below = belowTarget({ name: pool.name, ...target, max: pool.max, machines, halted, providerHalted, zones: pool.zones.flatMap((z) => breakers.get(z) ?? []) });
      return {
        name: pool.name,
        ...target,
        min: pool.min,
        max: pool.max,
        machines,
        zones,
        ...(halted ? { halted } : {}),
        ...(flags.alert ? { alert: flagView(flags.alert) } : {}),
        ...(below ? { belowTarget: below } : {}),
        overdueLeases: overdue.map((m) => m.id),
        ...agentPart,
      };
    }),
  );
  return { pools, zones: zoneList, providers, alerts: alertsOf(providers, pools) };
}

async function readProviders(deps: Pick<StatusDeps, 'config' | 'providerHalts'>): Promise<ProviderStatus[]> {
  const names = deps.config.providers.map((p) => p.name);
  const halts = await deps.providerHalts.read(names);
  return names.map((name) => {
    const halt = halts.get(name);
    if (!halt) return { name };
    return { name, halted: { reason: shownText(halt.reason)!, action: halt.action, since: isoTime(halt.since)!, retryAt: isoTime(halt.retryAt)! } };
  });
}

function alertsOf(providers: readonly ProviderStatus[], pools: readonly PoolStatus[]): AlertView[] {
  return [
    ...providers.flatMap((p): AlertView[] => (p.halted ? [{ kind: 'provider-halted', subject: p.name, message: `provider ${p.name} halted: ${p.halted.reason} (resume: vmpool provider resume ${p.name})`, since: p.halted.since }] : [])),
    ...pools.flatMap((p): AlertView[] => [
      ...(p.halted ? [{ kind: 'pool-halted' as const, subject: p.name, message: `pool ${p.name} halted: ${p.halted.reason}`, since: p.halted.since }] : []),
      ...(p.alert ? [{ kind: 'pool-alert' as const, subject: p.name, message: `pool ${p.name}: ${p.alert.reason}`, since: p.alert.since }] : []),
    ]),
  ];
}

function flagView(flag: PoolFlag | undefined): FlagView | undefined {
  return flag ? { reason: shownText(flag.reason)!, since: isoTime(flag.since)! } : undefined;
}

/** Every zone any pool uses, with its breaker. */
export async function readZones(deps: Pick<StatusDeps, 'config' | 'breaker' | 'now'>): Promise<ZoneStatus[]> {
  const zones = [...new Set(deps.config.pools.flatMap((p) => p.zones))];
  return [...(await deps.breaker.read(zones, deps.now())).values()].map(zoneView);
}

/** Never throws on what Redis holds: an out-of-range time shows as "invalid", long operator text is cut. */
export function zoneView(h: ZoneHealth): ZoneStatus {
  const iso = (ms?: number) => (ms ? isoTime(ms) : undefined);
  return {
    zone: h.zone,
    state: h.state,
    mode: h.mode,
    reason: shownText(h.modeReason),
    by: shownText(h.modeBy),
    until: iso(h.modeUntil),
    failureRate: Number(h.failureRate.toFixed(3)),
    outcomes: h.outcomes,
    failures: h.failures,
    openUntil: h.state === 'open' ? iso(h.openUntil) : undefined,
    reopens: h.reopens,
    failuresToOpen: h.failuresToOpen,
  };
}

/**
 * `pool small: 3/3 ready (sim/zone-a 1, sim/zone-b 1, sim/zone-c 1)`, a zone's
 * breaker state beside it when not closed, then what is on its way and why
 * the pool cannot launch, if so.
 */
export function summarizePool(pool: PoolStatus, zoneStates: ReadonlyMap<string, string> = new Map(), options: { limits?: boolean } = {}): string {
  const zones = Object.entries(pool.zones)
    .map(([zone, c]) => {
      const state = zoneStates.get(zone);
      return `${zone} ${c.ready}${state && state !== 'closed' ? ` ${state}` : ''}`;
    })
    .join(', ');
  const m = pool.machines;
  const coming = m.requested + m.launching + m.booting + m.preparing;
  const extras = [coming ? `${coming} booting` : '', m.leased ? `${m.leased} leased` : '', m.failed + m.terminating ? `${m.failed + m.terminating} terminating` : '']
    .filter(Boolean)
    .join(', ');
  const flags = [
    pool.halted ? `HALTED: ${pool.halted.reason}` : '',
    pool.alert ? `ALERT: ${pool.alert.reason}` : '',
    pool.overdueLeases.length ? `${pool.overdueLeases.length} lease(s) past maxLeaseDuration` : '',
    // Refilling is already said by "N booting"; a halt by HALTED.
    pool.belowTarget && pool.belowTarget.kind !== 'refilling' && pool.belowTarget.kind !== 'halted' ? `below target: ${pool.belowTarget.reason}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  const limits = options.limits ? `; target ${pool.target}, max ${pool.max}` : '';
  return `pool ${pool.name}: ${m.ready}/${pool.target} ready (${zones})${extras ? `; ${extras}` : ''}${limits}${flags ? `; ${flags}` : ''}`;
}
