import { CreateTagsCommand, DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import type { SimCloudOptions } from '../../src/sim/sim-cloud.js';
import { runInput, startTestSim, thrown, type TestSim } from '../helpers/sim-ec2.js';
import type { Cleanups } from '../helpers/sim-vm.js';
import { testConfig } from '../helpers/test-config.js';

const cleanups: Cleanups = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A strongly consistent sim whose `sim.*` config has `overrides` merged in; the client makes one attempt per call. */
function start(overrides: Record<string, unknown> = {}, options: Partial<SimCloudOptions> = {}): Promise<TestSim> {
  return startTestSim(cleanups, { config: testConfig({ sim: { consistency: { delay: '0s' }, ...overrides } }).sim, ...options });
}

function secondClient(endpoint: string): EC2Client {
  const ec2 = new EC2Client({ endpoint, region: 'sim-1', credentials: { accessKeyId: 'other', secretAccessKey: 'other' }, maxAttempts: 1 });
  cleanups.push(() => ec2.destroy());
  return ec2;
}

async function callSim(endpoint: string, method: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(new URL(path, endpoint), { method });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function launchedId(ec2: EC2Client): Promise<string> {
  return (await ec2.send(new RunInstancesCommand(runInput()))).Instances![0]!.InstanceId!;
}

describe('EC2 request throttling in the simulated cloud', () => {
  it('answers RequestLimitExceeded (HTTP 503, a throttling error) once the RunInstances bucket is empty, for every caller of the region alike', async () => {
    const { sim, ec2 } = await start({ throttling: { enabled: true, actions: { RunInstances: { request: { size: 2, refill: 0 } } } } });
    const other = secondClient(sim.endpoint);
    await ec2.send(new RunInstancesCommand(runInput()));
    await other.send(new RunInstancesCommand(runInput()));
    const err = await thrown(other.send(new RunInstancesCommand(runInput())));
    expect(err.name).toBe('RequestLimitExceeded');
    expect(err.$metadata?.httpStatusCode).toBe(503);
    expect((await thrown(ec2.send(new RunInstancesCommand(runInput())))).name).toBe('RequestLimitExceeded');
    expect(sim.instances()).toHaveLength(2);
    // Another action has its own bucket.
    await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['pending'] }] }));
  });

  it('charges RunInstances one resource token per instance: a launch of more than the bucket holds is refused', async () => {
    const { sim, ec2 } = await start({ throttling: { enabled: true, actions: { RunInstances: { resource: { size: 3, refill: 0 } } } } });
    await ec2.send(new RunInstancesCommand(runInput({ MinCount: 2, MaxCount: 2 })));
    expect((await thrown(ec2.send(new RunInstancesCommand(runInput({ MinCount: 2, MaxCount: 2 }))))).name).toBe('RequestLimitExceeded');
    await ec2.send(new RunInstancesCommand(runInput()));
    expect(sim.instances()).toHaveLength(3);
  });

  it('never throttles with throttling off (the default outside tests)', async () => {
    const { sim, ec2 } = await start({ throttling: { enabled: false } });
    for (let i = 0; i < 8; i++) await ec2.send(new RunInstancesCommand(runInput()));
    expect(sim.instances()).toHaveLength(8);
    expect(sim.api.report().throttling).toBe(false);
  });
});

describe('IAM refusals and DryRun in the simulated cloud', () => {
  it('refuses a denied action with UnauthorizedOperation (HTTP 403) until the fault API allows it again', async () => {
    const { sim, ec2 } = await start();
    expect((await callSim(sim.endpoint, 'PUT', '/v1/sim/api/denied/RunInstances')).body.denied).toEqual(['RunInstances']);
    const err = await thrown(ec2.send(new RunInstancesCommand(runInput())));
    expect(err.name).toBe('UnauthorizedOperation');
    expect(err.$metadata?.httpStatusCode).toBe(403);
    expect(sim.instances()).toEqual([]);
    await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['pending'] }] }));
    await callSim(sim.endpoint, 'DELETE', '/v1/sim/api/denied/RunInstances');
    await ec2.send(new RunInstancesCommand(runInput()));
    expect(sim.instances()).toHaveLength(1);
  });

  it('refuses to deny an action it does not answer, naming the ones it does', async () => {
    const { sim } = await start();
    const answer = await callSim(sim.endpoint, 'PUT', '/v1/sim/api/denied/RunInstance');
    expect(answer.status).toBe(404);
    expect(answer.body.message).toContain('RunInstances');
  });

  it('answers DryRun with DryRunOperation (HTTP 412) for RunInstances, CreateTags, TerminateInstances and DescribeInstances, changing nothing', async () => {
    const { sim, ec2 } = await start();
    const id = await launchedId(ec2);
    const calls = {
      RunInstances: () => ec2.send(new RunInstancesCommand(runInput({ DryRun: true }))),
      CreateTags: () => ec2.send(new CreateTagsCommand({ DryRun: true, Resources: [id], Tags: [{ Key: 'team', Value: 'ci' }] })),
      TerminateInstances: () => ec2.send(new TerminateInstancesCommand({ DryRun: true, InstanceIds: [id] })),
      DescribeInstances: () => ec2.send(new DescribeInstancesCommand({ DryRun: true })),
    };
    for (const [action, call] of Object.entries(calls)) {
      const err = await thrown(call());
      expect([action, err.name, err.$metadata?.httpStatusCode]).toEqual([action, 'DryRunOperation', 412]);
    }
    // One instance (no DryRun launch), not shutting down, untagged; it may have booted meanwhile.
    expect(sim.instances().map((i) => [i.instanceId, i.state === 'pending' || i.state === 'running', i.tags.team])).toEqual([[id, true, undefined]]);
  });

  it('answers DryRun of a denied action with UnauthorizedOperation', async () => {
    const { sim, ec2 } = await start();
    sim.api.deny('TerminateInstances');
    const id = await launchedId(ec2);
    expect((await thrown(ec2.send(new TerminateInstancesCommand({ DryRun: true, InstanceIds: [id] })))).name).toBe('UnauthorizedOperation');
  });

  it('reports each action at GET /v1/sim/api: calls, throttled, denied and DryRun answers, bucket levels', async () => {
    const { sim, ec2 } = await start({ throttling: { enabled: true, actions: { RunInstances: { request: { size: 1, refill: 0 } } } } });
    await ec2.send(new RunInstancesCommand(runInput()));
    await thrown(ec2.send(new RunInstancesCommand(runInput())));
    await thrown(ec2.send(new DescribeInstancesCommand({ DryRun: true })));
    const { body } = await callSim(sim.endpoint, 'GET', '/v1/sim/api');
    expect(body).toMatchObject({
      throttling: true,
      denied: [],
      actions: [
        { action: 'DescribeInstances', calls: 1, throttled: 0, denied: 0, dryRuns: 1, buckets: { unfiltered: { size: 50, refill: 10 } } },
        { action: 'RunInstances', calls: 2, throttled: 1, denied: 0, dryRuns: 0, buckets: { request: { size: 1, refill: 0, level: 0 }, resource: { size: 1000, refill: 2 } } },
      ],
    });
  });
});

describe('eventual consistency in the simulated cloud', () => {
  it('keeps a new instance out of DescribeInstances and answers NotFound to TerminateInstances and CreateTags until its delay has passed', async () => {
    const clock = { offset: 0 };
    const { sim, ec2 } = await start({ consistency: { delay: '1m' } }, { now: () => Date.now() + clock.offset });
    const id = await launchedId(ec2);
    const listed = async () => (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: [id] }] }))).Reservations?.flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId);
    expect(await listed()).toEqual([]);
    const byId = await thrown(ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })));
    expect(byId.name).toBe('InvalidInstanceID.NotFound');
    expect((await thrown(ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })))).name).toBe('InvalidInstanceID.NotFound');
    expect((await thrown(ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'team', Value: 'ci' }] })))).name).toBe('InvalidInstanceID.NotFound');
    // The instance exists all the same: the cloud's own view holds it, not terminated.
    expect(sim.instances().map((i) => [i.instanceId, i.state === 'terminated'])).toEqual([[id, false]]);
    clock.offset += 60_000;
    expect(await listed()).toEqual([id]);
    const out = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(out.TerminatingInstances?.[0]?.CurrentState?.Name).toBe('shutting-down');
  });

  it('is strongly consistent with a delay of 0s', async () => {
    const { ec2 } = await start({ consistency: { delay: '0s' } });
    const id = await launchedId(ec2);
    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'team', Value: 'ci' }] }));
    expect((await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.Tags).toContainEqual({ Key: 'team', Value: 'ci' });
  });
});
