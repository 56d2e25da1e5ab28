import { EC2Client } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { Ec2Provider } from '../../src/providers/ec2.js';
import { TAGS, type LaunchRequest } from '../../src/providers/provider.js';
import { startSimCloud, type SimCloud } from '../../src/sim/sim-cloud.js';
import { testConfig } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';

const logger = createLogger({ level: 'silent', pretty: false });
const config = testConfig();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  sim: SimCloud;
  provider: Ec2Provider;
  /** EC2 operations the provider sent, in order (one per SDK call, retries not counted). */
  calls: string[];
}

async function start(options: { pageSize?: number; zones?: ProviderConfig['zones'] } = {}): Promise<Setup> {
  const sim = await startSimCloud({ config: config.sim, logger });
  cleanups.push(() => sim.close());
  const base = config.providers[0]!;
  const providerConfig: ProviderConfig = { ...base, endpoint: sim.endpoint, zones: options.zones ?? base.zones };
  const client = new EC2Client({ endpoint: sim.endpoint, region: base.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const calls: string[] = [];
  client.middlewareStack.add((next, context) => (args) => (calls.push(context.commandName ?? '?'), next(args)), { step: 'initialize' });
  const provider = new Ec2Provider(providerConfig, logger, { client, pageSize: options.pageSize });
  cleanups.push(() => provider.close());
  return { sim, provider, calls };
}

function request(machineId: string, overrides: Partial<LaunchRequest> = {}): LaunchRequest {
  return { machineId, pool: 'small', zone: 'zone-a', imageId: 'ami-test', instanceType: 't3.small', tags: { team: 'ci' }, ...overrides };
}

describe('Ec2Provider against the simulated cloud', () => {
  it('launches with the machine tags at launch and maps the instance', async () => {
    const { provider } = await start();
    const before = Date.now();
    const instance = await provider.launch(request('m-1', { keyName: 'builder' }));
    expect(instance).toMatchObject({ state: 'pending', zone: 'zone-a', instanceType: 't3.small', imageId: 'ami-test' });
    expect(instance.tags).toEqual({ [TAGS.managed]: 'true', [TAGS.pool]: 'small', [TAGS.machineId]: 'm-1', team: 'ci' });
    expect(instance.privateIp).toMatch(/^127\./);
    expect(instance.launchedAt).toBeGreaterThanOrEqual(before - 1000);
  });

  it('returns the same instance when a machine is launched twice', async () => {
    const { provider, sim } = await start();
    const first = await provider.launch(request('m-1'));
    const again = await provider.launch(request('m-1'));
    expect(again.instanceId).toBe(first.instanceId);
    expect(sim.instances()).toHaveLength(1);
  });

  it('launches into the subnet configured for a zone', async () => {
    const { provider, sim } = await start({ zones: [{ name: 'zone-b', subnetId: 'subnet-zone-b' }] });
    const instance = await provider.launch(request('m-1', { zone: 'zone-b' }));
    expect(instance.zone).toBe('zone-b');
    expect(sim.instances()[0]?.zone).toBe('zone-b');
  });

  it('throws EC2 errors as the SDK gives them', async () => {
    const { provider } = await start({ zones: [{ name: 'zone-x', subnetId: null }] });
    await expect(provider.launch(request('m-1', { zone: 'zone-x' }))).rejects.toMatchObject({ name: 'InvalidParameterValue', $fault: 'client' });
  });

  it('describes every page in one batched call per page, leaving unknown ids out', async () => {
    const { provider, calls } = await start({ pageSize: 5 });
    const ids = [];
    for (let n = 0; n < 7; n++) ids.push((await provider.launch(request(`m-${n}`))).instanceId);
    calls.length = 0;
    const found = await provider.describe([...ids, 'i-0123456789abcdef0']);
    expect([...found.keys()].sort()).toEqual([...ids].sort());
    expect(calls).toEqual(['DescribeInstancesCommand', 'DescribeInstancesCommand']);
  });

  it('splits a describe of 250 ids into batches EC2 accepts', async () => {
    const { provider, calls } = await start();
    const ids = Array.from({ length: 250 }, (_, n) => `i-${n.toString(16).padStart(17, '0')}`);
    expect((await provider.describe(ids)).size).toBe(0);
    expect(calls).toEqual(['DescribeInstancesCommand', 'DescribeInstancesCommand']);
  });

  it('terminates known instances and counts unknown ones as gone', async () => {
    const { provider, calls } = await start();
    const a = await provider.launch(request('m-a'));
    const b = await provider.launch(request('m-b'));
    const unknown = 'i-0123456789abcdef0';
    calls.length = 0;
    const confirmed = await provider.terminate([a.instanceId, unknown, b.instanceId]);
    expect([...confirmed].sort()).toEqual([a.instanceId, b.instanceId, unknown].sort());
    // The batch fails as a whole on EC2, then one call per id finds the unknown one.
    expect(calls).toHaveLength(4);
    await waitFor(async () => {
      const found = await provider.describe([a.instanceId, b.instanceId]);
      return [...found.values()].every((i) => i.state === 'terminated');
    }, { what: 'both instances terminated' });
  });

  it('lists live instances by tag across pages and leaves terminated ones out', async () => {
    const { provider } = await start({ pageSize: 5 });
    const small = [];
    for (let n = 0; n < 6; n++) small.push((await provider.launch(request(`s-${n}`))).instanceId);
    await provider.launch(request('l-0', { pool: 'large' }));
    const gone = small.pop()!;
    await provider.terminate([gone]);
    await waitFor(async () => (await provider.describe([gone])).get(gone)?.state === 'terminated', { what: 'instance terminated' });
    const listed = await provider.listByTags({ [TAGS.managed]: 'true', [TAGS.pool]: 'small' });
    expect(listed.map((i) => i.instanceId).sort()).toEqual([...small].sort());
  });

  it('builds its own client from the provider config: endpoint, credentials, region, zones', async () => {
    const { sim } = await start();
    const provider = new Ec2Provider({ ...config.providers[0]!, endpoint: sim.endpoint }, logger);
    cleanups.push(() => provider.close());
    expect(provider.name).toBe('sim');
    expect(provider.zones()).toEqual(['zone-a', 'zone-b', 'zone-c']);
    const instance = await provider.launch(request('m-1', { zone: 'zone-c' }));
    expect((await provider.describe([instance.instanceId])).get(instance.instanceId)?.zone).toBe('zone-c');
  });
});
