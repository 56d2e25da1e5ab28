import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { CreateTagsCommand, DescribeAvailabilityZonesCommand, DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/boot/host-key.js';
import { createLogger } from '../../src/log.js';
import { startSimCloud, type SimCloud, type SimCloudOptions } from '../../src/sim/sim-cloud.js';
import { bootOutcome, describeOne, runInput, startTestSim, thrown } from '../helpers/sim-ec2.js';
import { testConfig, testKeyPath } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';

const logger = createLogger({ level: 'silent', pretty: false });
const config = testConfig();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const start = (options: Partial<SimCloudOptions> = {}): Promise<{ sim: SimCloud; ec2: EC2Client }> => startTestSim(cleanups, options);

async function waitRunning(ec2: EC2Client, instanceId: string) {
  const booted = await bootOutcome(ec2, instanceId);
  // A failed boot ends in terminated: say why at once instead of waiting out the deadline.
  expect(booted.State?.Name, booted.StateReason?.Message).toBe('running');
  return booted;
}

/** Logs in with the test key; resolves with the host key fingerprint the server presented. */
function sshHostKey(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let seen = '';
    cleanups.push(() => void client.end());
    client.once('ready', () => (client.end(), resolve(seen))).once('error', reject);
    client.connect({ host, port, username: 'vmpool', privateKey: readFileSync(testKeyPath()), readyTimeout: 10_000, hostVerifier: (key: Buffer) => ((seen = fingerprint(key)), true) });
  });
}

/** True when nothing listens at host:port any more. */
function refused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
}

describe('simulated EC2 cloud through the AWS SDK', () => {
  it('lists the configured zones as available zones of its region', async () => {
    const { ec2 } = await start();
    const out = await ec2.send(new DescribeAvailabilityZonesCommand({}));
    expect(out.AvailabilityZones?.map((z) => [z.ZoneName, z.State, z.RegionName])).toEqual([
      ['zone-a', 'available', 'sim-1'],
      ['zone-b', 'available', 'sim-1'],
      ['zone-c', 'available', 'sim-1'],
    ]);
  });

  it('launches a pending instance carrying its tags, zone, loopback address and launch time', async () => {
    const { ec2 } = await start();
    const before = Date.now();
    const out = await ec2.send(new RunInstancesCommand(runInput({ KeyName: 'builder' })));
    const instance = out.Instances?.[0];
    expect(out.ReservationId).toMatch(/^r-/);
    expect(instance?.State?.Name).toBe('pending');
    expect(instance?.Placement?.AvailabilityZone).toBe('zone-a');
    expect(instance?.Tags).toEqual([{ Key: 'vmpool:pool', Value: 'small' }]);
    expect(instance?.PrivateIpAddress).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect(instance?.LaunchTime?.getTime()).toBeGreaterThanOrEqual(before - 1000);
  });

  it('launches one instance for a client token sent twice, and refuses the token with other parameters', async () => {
    const { ec2, sim } = await start();
    const first = await ec2.send(new RunInstancesCommand(runInput({ ClientToken: 'machine-1' })));
    const again = await ec2.send(new RunInstancesCommand(runInput({ ClientToken: 'machine-1' })));
    expect(again.Instances?.[0]?.InstanceId).toBe(first.Instances?.[0]?.InstanceId);
    expect(sim.instances()).toHaveLength(1);
    const err = await thrown(ec2.send(new RunInstancesCommand(runInput({ ClientToken: 'machine-1', ImageId: 'ami-other' }))));
    expect(err.name).toBe('IdempotentParameterMismatch');
  });

  it('answers an unknown instance id with InvalidInstanceID.NotFound as a 400 client fault', async () => {
    const { ec2 } = await start();
    const err = await thrown(ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })));
    expect(err.name).toBe('InvalidInstanceID.NotFound');
    expect(err.message).toContain('i-0123456789abcdef0');
    expect(err.$fault).toBe('client');
    expect(err.$metadata?.httpStatusCode).toBe(400);
  });

  it('rejects an unknown subnet and an unknown zone with EC2 error names', async () => {
    const { ec2 } = await start();
    const noSubnet = await thrown(ec2.send(new RunInstancesCommand(runInput({ Placement: undefined, SubnetId: 'subnet-nowhere' }))));
    expect(noSubnet.name).toBe('InvalidSubnetID.NotFound');
    const noZone = await thrown(ec2.send(new RunInstancesCommand(runInput({ Placement: { AvailabilityZone: 'zone-x' } }))));
    expect(noZone.name).toBe('InvalidParameterValue');
  });

  it('filters on tags and pages 7 instances as 5 and 2', async () => {
    const { ec2 } = await start();
    await ec2.send(new RunInstancesCommand(runInput({ MinCount: 7, MaxCount: 7 })));
    await ec2.send(new RunInstancesCommand(runInput({ TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'vmpool:pool', Value: 'large' }] }] })));
    const Filters = [{ Name: 'tag:vmpool:pool', Values: ['small'] }, { Name: 'instance-state-name', Values: ['pending', 'running'] }];
    const first = await ec2.send(new DescribeInstancesCommand({ Filters, MaxResults: 5 }));
    const second = await ec2.send(new DescribeInstancesCommand({ Filters, MaxResults: 5, NextToken: first.NextToken }));
    const count = (page: typeof first) => page.Reservations?.flatMap((r) => r.Instances ?? []).length;
    expect([count(first), count(second)]).toEqual([5, 2]);
    expect(first.NextToken).toBeTruthy();
    expect(second.NextToken).toBeUndefined();
  });

  it('boots an instance to running, publishes its host key tag and answers SSH at its address', async () => {
    const { ec2 } = await start();
    const id = (await ec2.send(new RunInstancesCommand(runInput()))).Instances![0]!.InstanceId!;
    const running = await waitRunning(ec2, id);
    const hostKeyTag = running.Tags?.find((t) => t.Key === 'vmpool:host-key')?.Value;
    expect(hostKeyTag).toMatch(/^SHA256:/);
    expect(await sshHostKey(running.PrivateIpAddress!, config.sim.sshPort)).toBe(hostKeyTag);
  });

  it('terminates through shutting-down to terminated and removes the VM and its scratch directory', async () => {
    const { ec2, sim } = await start();
    const launched = (await ec2.send(new RunInstancesCommand(runInput()))).Instances![0]!;
    const id = launched.InstanceId!;
    await waitRunning(ec2, id);
    expect(existsSync(join(sim.rootDir, id))).toBe(true);
    const out = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(out.TerminatingInstances?.[0]).toMatchObject({ InstanceId: id, PreviousState: { Name: 'running', Code: 16 }, CurrentState: { Name: 'shutting-down', Code: 32 } });
    await waitFor(async () => (await describeOne(ec2, id))?.State?.Name === 'terminated', { what: 'instance terminated' });
    expect(existsSync(join(sim.rootDir, id))).toBe(false);
    expect(await refused(launched.PrivateIpAddress!, config.sim.sshPort)).toBe(true);
    const again = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(again.TerminatingInstances?.[0]?.CurrentState?.Name).toBe('terminated');
  });

  it('adds tags with CreateTags', async () => {
    const { ec2 } = await start();
    const id = (await ec2.send(new RunInstancesCommand(runInput()))).Instances![0]!.InstanceId!;
    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'team', Value: 'ci' }] }));
    expect((await describeOne(ec2, id))?.Tags).toContainEqual({ Key: 'team', Value: 'ci' });
  });

  it('counts the EC2 requests it answered by action, refused ones included, at GET /v1/sim/requests', async () => {
    const { sim, ec2 } = await start();
    sim.faults.set('zone-b', { capacityError: 1 });
    await ec2.send(new RunInstancesCommand(runInput()));
    await thrown(ec2.send(new RunInstancesCommand(runInput({ Placement: { AvailabilityZone: 'zone-b' } }))));
    await ec2.send(new DescribeInstancesCommand({}));
    const res = await fetch(`${sim.endpoint}/v1/sim/requests`);
    expect(await res.json()).toEqual({ requests: { RunInstances: 2, DescribeInstances: 1 } });
    expect(sim.requests()).toEqual({ RunInstances: 2, DescribeInstances: 1 });
  });

  it('answers an action it does not speak with InvalidAction', async () => {
    const { sim } = await start();
    const res = await fetch(sim.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=StopInstances&Version=2016-11-15' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>InvalidAction</Code>');
  });

  it('moves an instance to another address when its own is taken on the host', async () => {
    await holdAddress('127.128.128.128', config.sim.sshPort);
    const draws = [0.5, 0.5, 0.5];
    const { ec2 } = await start({ random: () => draws.shift() ?? Math.random() });
    const launched = (await ec2.send(new RunInstancesCommand(runInput()))).Instances![0]!;
    expect(launched.PrivateIpAddress).toBe('127.128.128.128');
    const running = await waitRunning(ec2, launched.InstanceId!);
    expect(running.PrivateIpAddress).not.toBe('127.128.128.128');
    expect(await sshHostKey(running.PrivateIpAddress!, config.sim.sshPort)).toMatch(/^SHA256:/);
  });

  it('refuses to listen on a non-loopback host', async () => {
    const attempt = startSimCloud({ config: { ...config.sim, host: '0.0.0.0' }, logger });
    attempt.then((sim) => cleanups.push(() => sim.close()), () => undefined);
    await expect(attempt).rejects.toThrow(/loopback only/);
  });

  it('closes its API, every VM and its root folder on close()', async () => {
    const { sim, ec2 } = await start();
    const id = (await ec2.send(new RunInstancesCommand(runInput()))).Instances![0]!.InstanceId!;
    const running = await waitRunning(ec2, id);
    await sim.close();
    const port = Number(new URL(sim.endpoint).port);
    expect(await refused('127.0.0.1', port)).toBe(true);
    expect(await refused(running.PrivateIpAddress!, config.sim.sshPort)).toBe(true);
    expect(existsSync(sim.rootDir)).toBe(false);
  });
});

function holdAddress(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, host, () => {
      cleanups.push(() => new Promise<void>((done) => server.close(() => done())));
      resolve(server);
    });
  });
}
