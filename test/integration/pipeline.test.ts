import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { connectSsh } from '../../src/boot/ssh.js';
import { ownTags, TAGS } from '../../src/providers/provider.js';
import type { Status } from '../../src/status.js';
import { launchMachine } from '../../src/pool/launch.js';
import { createLogger } from '../../src/log.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

let system: TestSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${system!.app.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

const status = async () => (await api<Status>('GET', '/v1/status')).body.pools[0]!;
const running = () => system!.sim.instances().filter((i) => i.state === 'running' || i.state === 'pending');

describe('the pipeline on the simulated cloud', () => {
  it('fills a pool to its warm target, one machine in each of three zones, through the real EC2 SDK', async () => {
    system = await startSystem(onePool({ warm: 3, max: 6 }));
    const pool = await waitFor(async () => ((await status()).machines.ready === 3 ? status() : undefined), { what: '3 ready machines' });
    expect(pool.target).toBe(3);
    expect(Object.fromEntries(Object.entries(pool.zones).map(([zone, c]) => [zone, c.ready]))).toEqual({ 'sim/zone-a': 1, 'sim/zone-b': 1, 'sim/zone-c': 1 });
    const instances = running();
    expect(instances).toHaveLength(3);
    for (const instance of instances) expect(instance.tags).toMatchObject({ [TAGS.managed]: 'true', [TAGS.pool]: 'small' });
    expect(new Set(instances.map((i) => i.zone))).toEqual(new Set(['zone-a', 'zone-b', 'zone-c']));
  });

  it('leases a machine that accepts the pool key over SSH and was prepared; release terminates it and the pool refills', async () => {
    system = await startSystem(onePool({ warm: 2, max: 4 }));
    const lease = await api<{ id: string; address: string; port: number; user: string; hostKeyFingerprint: string; zone: string }>('POST', '/v1/pools/small/leases', { wait: '20s' });
    expect(lease.status).toBe(200);
    const machine = lease.body;
    expect(machine).toMatchObject({ port: system.config.ssh.port, user: 'vmpool' });
    expect(machine.address).toMatch(/^127\./);
    expect(machine.hostKeyFingerprint).toMatch(/^SHA256:/);
    // The answer left the api: the reaper will not take the lease for one that never reached its client.
    await waitFor(async () => (await system!.app.store.get(machine.id))?.leaseAnswer === undefined, { what: 'the lease answer to be recorded' });

    const session = await connectSsh(
      { host: machine.address, port: machine.port, username: machine.user, privateKey: readFileSync(system.config.ssh.privateKeyPath), hostKeyFingerprint: machine.hostKeyFingerprint },
      { timeoutMs: 5_000, loopbackOnly: true },
    );
    const result = await session.exec('cat prepared.txt', { timeoutMs: 5_000 });
    session.close();
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    expect(result.output.trim()).toBe('prepared');

    const release = await api<{ id: string; state: string }>('DELETE', `/v1/leases/${machine.id}`);
    expect(release).toEqual({ status: 200, body: { id: machine.id, state: 'terminating' } });
    const instanceOf = () => system!.sim.instances().find((i) => i.tags[TAGS.machineId] === machine.id);
    await waitFor(() => instanceOf()?.state === 'terminated', { what: 'the released instance to terminate' });
    await waitFor(async () => (await system!.app.store.get(machine.id))?.state === 'terminated', { what: 'the record to close' });
    await waitFor(async () => (await status()).machines.ready === 2, { what: 'the pool to refill' });
    expect((await api('DELETE', `/v1/leases/${machine.id}`)).status).toBe(409);
  });

  it('launches one instance when a launch job is delivered twice (ClientToken = machine id)', async () => {
    system = await startSystem(onePool({ warm: 0, max: 2 }), ['web']);
    const { store, providers } = system.app;
    const now = Date.now;
    await store.create({ id: 'm-twice', pool: 'small', zone: 'sim/zone-b', instanceType: 't3.small', imageId: 'ami-vmpool-small' }, { warm: 1, max: 2 }, now());
    // A crash after RunInstances leaves the machine in `launching`; the redelivered job calls the cloud again.
    await store.transition('m-twice', 'launching', now());
    const deps = { ...system.app, config: system.config, logger: createLogger({ level: 'silent', pretty: false }), now };
    const first = await providers.get('sim')!.launch({ machineId: 'm-twice', pool: 'small', zone: 'zone-b', imageId: 'ami-vmpool-small', instanceType: 't3.small', tags: { ...ownTags(system.config.deployment), [TAGS.pool]: 'small', [TAGS.machineId]: 'm-twice' } });
    await launchMachine('m-twice', deps);
    await launchMachine('m-twice', deps);
    const instances = system.sim.instances().filter((i) => i.tags[TAGS.machineId] === 'm-twice');
    expect(instances.map((i) => i.instanceId)).toEqual([first.instanceId]);
    expect(await store.get('m-twice')).toMatchObject({ state: 'booting', instanceId: first.instanceId });
  });

  it('fails and terminates a machine whose prepare step fails, and launches a replacement', async () => {
    const steps = [{ name: 'broken-step', run: 'echo about to fail; exit 3', timeout: '5s' }];
    system = await startSystem(onePool({ warm: 1, max: 2, prepare: { steps } }));
    const sim = system.sim;
    await waitFor(() => sim.instances().length >= 2, { what: 'a replacement launch' });
    const [first] = [...sim.instances()].sort((a, b) => a.launchedAt - b.launchedAt);
    const firstId = first!.tags[TAGS.machineId]!;
    await waitFor(() => sim.instances().find((i) => i.instanceId === first!.instanceId)?.state === 'terminated', { what: 'the failed instance to terminate' });
    const record = await waitFor(async () => {
      const m = await system!.app.store.get(firstId);
      return m?.state === 'terminated' ? m : undefined;
    }, { what: 'the failed record to close' });
    expect(record.failure).toBe('prepare-failed');
    expect(record.failureDetail).toContain('broken-step');
    expect(record.failureDetail).toContain('exit 3');
    const metrics = await (await fetch(`${system.app.url}/metrics`)).text();
    expect(metrics).toMatch(/vmpool_boot_outcomes_total\{pool="small",zone="sim\/zone-[abc]",outcome="prepare-failed"\} [1-9]/);
  });
});
