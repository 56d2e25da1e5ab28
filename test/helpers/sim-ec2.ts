import { DescribeInstancesCommand, EC2Client, type Instance, type RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import { createLogger } from '../../src/log.js';
import { startSimCloud, type SimCloud, type SimCloudOptions } from '../../src/sim/sim-cloud.js';
import type { Cleanups } from './sim-vm.js';
import { testConfig } from './test-config.js';
import { waitFor } from './wait-for.js';

export interface TestSim {
  sim: SimCloud;
  /** The real AWS SDK pointed at the sim; one attempt per call, so a 5xx surfaces instead of being retried. */
  ec2: EC2Client;
}

/**
 * Starts a quiet simulated cloud and an EC2 client for it; `cleanups` gets
 * both closes. Strongly consistent unless `options.config` says otherwise:
 * these tests drive the raw API call by call, each about another mechanism
 * (eventual consistency has tests of its own, and every test of vmpool
 * itself runs with the default 0-2s).
 */
export async function startTestSim(cleanups: Cleanups, options: Partial<SimCloudOptions> = {}): Promise<TestSim> {
  const config = testConfig({ sim: { consistency: { delay: '0s' } } });
  const sim = await startSimCloud({ config: config.sim, logger: createLogger({ level: 'silent', pretty: false }), ...options });
  cleanups.push(() => sim.close());
  const ec2 = new EC2Client({ endpoint: sim.endpoint, region: config.sim.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
  cleanups.push(() => ec2.destroy());
  return { sim, ec2 };
}

/** RunInstances of one t3.small into zone-a tagged pool small; `overrides` replace fields. */
export function runInput(overrides: Partial<RunInstancesCommandInput> = {}): RunInstancesCommandInput {
  return {
    ImageId: 'ami-test',
    InstanceType: 't3.small',
    MinCount: 1,
    MaxCount: 1,
    Placement: { AvailabilityZone: 'zone-a' },
    TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'vmpool:pool', Value: 'small' }] }],
    ...overrides,
  };
}

export type SdkError = Error & { $fault?: string; $metadata?: { httpStatusCode?: number } };

/** The error a call rejects with; fails when it resolves. */
export async function thrown(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error('expected the call to fail');
}

export async function describeOne(ec2: EC2Client, instanceId: string): Promise<Instance | undefined> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return out.Reservations?.[0]?.Instances?.[0];
}

/** Waits until the boot is over either way: running, or terminated (with its state reason). */
export function bootOutcome(ec2: EC2Client, instanceId: string): Promise<Instance> {
  return waitFor(async () => {
    const instance = await describeOne(ec2, instanceId);
    return instance?.State?.Name === 'running' || instance?.State?.Name === 'terminated' ? instance : undefined;
  }, { what: `${instanceId} running or terminated` });
}
