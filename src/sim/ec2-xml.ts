import { STATE_CODES, type SimInstance, type SimState, type StateChange } from './ec2-instance.js';
import type { ZoneInfo } from './ec2-rules.js';
import { itemSet, leaf, node } from './ec2-query.js';

/** The account every simulated resource belongs to (AWS's documentation example). */
export const OWNER_ID = '123456789012';

export function stateXml(name: string, state: SimState): string {
  return node(name, leaf('code', STATE_CODES[state]), leaf('name', state));
}

function tagSetXml(tags: ReadonlyMap<string, string>): string {
  return itemSet('tagSet', [...tags].map(([key, value]) => leaf('key', key) + leaf('value', value)));
}

/** One `instancesSet/item`, in the field order EC2 uses. */
export function instanceXml(i: SimInstance): string {
  // Like EC2, a terminated instance no longer holds its private address.
  const ip = i.state === 'terminated' ? undefined : i.privateIp;
  return [
    leaf('instanceId', i.instanceId),
    leaf('imageId', i.imageId),
    stateXml('instanceState', i.state),
    leaf('privateDnsName', ip && `ip-${ip.replaceAll('.', '-')}.${i.zone}.compute.internal`),
    node('dnsName'),
    leaf('reason', i.stateReason?.message ?? ''),
    leaf('keyName', i.keyName),
    leaf('amiLaunchIndex', 0),
    node('productCodes'),
    leaf('instanceType', i.instanceType),
    leaf('launchTime', new Date(i.launchedAt).toISOString()),
    node('placement', leaf('availabilityZone', i.zone), node('groupName'), leaf('tenancy', 'default')),
    node('monitoring', leaf('state', 'disabled')),
    leaf('subnetId', i.subnetId),
    leaf('privateIpAddress', ip),
    node('groupSet'),
    i.stateReason ? node('stateReason', leaf('code', i.stateReason.code), leaf('message', i.stateReason.message)) : '',
    leaf('architecture', 'x86_64'),
    leaf('rootDeviceType', 'ebs'),
    leaf('rootDeviceName', '/dev/xvda'),
    node('blockDeviceMapping'),
    leaf('virtualizationType', 'hvm'),
    leaf('clientToken', i.clientToken ?? ''),
    i.tags.size > 0 ? tagSetXml(i.tags) : '',
    leaf('hypervisor', 'xen'),
  ].join('');
}

/** A reservation header followed by its instances: RunInstances' body, and each DescribeInstances item. */
export function reservationXml(reservationId: string, instances: readonly SimInstance[]): string {
  return leaf('reservationId', reservationId) + leaf('ownerId', OWNER_ID) + node('groupSet') + itemSet('instancesSet', instances.map(instanceXml));
}

/** Groups a page of instances by reservation, keeping the page's order. */
export function reservationSetXml(instances: readonly SimInstance[]): string {
  const groups = new Map<string, SimInstance[]>();
  for (const instance of instances) {
    const group = groups.get(instance.reservationId) ?? [];
    group.push(instance);
    groups.set(instance.reservationId, group);
  }
  return itemSet('reservationSet', [...groups].map(([id, members]) => reservationXml(id, members)));
}

export function stateChangesXml(changes: readonly StateChange[]): string {
  return itemSet(
    'instancesSet',
    changes.map((c) => leaf('instanceId', c.instanceId) + stateXml('currentState', c.current) + stateXml('previousState', c.previous)),
  );
}

export function zonesXml(zones: readonly ZoneInfo[]): string {
  return itemSet(
    'availabilityZoneInfo',
    zones.map((z) =>
      [
        leaf('zoneName', z.zoneName),
        leaf('zoneState', z.state),
        leaf('regionName', z.regionName),
        node('messageSet'),
        leaf('optInStatus', 'opt-in-not-required'),
        leaf('groupName', z.regionName),
        leaf('networkBorderGroup', z.regionName),
        leaf('zoneId', z.zoneId),
        leaf('zoneType', 'availability-zone'),
      ].join(''),
    ),
  );
}
