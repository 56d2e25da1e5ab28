import { DescribeImagesCommand, DescribeInstanceTypeOfferingsCommand, RunInstancesCommand, type InstanceTypeOffering } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import { runInput, startTestSim, thrown, type TestSim } from '../helpers/sim-ec2.js';
import type { Cleanups } from '../helpers/sim-vm.js';
import { testConfig } from '../helpers/test-config.js';

const cleanups: Cleanups = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A sim whose `sim.*` config has `overrides` merged in; the real SDK, one attempt per call. */
function start(overrides: Record<string, unknown> = {}): Promise<TestSim> {
  return startTestSim(cleanups, { config: testConfig({ sim: overrides }).sim });
}

const where = (offerings: InstanceTypeOffering[] | undefined) => (offerings ?? []).map((o) => `${o.InstanceType}@${o.Location}`).sort();

describe('images in the simulated cloud (sim.images)', () => {
  it('finds a known image by id with DescribeImages, available and owned by the account', async () => {
    const { ec2 } = await start();
    const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-vmpool-small'] }));
    expect(Images).toHaveLength(1);
    expect(Images![0]).toMatchObject({ ImageId: 'ami-vmpool-small', State: 'available', OwnerId: '123456789012', Public: false, ImageType: 'machine' });
  });

  it('answers InvalidAMIID.NotFound (400) to DescribeImages and to RunInstances for an image that does not exist, launching nothing', async () => {
    const { sim, ec2 } = await start();
    const described = await thrown(ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-vmpool-small', 'ami-deregistered'] })));
    expect(described.name).toBe('InvalidAMIID.NotFound');
    expect(described.$metadata?.httpStatusCode).toBe(400);
    expect(described.message).toContain('ami-deregistered');
    const launched = await thrown(ec2.send(new RunInstancesCommand(runInput({ ImageId: 'ami-deregistered' }))));
    expect(launched.name).toBe('InvalidAMIID.NotFound');
    expect(sim.instances()).toHaveLength(0);
  });
});

describe('instance type offerings in the simulated cloud (sim.offerings)', () => {
  it('lists the types each zone offers, by zone, zone id or region, and refuses a launch of a type the zone lacks with Unsupported', async () => {
    const { sim, ec2 } = await start({ offerings: { 'zone-b': ['t3.small'] } });
    const byZone = await ec2.send(new DescribeInstanceTypeOfferingsCommand({ LocationType: 'availability-zone', Filters: [{ Name: 'instance-type', Values: ['m5.xlarge', 't3.small'] }] }));
    expect(where(byZone.InstanceTypeOfferings)).toEqual(['m5.xlarge@zone-a', 'm5.xlarge@zone-c', 't3.small@zone-a', 't3.small@zone-b', 't3.small@zone-c']);
    expect(byZone.InstanceTypeOfferings![0]!.LocationType).toBe('availability-zone');
    const byId = await ec2.send(new DescribeInstanceTypeOfferingsCommand({ LocationType: 'availability-zone-id', Filters: [{ Name: 'instance-type', Values: ['m5.xlarge'] }] }));
    expect(where(byId.InstanceTypeOfferings)).toEqual(['m5.xlarge@sim1-az1', 'm5.xlarge@sim1-az3']);
    const inRegion = await ec2.send(new DescribeInstanceTypeOfferingsCommand({ Filters: [{ Name: 'instance-type', Values: ['m5.*'] }] }));
    expect(where(inRegion.InstanceTypeOfferings)).toEqual(['m5.2xlarge@sim-1', 'm5.large@sim-1', 'm5.xlarge@sim-1']);

    const refused = await thrown(ec2.send(new RunInstancesCommand(runInput({ InstanceType: 'm5.xlarge', Placement: { AvailabilityZone: 'zone-b' } }))));
    expect(refused.name).toBe('Unsupported');
    expect(refused.message).toContain('zone-a, zone-c');
    await ec2.send(new RunInstancesCommand(runInput({ InstanceType: 'm5.xlarge', Placement: { AvailabilityZone: 'zone-a' } })));
    expect(sim.instances().map((i) => i.zone)).toEqual(['zone-a']);
  });

  it('pages the offerings with MaxResults and NextToken, missing and repeating none', async () => {
    const { ec2 } = await start();
    const all = await ec2.send(new DescribeInstanceTypeOfferingsCommand({ LocationType: 'availability-zone' }));
    expect(all.NextToken).toBeUndefined();
    const paged: InstanceTypeOffering[] = [];
    let nextToken: string | undefined;
    do {
      const page = await ec2.send(new DescribeInstanceTypeOfferingsCommand({ LocationType: 'availability-zone', MaxResults: 5, NextToken: nextToken }));
      expect(page.InstanceTypeOfferings!.length).toBeLessThanOrEqual(5);
      paged.push(...page.InstanceTypeOfferings!);
      nextToken = page.NextToken;
    } while (nextToken);
    expect(where(paged)).toEqual(where(all.InstanceTypeOfferings));
    expect(paged.length).toBeGreaterThan(5);
  });

  it('answers an unknown filter or location type with InvalidParameterValue', async () => {
    const { ec2 } = await start();
    expect((await thrown(ec2.send(new DescribeInstanceTypeOfferingsCommand({ Filters: [{ Name: 'vcpus', Values: ['2'] }] })))).name).toBe('InvalidParameterValue');
    expect((await thrown(ec2.send(new DescribeInstanceTypeOfferingsCommand({ LocationType: 'planet' as 'region' })))).name).toBe('InvalidParameterValue');
  });
});
