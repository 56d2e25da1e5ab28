import type { AppDeps } from '../app-deps.js';
import type { Machine } from '../machines/machine.js';
import { ownTags, TAGS, type Instance } from '../providers/provider.js';
import { zoneId } from '../providers/zone-id.js';
import { sshAddress } from './launch.js';
import { addFresh } from '../queues.js';
import { isTag } from '../agent/reference.js';

export type RecoveryDeps = Pick<AppDeps, 'config' | 'redis' | 'store' | 'queues' | 'providers' | 'logger' | 'now'>;

/** A machine record to recreate from an instance's tags. */
export interface RecoveredMachine {
  machineId: string;
  pool: string;
  zone: string;
  instanceId: string;
  /** `leased` when the instance says a build may be running on it; else `booting` (to be verified and prepared again). */
  state: 'leased' | 'booting';
  launchedAt: number;
  instanceType: string;
  imageId: string;
  address?: string;
  /** From the lease tag, when leased. */
  leasedAt?: number;
  agentVersion?: string;
  /** The host key pinned at first contact (tag `ssh.hostKeyTag`): the rebuilt record keeps the pin. */
  hostKeyFingerprint?: string;
}

export interface RecoveryPlan {
  recreate: RecoveredMachine[];
  /** Instances vmpool manages whose record exists: nothing to do. */
  known: number;
  /** Tagged instances that cannot be attributed (no machine id, or a pool no longer configured): left to the reaper. */
  unattributed: string[];
}

/**
 * What a rebuild of the machine store would do: every live instance tagged
 * `vmpool:managed` whose record is missing is recreated from its tags, leased
 * ones as leased (never killed while a build may run), the others as booting,
 * so the booter verifies and prepares them again and the pool counts them
 * instead of launching replacements (no launch storm).
 */
export async function planRecovery(deps: RecoveryDeps): Promise<RecoveryPlan> {
  const plan: RecoveryPlan = { recreate: [], known: 0, unattributed: [] };
  const pools = new Set(deps.config.pools.map((p) => p.name));
  for (const provider of deps.providers.values()) {
    const instances = await provider.listByTags(ownTags(deps.config.deployment));
    const records = await deps.store.getMany(instances.map((i) => i.tags[TAGS.machineId] ?? '').filter(Boolean));
    for (const instance of instances) {
      const machineId = instance.tags[TAGS.machineId];
      const pool = instance.tags[TAGS.pool];
      if (!machineId || !pool || !pools.has(pool)) plan.unattributed.push(instance.instanceId);
      else if (records.has(machineId)) plan.known++;
      else if (instance.state === 'pending' || instance.state === 'running') plan.recreate.push(toRecovered(instance, provider.name, machineId, pool, deps));
    }
  }
  return plan;
}

function toRecovered(instance: Instance, provider: string, machineId: string, pool: string, deps: RecoveryDeps): RecoveredMachine {
  const leased = instance.tags[TAGS.state] === 'leased';
  return {
    machineId,
    pool,
    zone: zoneId(provider, instance.zone),
    instanceId: instance.instanceId,
    state: leased ? 'leased' : 'booting',
    launchedAt: instance.launchedAt,
    instanceType: instance.instanceType,
    imageId: instance.imageId,
    address: sshAddress(instance, deps.config),
    leasedAt: leased ? Date.parse(instance.tags[TAGS.leasedAt] ?? '') || undefined : undefined,
    agentVersion: checkedVersionTag(instance, machineId, deps),
    hostKeyFingerprint: instance.tags[deps.config.ssh.hostKeyTag],
  };
}

/**
 * A restored machine's boot is a re-verification, taken over as from a dead
 * booter: its window and slow clock start at the rebuild (an earlier start
 * makes the booter resume it), and its outcome is never its zone's: the time
 * Redis was gone is nobody's fault, and the machine was judged when it first booted.
 */
function restoredBoot(now: number): Pick<Machine, 'bootStartedAt' | 'bootResumedAt' | 'restoredAt'> {
  return { bootStartedAt: now, bootResumedAt: now, restoredAt: now };
}

/**
 * The version tag is kept as found (the prepare refuses an invalid one where it builds the pull command,
 * failing the machine `invalid-agent-version`), but a tag that is not an image tag is named here, where it was read.
 */
function checkedVersionTag(instance: Instance, machineId: string, deps: RecoveryDeps): string | undefined {
  const version = instance.tags[TAGS.agentVersion];
  if (version !== undefined && !isTag(version)) {
    deps.logger.error({ machineId, instanceId: instance.instanceId, tag: TAGS.agentVersion, value: version.slice(0, 200) }, `instance ${instance.instanceId}: tag ${TAGS.agentVersion} is not a valid image tag; its machine will fail prepare (invalid-agent-version)`);
  }
  return version;
}

/** Carries out a plan: recreates the records (each only if still missing) and hands the booting ones to the booters. */
export async function applyRecovery(plan: RecoveryPlan, deps: RecoveryDeps): Promise<number> {
  let restored = 0;
  for (const m of plan.recreate) {
    const record: Machine = {
      id: m.machineId,
      pool: m.pool,
      zone: m.zone,
      state: m.state,
      stateSince: deps.now(),
      createdAt: m.launchedAt,
      instanceType: m.instanceType,
      imageId: m.imageId,
      instanceId: m.instanceId,
      launchedAt: m.launchedAt,
      address: m.address,
      port: deps.config.ssh.port,
      ...(m.state === 'leased' ? { leasedAt: m.leasedAt ?? deps.now() } : { ...restoredBoot(deps.now()) }),
      ...(m.agentVersion ? { agentVersion: m.agentVersion } : {}),
      ...(m.hostKeyFingerprint ? { hostKeyFingerprint: m.hostKeyFingerprint } : {}),
    };
    if (!(await deps.store.restore(record))) continue;
    restored++;
    if (m.state === 'booting') await addFresh(deps.redis, deps.queues.boot, 'boot', m.machineId);
  }
  return restored;
}
