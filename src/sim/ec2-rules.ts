import { Ec2Error, invalidValue } from './ec2-error.js';

/** RunInstances as the model sees it, decoded from the query parameters. */
export interface RunRequest {
  imageId: string;
  instanceType: string;
  minCount: number;
  maxCount: number;
  availabilityZone?: string | undefined;
  /** `subnet-<zone>` in the simulated cloud: one subnet per zone. */
  subnetId?: string | undefined;
  keyName?: string | undefined;
  clientToken?: string | undefined;
  tags: ReadonlyArray<readonly [string, string]>;
}

export interface ZoneInfo {
  zoneName: string;
  zoneId: string;
  regionName: string;
  state: 'available';
}

export function zoneInfo(region: string, zones: readonly string[]): ZoneInfo[] {
  const prefix = region.replace(/[^a-z0-9]/gi, '');
  return zones.map((zoneName, i) => ({ zoneName, zoneId: `${prefix}-az${i + 1}`, regionName: region, state: 'available' }));
}

/**
 * Validates what RunInstances can check without state and decides the zone:
 * the subnet's zone, the named zone, or (like a default VPC) any zone.
 */
export function placementFor(request: RunRequest, zones: readonly string[], random: () => number): { zone: string; subnetId: string | undefined } {
  const { minCount, maxCount, clientToken } = request;
  if (!Number.isInteger(minCount) || !Number.isInteger(maxCount) || minCount < 1 || maxCount < minCount) {
    throw invalidValue(`Invalid MinCount/MaxCount: MinCount (${minCount}) must be at least 1 and at most MaxCount (${maxCount})`);
  }
  if (clientToken !== undefined && (clientToken.length > 64 || !/^[\x20-\x7e]+$/.test(clientToken))) {
    throw invalidValue('The client token must be 1 to 64 printable ASCII characters');
  }
  // Image ids are the usual fatal misconfiguration: refuse anything not shaped like one, as EC2 does.
  if (!/^ami-[a-z0-9-]+$/.test(request.imageId)) throw new Ec2Error('InvalidAMIID.Malformed', `Invalid id: "${request.imageId}" (expecting "ami-...")`);
  const named = request.availabilityZone;
  if (named !== undefined && !zones.includes(named)) throw invalidValue(`Invalid availability zone: [${named}]`);
  if (request.subnetId === undefined) {
    return { zone: named ?? zones[Math.floor(random() * zones.length)]!, subnetId: undefined };
  }
  const zone = request.subnetId.startsWith('subnet-') ? request.subnetId.slice('subnet-'.length) : '';
  if (!zones.includes(zone)) {
    throw new Ec2Error('InvalidSubnetID.NotFound', `The subnet ID '${request.subnetId}' does not exist`);
  }
  if (named !== undefined && named !== zone) {
    throw invalidValue(`Value (${named}) for parameter availabilityZone is invalid. Subnet '${request.subnetId}' is in the availability zone ${zone}`);
  }
  return { zone, subnetId: request.subnetId };
}

/** What a repeated client token must match: every parameter the caller sent, tag order aside. */
export function runFingerprint(request: RunRequest): string {
  const tags = [...request.tags].map(([k, v]) => `${k}=${v}`).sort();
  const { imageId, instanceType, minCount, maxCount, availabilityZone, subnetId, keyName } = request;
  return JSON.stringify([imageId, instanceType, minCount, maxCount, availabilityZone, subnetId, keyName, tags]);
}

/**
 * A loopback address nobody in this cloud holds: 127.a.b.c with a >= 1, so
 * it never collides with 127.0.0.1 and friends that real services use.
 */
export function assignAddress(inUse: Set<string>, random: () => number): string {
  const pick = (from: number, to: number) => from + Math.floor(random() * (to - from + 1));
  for (;;) {
    const address = `127.${pick(1, 254)}.${pick(0, 255)}.${pick(1, 254)}`;
    if (inUse.has(address)) continue;
    inUse.add(address);
    return address;
  }
}

/** DescribeInstances' paging rules: MaxResults from 5 to 1000, and never together with InstanceIds. */
export function checkPaging(instanceIds: readonly string[], maxResults: number | undefined): void {
  if (maxResults === undefined) return;
  if (instanceIds.length > 0) {
    throw new Ec2Error('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults');
  }
  if (maxResults < 5 || maxResults > 1000) {
    throw invalidValue(`Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`);
  }
}

// Tokens point after an instance in launch order, so instances appearing or
// vanishing between pages never shift or repeat the rest of the listing.
export function encodePageToken(afterSeq: number): string {
  return Buffer.from(JSON.stringify({ after: afterSeq })).toString('base64url');
}

export function decodePageToken(token: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'number' && Number.isInteger(parsed.after) && parsed.after >= 0) return parsed.after;
  } catch {
    // fall through to EC2's answer for a token it did not issue
  }
  throw new Ec2Error('InvalidPaginationToken', 'The pagination token is invalid or has expired');
}
