import { EC2Client } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { Ec2Provider } from '../../src/providers/ec2.js';
import { TAGS, type LaunchRequest } from '../../src/providers/provider.js';
import { startSimCloud, type SimCloud, type SimCloudOptions } from '../../src/sim/sim-cloud.js';
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

/**
 * Strongly consistent and unthrottled unless a test says otherwise: these
 * tests are about the calls this provider makes, not the cloud's delays or
 * buckets (a test launching seven instances in a row would otherwise meet
 * RunInstances' bucket of 5, and this bare provider has no rate budget).
 */
async function start(options: { pageSize?: number; zones?: ProviderConfig['zones']; sim?: Partial<SimCloudOptions> } = {}): Promise<Setup> {
  const sim = await startSimCloud({ config: { ...config.sim, consistency: { delay: { minMs: 0, maxMs: 0 } }, throttling: { ...config.sim.throttling, enabled: false } }, logger, ...options.sim });
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

/** TerminateInstances requests the simulated cloud received, whatever their answer. */
function terminateCalls(sim: SimCloud): number {
  return sim.requests().TerminateInstances ?? 0;
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

  it('terminates the known instances of a batch with unknown ids in one more call, and reports the unknown ones as not found', async () => {
    const { provider, sim } = await start();
    const known: string[] = [];
    for (let n = 0; n < 3; n++) known.push((await provider.launch(request(`m-${n}`))).instanceId);
    const unknown = ['i-0123456789abcdef0', 'i-0fedcba9876543210'];
    const before = terminateCalls(sim);
    const answer = await provider.terminate([known[0]!, unknown[0]!, known[1]!, unknown[1]!, known[2]!]);
    expect([...answer.confirmed].sort()).toEqual([...known].sort());
    expect([...answer.notFound].sort()).toEqual([...unknown].sort());
    // EC2 fails the whole batch, naming both unknown ids: the known ones go again together, not one by one.
    expect(terminateCalls(sim) - before).toBe(2);
    await waitFor(async () => [...(await provider.describe(known)).values()].every((i) => i.state === 'terminated'), { what: 'the known instances terminated' });
  });

  it('reports a new instance the eventually consistent cloud does not know yet as not found, and confirms it once the cloud does', async () => {
    const clock = { offset: 0 };
    const { provider } = await start({ sim: { config: { ...config.sim, consistency: { delay: { minMs: 60_000, maxMs: 60_000 } } }, now: () => Date.now() + clock.offset } });
    const instance = await provider.launch(request('m-1'));
    expect(await provider.terminate([instance.instanceId])).toEqual({ confirmed: new Set(), notFound: new Set([instance.instanceId]) });
    clock.offset += 60_000;
    expect(await provider.terminate([instance.instanceId])).toEqual({ confirmed: new Set([instance.instanceId]), notFound: new Set() });
  });

  it('looks up many machines by their tags in one call, and splits a longer list into calls EC2 accepts', async () => {
    const { provider, calls } = await start();
    const ids = [];
    for (let n = 0; n < 3; n++) ids.push((await provider.launch(request(`m-${n}`))).instanceId);
    calls.length = 0;
    const found = await provider.listByTags({ [TAGS.machineId]: ['m-0', 'm-2', 'm-unknown'] });
    expect(found.map((i) => i.tags[TAGS.machineId]).sort()).toEqual(['m-0', 'm-2']);
    expect(calls).toEqual(['DescribeInstancesCommand']);
    calls.length = 0;
    const many = ['m-1', ...Array.from({ length: 300 }, (_, n) => `m-none-${n}`)];
    expect((await provider.listByTags({ [TAGS.managed]: 'true', [TAGS.machineId]: many })).map((i) => i.instanceId)).toEqual([ids[1]]);
    expect(calls).toEqual(['DescribeInstancesCommand', 'DescribeInstancesCommand']);
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
