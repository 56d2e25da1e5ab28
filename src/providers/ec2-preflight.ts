import {
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import type { PreflightCheck, PreflightPool } from './preflight-check.js';
import { TAGS } from './provider.js';

export interface Ec2PreflightTarget {
  client: EC2Client;
  /** Each zone's subnet, or null to name the zone in Placement: as launches go. */
  subnets: ReadonlyMap<string, string | null>;
}

/**
 * A well-formed id no instance has. EC2 judges CreateTags and
 * TerminateInstances permissions against the instance named (vmpool's IAM
 * policy allows them only on instances tagged `vmpool:managed`), so an
 * instance of the pool's own is named when one runs; this one otherwise.
 */
const NO_INSTANCE = 'i-00000000000000000';

/** The SDK's per-call options: the caller's signal abandons the call. */
type SendOptions = { abortSignal?: AbortSignal };

/**
 * EC2's answer to "would vmpool's calls for this pool work?", changing
 * nothing: the image exists (DescribeImages), each instance type is offered
 * in each zone (DescribeInstanceTypeOfferings), and RunInstances with the
 * pool's parameters, CreateTags and TerminateInstances are allowed (`DryRun`:
 * `DryRunOperation` means allowed). Calls go one at a time: they share the
 * account's rate budget with launches.
 */
export async function ec2Preflight({ client, subnets }: Ec2PreflightTarget, pool: PreflightPool, signal?: AbortSignal): Promise<PreflightCheck[]> {
  const options: SendOptions = signal ? { abortSignal: signal } : {};
  const checks: PreflightCheck[] = [await imageCheck(client, options, pool.imageId)];
  const offered = await offeringsByZone(client, options, pool);
  for (const zone of pool.zones) {
    for (const instanceType of pool.instanceTypes) {
      checks.push(offeringCheck(offered, zone, instanceType));
      const input = runInput(pool, zone, instanceType, subnets.get(zone) ?? null);
      checks.push({ zone, check: `RunInstances ${instanceType} (DryRun)`, ...(await dryRun(() => client.send(new RunInstancesCommand(input), options))) });
    }
  }
  const own = await ownInstance(client, options, pool.tags).catch(() => undefined);
  const instanceId = own ?? NO_INSTANCE;
  const unverifiable = own ? undefined : 'not verified: EC2 judges this permission on an existing instance, and none of this pool runs yet';
  const tags = [{ Key: TAGS.state, Value: 'leased' }];
  checks.push({ check: 'CreateTags (DryRun)', ...(await dryRun(() => client.send(new CreateTagsCommand({ Resources: [instanceId], Tags: tags, DryRun: true }), options), unverifiable)) });
  checks.push({ check: 'TerminateInstances (DryRun)', ...(await dryRun(() => client.send(new TerminateInstancesCommand({ InstanceIds: [instanceId], DryRun: true }), options), unverifiable)) });
  return checks;
}

async function imageCheck(client: EC2Client, options: SendOptions, imageId: string): Promise<PreflightCheck> {
  const check = `image ${imageId}`;
  try {
    const { Images = [] } = await client.send(new DescribeImagesCommand({ ImageIds: [imageId] }), options);
    const image = Images.find((i) => i.ImageId === imageId);
    if (!image) return { check, ok: false, detail: 'not found: no such image in this region, or not shared with this account' };
    if (image.State && image.State !== 'available') return { check, ok: false, detail: `the image is ${image.State}, not available` };
    return { check, ok: true };
  } catch (err) {
    return { check, ok: false, detail: inWords(err) };
  }
}

/** Zone -> instance types it offers, of the pool's; or why the cloud would not say. */
async function offeringsByZone(client: EC2Client, options: SendOptions, pool: PreflightPool): Promise<Map<string, Set<string>> | string> {
  const offered = new Map<string, Set<string>>();
  let nextToken: string | undefined;
  try {
    do {
      const page = await client.send(
        new DescribeInstanceTypeOfferingsCommand({
          LocationType: 'availability-zone',
          Filters: [
            { Name: 'instance-type', Values: [...pool.instanceTypes] },
            { Name: 'location', Values: [...pool.zones] },
          ],
          NextToken: nextToken,
        }),
        options,
      );
      for (const o of page.InstanceTypeOfferings ?? []) {
        if (o.Location && o.InstanceType) offered.set(o.Location, (offered.get(o.Location) ?? new Set()).add(o.InstanceType));
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);
  } catch (err) {
    return inWords(err);
  }
  return offered;
}

function offeringCheck(offered: Map<string, Set<string>> | string, zone: string, instanceType: string): PreflightCheck {
  const check = `${instanceType} offered`;
  if (typeof offered === 'string') return { zone, check, ok: false, detail: offered };
  if (offered.get(zone)?.has(instanceType)) return { zone, check, ok: true };
  return { zone, check, ok: false, detail: `the zone does not offer ${instanceType}: remove it from the pool's instanceTypes or the zone from its zones` };
}

function runInput(pool: PreflightPool, zone: string, instanceType: string, subnetId: string | null): RunInstancesCommandInput {
  const tags = { [TAGS.managed]: 'true', [TAGS.pool]: pool.name, ...pool.tags };
  return {
    DryRun: true,
    ImageId: pool.imageId,
    InstanceType: instanceType as RunInstancesCommandInput['InstanceType'],
    MinCount: 1,
    MaxCount: 1,
    TagSpecifications: [{ ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }],
    ...(subnetId ? { SubnetId: subnetId } : { Placement: { AvailabilityZone: zone } }),
    ...(pool.keyName ? { KeyName: pool.keyName } : {}),
  };
}

/** One live instance of the pool (its own tags), to judge instance permissions on; undefined when none runs. */
async function ownInstance(client: EC2Client, options: SendOptions, tags: Readonly<Record<string, string>>): Promise<string | undefined> {
  const filters = Object.entries(tags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] }));
  const page = await client.send(new DescribeInstancesCommand({ Filters: [...filters, { Name: 'instance-state-name', Values: ['pending', 'running'] }], MaxResults: 5 }), options);
  return page.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId)?.InstanceId;
}

/**
 * Sends a DryRun request: `DryRunOperation` is EC2's "allowed". An unknown
 * instance answered to the stand-in id means the permission could not be
 * judged (`unverifiable` says so); anything else is the failure.
 */
async function dryRun(call: () => Promise<unknown>, unverifiable?: string): Promise<Pick<PreflightCheck, 'ok' | 'detail'>> {
  try {
    await call();
    return { ok: false, detail: 'the cloud carried the call out instead of answering DryRunOperation: it ignores DryRun' };
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'DryRunOperation') return { ok: true };
    if (unverifiable && name === 'InvalidInstanceID.NotFound') return { ok: true, detail: unverifiable };
    return { ok: false, detail: inWords(err) };
  }
}

/**
 * The error's code and message. EC2 appends an encoded authorization
 * message to UnauthorizedOperation: long, and readable only through STS.
 */
function inWords(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const message = err.message.replace(/\s*Encoded authorization failure message:.*$/s, ' (aws sts decode-authorization-message shows why)');
  return err.name && err.name !== 'Error' ? `${err.name}: ${message}` : message;
}
