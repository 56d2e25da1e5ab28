import type { AppDeps } from '../app-deps.js';
import type { Machine } from '../machines/machine.js';
import { ownTags, TAGS, type Instance, type Provider } from '../providers/provider.js';
import { splitZoneId } from '../providers/zone-id.js';
import { INSTANCE_STATES, planOrphans, type InstanceFate } from './reaper-rules.js';

/** One provider's live instances tagged `vmpool:managed`, by instance id. */
export interface Inventory {
  provider: Provider;
  instances: ReadonlyMap<string, Instance>;
}

export type InventoryDeps = Pick<AppDeps, 'config' | 'redis' | 'store' | 'providers' | 'logger' | 'now'> & {
  /** Abandons the run's cloud calls (the producer's shutdown at the end of its grace). */
  signal?: AbortSignal;
};

/**
 * Asks every provider for its managed instances. A provider that cannot
 * answer is left out of this run: the reaper must never mistake a failed
 * listing for an empty cloud.
 */
export async function takeInventories({ config, providers, logger, signal }: Pick<InventoryDeps, 'config' | 'providers' | 'logger' | 'signal'>): Promise<Map<string, Inventory>> {
  const inventories = new Map<string, Inventory>();
  for (const [name, provider] of providers) {
    try {
      const listed = await provider.listByTags(ownTags(config.deployment), { signal });
      inventories.set(name, { provider, instances: new Map(listed.map((i) => [i.instanceId, i])) });
    } catch (err) {
      logger.warn({ provider: name, err }, 'reaper: could not list the provider’s instances; skipping it this run');
    }
  }
  return inventories;
}

/**
 * Marks instances the registry does not know, and terminates those marked by
 * an earlier run at least half a reaper period ago (so a manual run right
 * after a scheduled one cannot shorten the wait).
 */
export async function reapOrphans(inventory: Inventory, deps: InventoryDeps): Promise<{ orphansMarked: number; orphansTerminated: number }> {
  const { redis, logger } = deps;
  const { provider } = inventory;
  const key = `${deps.config.redis.prefix}:reaper:orphans:${provider.name}`;
  const unknown = await unknownInstances([...inventory.instances.values()], deps);
  const marks = Object.fromEntries(Object.entries(await redis.hgetall(key)).map(([id, at]) => [id, Number(at)]));
  const plan = planOrphans(unknown, marks, deps.now(), deps.config.reaper.every / 2);
  if (plan.mark.length > 0) await redis.hset(key, Object.fromEntries(plan.mark.map((id) => [id, String(deps.now())])));
  if (plan.forget.length > 0) await redis.hdel(key, ...plan.forget);
  // A build may be running on an instance tagged leased: never kill it on the registry's word alone.
  const leased = plan.terminate.filter((id) => inventory.instances.get(id)?.tags[TAGS.state] === 'leased');
  for (const id of leased) logger.error({ provider: provider.name, instanceId: id }, 'reaper: an instance tagged leased is unknown to the registry; left running (run vmpool recover, or terminate it by hand)');
  plan.terminate = plan.terminate.filter((id) => !leased.includes(id));
  if (plan.terminate.length === 0) return { orphansMarked: plan.mark.length, orphansTerminated: 0 };
  for (const id of plan.terminate) {
    logger.warn({ provider: provider.name, instanceId: id, tags: inventory.instances.get(id)?.tags }, 'reaper: terminating an instance the registry does not know');
  }
  const confirmed = [...(await provider.terminate(plan.terminate, { signal: deps.signal })).confirmed];
  // Unconfirmed ones keep their mark: the next run tries again at once. One the cloud says it does not know was
  // in its listing a moment ago (eventual consistency): asked again too; once gone, the listing forgets it.
  if (confirmed.length > 0) await redis.hdel(key, ...confirmed);
  return { orphansMarked: plan.mark.length, orphansTerminated: confirmed.length };
}

/**
 * Instances no live record claims: no machine-id tag, no record, a
 * terminated record, or a record that names another instance. Instances
 * already shutting down are on their way out and left alone.
 */
async function unknownInstances(instances: Instance[], { store }: Pick<InventoryDeps, 'store'>): Promise<string[]> {
  const live = instances.filter((i) => i.state !== 'shutting-down');
  const records = await store.getMany(live.flatMap((i) => i.tags[TAGS.machineId] ?? []));
  return live
    .filter((i) => {
      const record = records.get(i.tags[TAGS.machineId] ?? '');
      return !record || record.state === 'terminated' || (record.instanceId !== undefined && record.instanceId !== i.instanceId);
    })
    .map((i) => i.instanceId);
}

/**
 * What became of the instances of machines that should have one, per
 * provider: ended (terminated, shutting down) or unknown to the cloud.
 * Those absent from the listing are described (batched) before anything is
 * concluded, so a listing that missed one never closes a live machine.
 */
export async function instanceFates(
  machines: readonly Machine[],
  inventories: ReadonlyMap<string, Inventory>,
  { logger, signal }: Pick<InventoryDeps, 'logger' | 'signal'>,
): Promise<Map<string, Map<string, InstanceFate>>> {
  const fates = new Map<string, Map<string, InstanceFate>>();
  for (const [name, { provider, instances }] of inventories) {
    const ids = machines.filter((m) => INSTANCE_STATES.has(m.state) && m.instanceId && splitZoneId(m.zone).provider === name).map((m) => m.instanceId!);
    const byId = new Map<string, InstanceFate>();
    for (const id of ids) if (instances.get(id)?.state === 'shutting-down') byId.set(id, 'shutting-down');
    const missing = ids.filter((id) => !instances.has(id));
    try {
      const described = missing.length > 0 ? await provider.describe(missing, { signal }) : new Map<string, Instance>();
      for (const id of missing) {
        const state = described.get(id)?.state;
        if (state === undefined) byId.set(id, 'unknown');
        else if (state === 'terminated' || state === 'shutting-down') byId.set(id, state);
      }
      fates.set(name, byId);
    } catch (err) {
      logger.warn({ provider: name, err }, 'reaper: could not describe instances missing from the listing; not closing any record of this provider this run');
    }
  }
  return fates;
}
