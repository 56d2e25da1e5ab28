import { randomBytes } from 'node:crypto';
import type { AppDeps } from '../app-deps.js';
import type { PoolConfig } from '../config.js';
import { LIVE_STATES, newMachineId } from '../machines/machine.js';
import { totalsByState, type CreateResult, type PoolCounts } from '../machines/store.js';
import { allZonesBlocked, fallbackPlacement, probeCandidates, selectZones, type Placement, type ZoneCandidate } from '../zones/selector.js';
import { ALL_ZONES_OPEN, type PoolFlag } from './pool-flags.js';
import type { ProviderHalt } from '../providers/provider-halts.js';
import { launchDeficit, type PoolLimits } from './planner.js';
import { poolTarget } from './target.js';
import { scaleIn, scaleInExcess } from './scale-in.js';
import { inFlightByZone, zoneCandidates } from './zone-candidates.js';
import { replaceSuperseded } from './rollout-replace.js';
import { versionFor, type Rollout } from '../agent/rollout.js';
import { splitZoneId } from '../providers/zone-id.js';

export type ReconcileDeps = Pick<AppDeps, 'config' | 'redis' | 'store' | 'queues' | 'zoneStrategy' | 'flags' | 'providerHalts' | 'waiters' | 'epoch' | 'rollouts' | 'providers' | 'logger' | 'now'>;

/** A requested machine whose launch job this old is missing was orphaned by a crash between create and enqueue. */
const REQUESTED_GRACE_MS = 10_000;

/**
 * Brings one pool to its target (schedule plus waiting leases): decides where
 * the missing machines go (breaker-aware), records them (the store refuses
 * any beyond the limits, so concurrent reconciles in several producers are
 * safe) and enqueues a launch job per machine, with the machine id as job
 * id; or retires a surplus that has lasted a full cooldown. Each new machine
 * gets its agent version from the rollout; a ready machine on a superseded
 * version is retired first, so this same run launches its replacement.
 */
export async function reconcilePool(pool: PoolConfig, deps: ReconcileDeps): Promise<{ requested: number; retired: number }> {
  const { store, flags, config, now } = deps;
  // An empty store after a Redis loss would look like an empty pool: wait for the rebuild of its providers, never storm.
  if (!(await deps.epoch.rebuilt(providersOf(pool)))) return { requested: 0, retired: 0 };
  const { target } = poolTarget(pool, now(), await deps.waiters.count(pool.name, now()));
  const rollout = await deps.rollouts.current(pool);
  await replaceSuperseded(pool, rollout, target, deps);
  const counts = await store.counts(pool.name);
  const totals = totalsByState(counts);
  const retired = await scaleIn(pool, scaleInExcess(pool, totals, target), deps);
  const poolFlags = await flags.read(pool.name);
  if (poolFlags.halted) return { requested: 0, retired };
  const limits = { warm: target, max: pool.max };
  const deficit = launchDeficit(limits, totals);
  const halts = await deps.providerHalts.read(providersOf(pool));
  const trials = await claimTrials(halts, deficit, deps);
  const candidates = await zoneCandidates(pool, deps, halts, trials);
  const roomForProbes = LIVE_STATES.reduce((sum, s) => sum + totals[s], 0) < pool.max;
  const probeSlots = roomForProbes ? await reserveProbes(probeCandidates(candidates), deps) : new Map<string, number>();
  const blocked = allZonesBlocked(candidates);
  await updateAlert(pool, blockedBecause(candidates, halts), poolFlags.alert, deps);
  const allOpenProbe = blocked && probeSlots.size === 0 && deficit > 0 && (await flags.allowProbe(pool.name, config.allZonesOpen.probeEvery));
  const inFlight = await inFlightByZone(pool, counts, candidates, deps);
  const placements = oneTrialEach(selectZones({ candidates, counts, deficit, probeSlots, allOpenProbe, inFlight }).placements, trials);
  // Zones the store refused this run: it holds each zone to its in-flight limit, whatever this run read.
  const refused = new Set<string>();
  let requested = 0;
  for (const planned of placements) {
    let placement: Placement | undefined = planned;
    let result: CreateResult = 'zone-limit';
    while (placement && (result = await request(pool, limits, placement, rollout, deps)) === 'zone-limit') {
      refused.add(placement.zone);
      placement = fallbackPlacement({ candidates, counts, refused, inFlight });
    }
    if (result !== 'created') break;
    counted(counts, placement!.zone);
    requested++;
  }
  await requeueOrphanedRequests(pool, deps);
  return { requested, retired };
}

async function reserveProbes(zones: string[], deps: ReconcileDeps): Promise<Map<string, number>> {
  const slots = new Map<string, number>();
  // One slot per zone per reconcile: the next reconcile may take the next one, after this probe is on its way.
  for (const zone of zones) if (await deps.zoneStrategy.reserveProbe(zone, deps.now())) slots.set(zone, 1);
  return slots;
}

/** The providers a pool launches into. */
function providersOf(pool: PoolConfig): string[] {
  return [...new Set(pool.zones.map((zone) => splitZoneId(zone).provider))];
}

/** Counts a machine just requested, so a later fallback spreads around it. */
function counted(counts: PoolCounts, zone: string): void {
  const byState = (counts[zone] ??= {});
  byState.requested = (byState.requested ?? 0) + 1;
}

async function request(pool: PoolConfig, limits: PoolLimits, placement: Placement, rollout: Rollout | undefined, deps: ReconcileDeps): Promise<CreateResult> {
  const { store, queues, logger, now } = deps;
  const id = newMachineId(now(), () => randomBytes(4).toString('hex'));
  const machine = {
    id,
    pool: pool.name,
    zone: placement.zone,
    instanceType: placement.instanceType,
    imageId: pool.imageId,
    ...(placement.probe ? { probe: 1 as const } : {}),
    ...(rollout ? { agentVersion: versionFor(id, rollout) } : {}),
  };
  // A probe may go beyond the warm target (never beyond max): a full pool must still learn that a zone healed.
  const allowed = placement.probe ? { warm: pool.max, max: pool.max } : limits;
  // The zone's in-flight limit is checked in the same step as the machine is recorded: every pool sharing the zone counts.
  const otherPools = deps.config.pools.filter((p) => p.name !== pool.name && p.zones.includes(placement.zone)).map((p) => p.name);
  const result = await store.create(machine, allowed, now(), deps.zoneStrategy.zoneGuard?.(placement.zone, otherPools));
  if (result !== 'created') return result;
  await queues.launch.add('launch', { machineId: id }, { jobId: id });
  logger.debug({ machineId: id, pool: pool.name, zone: placement.zone, probe: placement.probe }, 'machine requested');
  return result;
}

/**
 * Why no zone of the pool can take an ordinary launch, if so, in words that
 * say what is true: the cloud API (a provider halted, or this process failing
 * fast on its launches) is not an open zone, and is said first.
 */
function blockedBecause(candidates: readonly ZoneCandidate[], halts: ReadonlyMap<string, ProviderHalt>): string | undefined {
  // A halted provider's zones stay cut off during its trial launch: the halt is what is true until it clears.
  const cutOff = (c: ZoneCandidate) => !c.reachable || halts.has(splitZoneId(c.zone).provider);
  if (candidates.some((c) => c.state === 'closed' && c.instanceTypes.length > 0 && !cutOff(c))) return undefined;
  // Zones that would take launches but for their provider's API.
  const cut = candidates.filter((c) => c.state !== 'open' && c.instanceTypes.length > 0 && cutOff(c));
  const providers = [...new Set(cut.map((c) => splitZoneId(c.zone).provider))];
  if (providers.length > 0) {
    return providers
      .map((name) => {
        const halt = halts.get(name);
        return halt ? `provider ${name} halted: ${halt.reason} (resume: vmpool provider resume ${name})` : `cloud API of provider ${name} unavailable: its launches fail fast until it answers again`;
      })
      .join('; ');
  }
  return ALL_ZONES_OPEN;
}

async function updateAlert(pool: PoolConfig, reason: string | undefined, raised: PoolFlag | undefined, { flags, logger, now }: ReconcileDeps): Promise<void> {
  if (reason !== undefined && reason !== raised?.reason && (await flags.raise(pool.name, reason, now(), { replace: raised !== undefined }))) {
    if (reason === ALL_ZONES_OPEN) logger.error({ pool: pool.name, zones: pool.zones }, `pool ${pool.name}: every zone is open; launching only probes until one recovers`);
    else logger.error({ pool: pool.name, zones: pool.zones }, `pool ${pool.name}: no launches: ${reason}`);
  }
  if (reason === undefined && raised && (await flags.clear(pool.name))) logger.info({ pool: pool.name }, `pool ${pool.name}: a zone is usable again`);
}

/**
 * Halted providers whose trial is due and claimed by this run (a launch
 * refusal only: a refused termination, listing or tag is tried again by the
 * sweeps and the reaper, and launching more meanwhile could only leak).
 */
async function claimTrials(halts: ReadonlyMap<string, ProviderHalt>, deficit: number, deps: ReconcileDeps): Promise<Set<string>> {
  const trials = new Set<string>();
  if (deficit === 0) return trials;
  for (const [name, halt] of halts) {
    if (halt.action === 'launch' && deps.now() >= halt.retryAt && (await deps.providerHalts.claimTrial(name, deps.config.producer.fatalPause))) trials.add(name);
  }
  return trials;
}

/** A halted provider on trial takes one launch, not the deficit. */
function oneTrialEach(placements: readonly Placement[], trials: ReadonlySet<string>): Placement[] {
  const taken = new Set<string>();
  return placements.filter((p) => {
    const { provider } = splitZoneId(p.zone);
    if (!trials.has(provider)) return true;
    if (taken.has(provider)) return false;
    taken.add(provider);
    return true;
  });
}

async function requeueOrphanedRequests(pool: PoolConfig, { store, queues, now }: ReconcileDeps): Promise<void> {
  for (const machine of await store.list(pool.name, 'requested', { enteredBefore: now() - REQUESTED_GRACE_MS })) {
    // Same job id: a no-op when the job still exists.
    await queues.launch.add('launch', { machineId: machine.id }, { jobId: machine.id });
  }
}

