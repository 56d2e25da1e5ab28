import { readStatus, summarizePool } from '../../src/status.js';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import { BootTimes, slowBootSettings } from '../../src/boot/boot-times.js';
import { connectSsh } from '../../src/boot/ssh.js';
import { createLogger } from '../../src/log.js';
import type { Machine } from '../../src/machines/machine.js';
import { TAGS, type Provider } from '../../src/providers/provider.js';
import { lastReaperRun, overdueLeases, reapOnce, type ReaperDeps } from '../../src/pool/reaper.js';
import { BOOT_MARGIN_MS, LEASE_ANSWER_GRACE_MS } from '../../src/pool/reaper-rules.js';
import { LEASE_TAG_GRACE_MS } from '../../src/pool/lease-tags.js';
import type { Role } from '../../src/app.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { runInput } from '../helpers/sim-ec2.js';
import { waitFor } from '../helpers/wait-for.js';

const HOUR = 3_600_000;
let system: TestSystem | undefined;
let ec2: EC2Client | undefined;
afterEach(async () => {
  ec2?.destroy();
  await system?.close();
  system = ec2 = undefined;
});

/** The whole system, its reaper scheduled far apart so only the test's own runs happen after the one at start. */
async function start(pool: Record<string, unknown>, roles?: readonly Role[]): Promise<TestSystem> {
  system = await startSystem({ reaper: { every: '1h', stuckAfter: '5m' }, ...onePool(pool) }, roles);
  const sys = system;
  await waitFor(() => lastReaperRun({ config: sys.config, redis: sys.app.redis }), { what: 'the reaper run at start' });
  return sys;
}

/** Log lines a run writes, parsed. */
type Lines = Record<string, unknown>[];

function deps(now: () => number = Date.now, extra: Partial<ReaperDeps> & { lines?: Lines } = {}): ReaperDeps {
  const { app, config } = system!;
  const logger = createLogger({ level: 'info', pretty: false, destination: { write: (line: string) => void extra.lines?.push(JSON.parse(line) as Record<string, unknown>) } });
  const bootTimes = new BootTimes(app.redis, config.redis.prefix, slowBootSettings(config.breaker), now);
  return { ...app, config, logger, now, bootTimes, ...extra };
}

const later = (ms: number) => () => Date.now() + ms;
/** A clock `ms` after a recorded moment: margins under a grace must not shrink by however long a busy machine took since. */
const after = (moment: number, ms: number) => () => moment + ms;
const sim = () => system!.sim.instances();
const instanceState = (id: string | undefined) => sim().find((i) => i.instanceId === id)?.state;
const ready = async (n: number) => waitFor(async () => {
  const machines = await system!.app.store.list('small', 'ready');
  return machines.length === n ? machines : undefined;
}, { what: `${n} ready machines` });

/** A lease as the api makes it: granted, then its answer written to the client. */
async function leaseAnswered(app: TestSystem['app']): Promise<Machine> {
  const leased = (await app.store.lease('small', Date.now()))!;
  await app.store.confirmLeasesAnswered([leased.id]);
  return leased;
}

/** The raw SDK against the sim: what an operator (or a leak) does behind vmpool's back. */
function rawEc2(): EC2Client {
  ec2 = new EC2Client({ endpoint: system!.sim.endpoint, region: system!.config.sim.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
  return ec2;
}

async function launchOrphan(deployment = system!.config.deployment, extra: Record<string, string> = {}): Promise<string> {
  const own = { [TAGS.managed]: 'true', [TAGS.deployment]: deployment, [TAGS.pool]: 'small', [TAGS.machineId]: 'm-ghost', ...extra };
  const tags = Object.entries(own).map(([Key, Value]) => ({ Key, Value }));
  const out = await rawEc2().send(new RunInstancesCommand(runInput({ TagSpecifications: [{ ResourceType: 'instance', Tags: tags }] })));
  const id = out.Instances![0]!.InstanceId!;
  // The cloud is eventually consistent: the reaper can only see what the API lists.
  await waitFor(() => (sim().find((i) => i.instanceId === id)?.visibleAt ?? Infinity) <= Date.now(), { what: `${id} visible to the API` });
  return id;
}

/** A provider whose chosen methods are replaced; the rest reach the real one. */
function override(real: Provider, methods: Partial<Provider>): Provider {
  return new Proxy(real, { get: (target, key): unknown => (key in methods ? methods[key as keyof Provider] : Reflect.get(target, key, target)) });
}

describe('the reaper on the simulated cloud', () => {
  it('marks an instance launched behind vmpool’s back on one run and terminates it on the next, leaving vmpool’s machines alone', async () => {
    await start({ warm: 1, max: 2 });
    const [own] = await ready(1);
    const orphan = await launchOrphan();
    const lines: Lines = [];
    expect(await reapOnce(deps(Date.now, { lines }))).toMatchObject({ orphansMarked: 1, orphansTerminated: 0 });
    expect(['pending', 'running']).toContain(instanceState(orphan));
    expect(await reapOnce(deps(later(HOUR), { lines }))).toMatchObject({ orphansMarked: 0, orphansTerminated: 1 });
    await waitFor(() => instanceState(orphan) === 'terminated', { what: 'the orphan to terminate' });
    expect(lines.find((l) => l.level === 40 && l.instanceId === orphan)).toMatchObject({ tags: { [TAGS.machineId]: 'm-ghost' } });
    expect(await system!.app.store.get(own!.id)).toMatchObject({ state: 'ready' });
    expect(instanceState(own!.instanceId)).toBe('running');
  });

  it('never touches an instance of another deployment sharing the cloud account', async () => {
    await start({ warm: 1, max: 1 });
    const [own] = await ready(1);
    // vmpool's own launches carry its deployment's name, which is what the reaper lists by.
    expect(sim().find((i) => i.instanceId === own!.instanceId)?.tags[TAGS.deployment]).toBe(system!.config.deployment);
    const theirs = await launchOrphan('staging');
    expect(await reapOnce(deps())).toMatchObject({ orphansMarked: 0 });
    expect(await reapOnce(deps(later(HOUR)))).toMatchObject({ orphansMarked: 0, orphansTerminated: 0 });
    expect(['pending', 'running']).toContain(instanceState(theirs));
  });

  it('never terminates an instance tagged leased that the store does not know, and says so; an untagged one beside it goes', async () => {
    await start({ warm: 0, max: 1 });
    // A build may be running on it (its record lost with Redis): only the registry's word says it is unknown.
    const building = await launchOrphan(undefined, { [TAGS.state]: 'leased' });
    const plain = await launchOrphan();
    const lines: Lines = [];
    expect(await reapOnce(deps(Date.now, { lines }))).toMatchObject({ orphansMarked: 2, orphansTerminated: 0 });
    expect(await reapOnce(deps(later(HOUR), { lines }))).toMatchObject({ orphansTerminated: 1 });
    await waitFor(() => instanceState(plain) === 'terminated', { what: 'the untagged orphan to terminate' });
    expect(await reapOnce(deps(later(2 * HOUR), { lines }))).toMatchObject({ orphansTerminated: 0 });
    expect(['pending', 'running']).toContain(instanceState(building));
    expect(lines.filter((l) => l.level === 50 && l.instanceId === building)).toHaveLength(2);
  });

  it('runs once when two reaper runs start at the same moment', async () => {
    await start({ warm: 0, max: 1 });
    const orphan = await launchOrphan();
    await reapOnce(deps());
    let terminateCalls = 0;
    const real = system!.app.providers.get('sim')!;
    const counting = override(real, { terminate: (ids) => ((terminateCalls += 1), real.terminate(ids)) });
    const both = () => reapOnce(deps(later(HOUR), { providers: new Map([['sim', counting]]) }));
    const runs = await Promise.all([both(), both()]);
    expect(runs.filter((r) => r === undefined)).toHaveLength(1);
    expect(runs.find((r) => r !== undefined)).toMatchObject({ orphansTerminated: 1 });
    expect(terminateCalls).toBe(1);
    await waitFor(() => instanceState(orphan) === 'terminated', { what: 'the orphan to terminate' });
    expect(await both()).toMatchObject({ orphansTerminated: 0 }); // the lock was released
  });

  it('fails a machine stuck in launching past stuckAfter and terminates the instance it launched, found by its tag', async () => {
    const { app } = await start({ warm: 0, max: 2 });
    await app.store.create({ id: 'm-stuck', pool: 'small', zone: 'sim/zone-a', instanceType: 't3.small', imageId: 'ami-vmpool-small' }, { warm: 1, max: 2 }, Date.now());
    await app.store.transition('m-stuck', 'launching', Date.now());
    // The producer that called RunInstances died before it could record the instance.
    const tags = { [TAGS.managed]: 'true', [TAGS.pool]: 'small', [TAGS.machineId]: 'm-stuck' };
    const instance = await app.providers.get('sim')!.launch({ machineId: 'm-stuck', pool: 'small', zone: 'zone-a', imageId: 'ami-vmpool-small', instanceType: 't3.small', tags });
    expect(await reapOnce(deps())).toMatchObject({ stuckFailed: 0, orphansMarked: 0 });
    expect(await reapOnce(deps(later(5 * 60_000 + 1_000)))).toMatchObject({ stuckFailed: 1, orphansMarked: 0 });
    expect(await app.store.get('m-stuck')).toMatchObject({ failure: 'stuck-launching' });
    await waitFor(() => instanceState(instance.instanceId) === 'terminated', { what: 'the stuck machine’s instance to terminate' });
    await waitFor(async () => (await app.store.get('m-stuck'))?.state === 'terminated', { what: 'the record to close' });
  });

  it('fails a machine stuck booting with no booter alive, and counts one boot timeout against its zone', async () => {
    const { app } = await start({ warm: 1, max: 1 }, ['producer']);
    const booting = await waitFor(async () => (await app.store.list('small', 'booting'))[0], { what: 'a booting machine' });
    const now = () => booting.launchedAt! + 20_000 + BOOT_MARGIN_MS + 1_000;
    expect(await reapOnce(deps(now))).toMatchObject({ stuckFailed: 1 });
    expect(await reapOnce(deps(now))).toMatchObject({ stuckFailed: 0 });
    expect(await app.store.get(booting.id)).toMatchObject({ failure: 'stuck-booting' });
    expect((await app.breaker.read([booting.zone], now())).get(booting.zone)).toMatchObject({ outcomes: 1, failures: 1 });
    expect((await app.counters.read()).boots).toContainEqual({ pool: 'small', zone: booting.zone, result: 'boot-timeout', value: 1 });
    await waitFor(() => instanceState(booting.instanceId) === 'terminated', { what: 'the stuck instance to terminate' });
  });

  it('closes a ready machine whose instance was terminated directly in the cloud, and the pool refills', async () => {
    const { app } = await start({ warm: 1, max: 2 });
    const [gone] = await ready(1);
    await rawEc2().send(new TerminateInstancesCommand({ InstanceIds: [gone!.instanceId!] }));
    expect(await reapOnce(deps())).toMatchObject({ recordsClosed: 1 });
    expect(await app.store.get(gone!.id)).toMatchObject({ state: 'terminated', failure: 'instance-gone' });
    await waitFor(async () => (await app.store.list('small', 'ready')).some((m) => m.id !== gone!.id), { what: 'a replacement' });
  });

  it('keeps a machine whose instance is missing from the listing while describe still knows it', async () => {
    const { app } = await start({ warm: 1, max: 2 });
    const [machine] = await ready(1);
    const blind = override(app.providers.get('sim')!, { listByTags: () => Promise.resolve([]) });
    // Past the grace for instances the cloud does not know yet: only describe can save it now.
    const now = later(system!.config.reaper.consistencyGrace + 60_000);
    expect(await reapOnce(deps(now, { providers: new Map([['sim', blind]]) }))).toMatchObject({ recordsClosed: 0 });
    expect(await app.store.get(machine!.id)).toMatchObject({ state: 'ready' });
  });

  it('recycles ready machines launched longer ago than maxAge, oldest first and paced, and the pool refills', async () => {
    const { app } = await start({ warm: 2, max: 4, maxAge: '1h' });
    const old = (await ready(2)).sort((a, b) => a.launchedAt! - b.launchedAt!);
    // A quarter of the ready machines per run, at least one: the oldest launch goes first, the other on the next run.
    expect(await reapOnce(deps(later(HOUR + 60_000)))).toMatchObject({ recycled: 1 });
    const firstRun = await Promise.all(old.map((m) => app.store.get(m.id)));
    const retired = firstRun.filter((m) => m?.retiredFor === 'max-age');
    expect(retired).toHaveLength(1);
    expect(retired[0]!.launchedAt).toBe(old[0]!.launchedAt);
    expect(firstRun.filter((m) => m?.state === 'ready')).toHaveLength(1);
    expect(await reapOnce(deps(later(HOUR + 60_000)))).toMatchObject({ recycled: 1 });
    for (const m of old) expect(await app.store.get(m.id)).toMatchObject({ retiredFor: 'max-age' });
    const fresh = await waitFor(async () => {
      const now = await app.store.list('small', 'ready');
      return now.length === 2 && now.every((m) => !old.some((o) => o.id === m.id)) ? now : undefined;
    }, { what: 'two new ready machines' });
    expect(fresh).toHaveLength(2);
    await waitFor(() => old.every((m) => instanceState(m.instanceId) === 'terminated'), { what: 'the old instances to terminate' });
  });

  it('keeps a ready machine whose VM’s uptime claims days when its launch time is recent', async () => {
    const { app, config } = await start({ warm: 1, max: 2, maxAge: '1h' });
    const [machine] = (await ready(1)) as [Machine];
    // The VM runs commands with $HOME/bin first on PATH: make its uptime lie, as a container reports its host's.
    const bin = join(system!.sim.rootDir, machine.instanceId!, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'uptime'), "#!/bin/sh\necho ' 12:00:00 up 5 days,  3:12,  0 users,  load average: 0.00, 0.00, 0.00'\n");
    chmodSync(join(bin, 'uptime'), 0o755);
    const target = { host: machine.address!, port: machine.port!, username: config.ssh.user, privateKey: readFileSync(config.ssh.privateKeyPath), hostKeyFingerprint: machine.hostKeyFingerprint };
    const session = await connectSsh(target, { timeoutMs: 5_000, loopbackOnly: true });
    const uptime = await session.exec('uptime', { timeoutMs: 5_000 });
    session.close();
    expect(uptime.output).toContain('up 5 days');
    expect(await reapOnce(deps())).toMatchObject({ recycled: 0 });
    expect(await app.store.get(machine.id)).toMatchObject({ state: 'ready' });
  });

  it('terminates a leased machine whose lease answer never left the api, and leaves answered leases alone', async () => {
    const { app } = await start({ warm: 2, max: 2 });
    await ready(2);
    // What an api killed between the lease and its answer leaves: a lease nobody knows of.
    const lost = (await app.store.lease('small', Date.now()))!;
    const answered = await leaseAnswered(app);
    const lines: Lines = [];
    expect(await reapOnce(deps(after(lost.leasedAt!, LEASE_ANSWER_GRACE_MS - 1_000), { lines }))).toMatchObject({ unansweredLeases: 0 });
    expect(await reapOnce(deps(after(lost.leasedAt!, LEASE_ANSWER_GRACE_MS + 1_000), { lines }))).toMatchObject({ unansweredLeases: 1, overdueLeases: 0 });
    expect(await app.store.get(lost.id)).toMatchObject({ retiredFor: 'lease-unanswered' });
    expect(await app.store.get(answered.id)).toMatchObject({ state: 'leased' });
    expect(lines.filter((l) => l.level === 50 && l.machineId === lost.id)).toHaveLength(1);
    await waitFor(() => instanceState(lost.instanceId) === 'terminated', { what: 'the unanswered lease’s instance to terminate' });
  });

  it('tags a leased instance whose lease tag never landed, once the tag sent with the lease has had its time', async () => {
    const { app } = await start({ warm: 1, max: 1 });
    await ready(1);
    // What an api killed between the answer and its tagging call leaves: a lease the cloud does not know of.
    const leased = await leaseAnswered(app);
    const tagOf = () => sim().find((i) => i.instanceId === leased.instanceId)?.tags[TAGS.state];
    expect(tagOf()).toBeUndefined();
    const lines: Lines = [];
    expect(await reapOnce(deps(after(leased.leasedAt!, LEASE_TAG_GRACE_MS - 1_000), { lines }))).toMatchObject({ leaseTagsRepaired: 0 });
    expect(tagOf()).toBeUndefined();
    expect(await reapOnce(deps(after(leased.leasedAt!, LEASE_TAG_GRACE_MS + 1_000), { lines }))).toMatchObject({ leaseTagsRepaired: 1, unansweredLeases: 0 });
    expect(tagOf()).toBe('leased');
    expect(lines.filter((l) => l.level === 40 && (l.machineIds as string[] | undefined)?.includes(leased.id))).toHaveLength(1);
    expect(await reapOnce(deps(after(leased.leasedAt!, LEASE_TAG_GRACE_MS + 2_000)))).toMatchObject({ leaseTagsRepaired: 0 });
    expect(await app.store.get(leased.id)).toMatchObject({ state: 'leased' });
  });

  it('puts a machine terminating past stuckAfter in the sweeps’ index (an older vmpool kept none) and asks for a sweep', async () => {
    // No producer: nothing sweeps, so what the run did stays to be seen.
    system = await startSystem({ reaper: { every: '1h', stuckAfter: '5m' }, ...onePool({ warm: 0, max: 1 }) }, ['web']);
    const { app, config } = system;
    const pool = config.pools[0]!.name;
    await app.epoch.renew(); // what a producer's first start does: the reaper judges a marked keyspace only
    await app.store.create({ id: 'm-old', pool, zone: 'sim/zone-a', instanceType: 't3.small', imageId: 'ami-1' }, { warm: 1, max: 1 }, Date.now());
    await app.store.transition('m-old', 'terminating', Date.now());
    await app.redis.zrem(`${config.redis.prefix}:terminating`, 'm-old');
    expect(await reapOnce(deps(later(60_000)))).toMatchObject({ terminationsRetried: 0 });
    expect(await reapOnce(deps(later(6 * 60_000)))).toMatchObject({ terminationsRetried: 1 });
    expect(await app.redis.zscore(`${config.redis.prefix}:terminating`, 'm-old')).not.toBeNull();
    expect(await app.queues.terminate.count()).toBeGreaterThanOrEqual(1);
  });

  it('reports a lease past maxLeaseDuration and leaves the machine running by default', async () => {
    const { app, config } = await start({ warm: 1, max: 1, maxLeaseDuration: '1h' });
    await ready(1);
    const leased = await leaseAnswered(app);
    const lines: Lines = [];
    expect(await reapOnce(deps(later(HOUR + 60_000), { lines }))).toMatchObject({ overdueLeases: 1, recycled: 0, recordsClosed: 0 });
    expect(await app.store.get(leased.id)).toMatchObject({ state: 'leased' });
    expect(lines.filter((l) => l.level === 50 && l.machineId === leased.id)).toHaveLength(1);
    expect((await overdueLeases(config.pools[0]!, { store: app.store, now: later(HOUR + 60_000) })).map((m) => m.id)).toEqual([leased.id]);
    expect(await overdueLeases(config.pools[0]!, { store: app.store, now: Date.now })).toEqual([]);
    const status = await readStatus({ ...app, config, now: later(HOUR + 60_000) });
    expect(status.pools[0]!.overdueLeases).toEqual([leased.id]);
    expect(summarizePool(status.pools[0]!)).toContain('1 lease(s) past maxLeaseDuration');
  });

  it('terminates a lease past maxLeaseDuration when the pool sets terminateOverdueLeases', async () => {
    const { app } = await start({ warm: 1, max: 1, maxLeaseDuration: '1h', terminateOverdueLeases: true });
    await ready(1);
    const leased = await leaseAnswered(app);
    expect(await reapOnce(deps(later(HOUR + 60_000)))).toMatchObject({ overdueLeases: 1 });
    expect(await app.store.get(leased.id)).toMatchObject({ retiredFor: 'lease-overdue' });
    await waitFor(() => instanceState(leased.instanceId) === 'terminated', { what: 'the overdue lease’s instance to terminate' });
  });
});
