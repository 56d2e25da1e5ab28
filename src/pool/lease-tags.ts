import type { AppDeps } from '../app-deps.js';
import type { Machine } from '../machines/machine.js';
import { TAGS } from '../providers/provider.js';
import { splitZoneId } from '../providers/zone-id.js';
import { describeError } from '../errors.js';
import type { Inventory } from './reaper-inventory.js';

export type LeaseTagDeps = Pick<AppDeps, 'providers' | 'logger' | 'now'>;

/**
 * A lease's tag is sent right after its answer; one still missing from the
 * cloud's listing after this did not land (the api died first, or the call
 * failed) and the reaper writes it again.
 */
export const LEASE_TAG_GRACE_MS = 10_000;

/**
 * Writes leases onto the instances themselves, so a rebuild after a Redis
 * loss knows a build may be running there and keeps it alive: one call per
 * provider and second of lease. Sent after the leases are answered, never
 * before: a cloud call on the lease path would make every build wait for the
 * cloud's API (tens of milliseconds on EC2, or its outage). A failure is
 * logged, not thrown: the leases themselves are valid, and the reaper
 * repairs a missing tag. Returns how many instances were tagged.
 */
export async function tagLeased(machines: readonly Machine[], deps: LeaseTagDeps): Promise<number> {
  const groups = new Map<string, Machine[]>();
  for (const machine of machines) {
    if (!machine.instanceId) continue;
    // Leases of the same second share a call (a burst answered one by one), tagged with the earliest of them.
    const key = `${splitZoneId(machine.zone).provider}\n${Math.floor((machine.leasedAt ?? deps.now()) / 1_000)}`;
    groups.set(key, [...(groups.get(key) ?? []), machine]);
  }
  const tagged = await Promise.all(
    [...groups.values()].map(async (leased) => {
      const first = leased[0]!;
      const provider = deps.providers.get(splitZoneId(first.zone).provider);
      if (!provider) return 0;
      const earliest = Math.min(...leased.map((m) => m.leasedAt ?? deps.now()));
      const tags = { [TAGS.state]: 'leased', [TAGS.leasedAt]: new Date(earliest).toISOString() };
      return provider.tag(leased.map((m) => m.instanceId!), tags).then(
        () => leased.length,
        (err: unknown) => {
          deps.logger.warn({ machineIds: leased.map((m) => m.id), pool: first.pool, error: describeError(err) }, 'could not tag the leased instances; the reaper tries again');
          return 0;
        },
      );
    }),
  );
  return tagged.reduce((sum, n) => sum + n, 0);
}

/**
 * Leased machines whose instance the cloud lists without its lease tag, once
 * the tag sent with the lease has had time to land. Only instances in a
 * listing count: one the listing missed is the vanished-instance rule's.
 */
export function untaggedLeases(machines: readonly Machine[], inventories: ReadonlyMap<string, Inventory>, now: number): Machine[] {
  return machines.filter((m) => {
    if (m.state !== 'leased' || !m.instanceId || now - (m.leasedAt ?? m.stateSince) < LEASE_TAG_GRACE_MS) return false;
    const instance = inventories.get(splitZoneId(m.zone).provider)?.instances.get(m.instanceId);
    return instance !== undefined && instance.tags[TAGS.state] !== 'leased';
  });
}
