import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { reconcilePool } from '../../src/pool/reconcile.js';
import { startSimCloud, type SimCloud } from '../../src/sim/sim-cloud.js';
import type { Status } from '../../src/status.js';
import { allMachines } from '../helpers/machines.js';
import { onePool, simProviders, simRegistries, type TestSystem } from '../helpers/system.js';
import { mergeDeep, testConfig } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Faults of the cloud's API, not of a zone (issue 13): an outage of one
 * action, a 5xx that is not capacity, a refused permission. None may open a
 * zone, judge a boot slow, or stop the provider's other actions.
 */

interface LogLine {
  level: number;
  msg: string;
}

let system: TestSystem | undefined;
let lines: LogLine[] = [];
afterEach(async () => {
  await system?.close();
  system = undefined;
  lines = [];
});

/** The simulated cloud and every role in this process, as startSystem does, with the log kept in `lines`. */
async function start(overrides: Record<string, unknown>, prepareSim: (sim: SimCloud) => void = () => undefined): Promise<TestSystem> {
  const simOnly = testConfig(overrides);
  const logger = createLogger({ level: 'info', pretty: false, destination: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) } });
  const sim = await startSimCloud({ config: simOnly.sim, logger, hostKeyTag: simOnly.ssh.hostKeyTag });
  try {
    prepareSim(sim);
    const config = testConfig(mergeDeep({ registries: simRegistries(sim) }, mergeDeep(overrides, { providers: simProviders(sim.endpoint) })) as Record<string, unknown>);
    const app = await createApp({ config, logger, roles: ['producer', 'booter', 'web'] });
    system = { config, sim, app, close: async () => { await app.close(); await sim.close(); } };
    return system;
  } catch (err) {
    await sim.close();
    throw err;
  }
}

const status = async () => (await (await fetch(`${system!.app.url}/v1/status`)).json()) as Status;
const calls = (sim: SimCloud, action: string) => sim.api.report().actions.find((a) => a.action === action) ?? { calls: 0, denied: 0 };

async function lease(): Promise<string> {
  const answer = await fetch(`${system!.app.url}/v1/pools/small/leases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"wait":"30s"}' });
  expect(answer.status).toBe(200);
  return ((await answer.json()) as { id: string }).id;
}

/** Every zone closed with no failure on record: nothing was blamed on a zone. */
async function expectNoZoneBlamed(): Promise<void> {
  const { zones } = await status();
  expect(zones.map((z) => [z.zone, z.state, z.failures])).toEqual(zones.map((z) => [z.zone, 'closed', 0]));
}

describe('an outage of DescribeInstances', () => {
  it('outlasting the boot timeout mid-boot, opens no zone and judges no boot slow: the boot clock pauses', async () => {
    const { app, sim, config } = await start({
      breaker: { slowBootFloor: '5s', slowBootMinSamples: 1 },
      cloudApi: { resetTimeout: '2s' },
      ...onePool({ warm: 1, max: 3, bootTimeout: '10s' }),
    });
    await waitFor(async () => (await app.store.list('small', 'ready')).length === 1, { what: 'the first machine ready', timeoutMs: 60_000 });
    // Its boot time is on record: from now on a boot of this kind can be judged slow.
    await waitFor(async () => (await app.redis.keys(`${config.redis.prefix}:boot-times*`)).length === 1, { what: 'its boot time recorded', timeoutMs: 60_000 });

    sim.api.fail('DescribeInstances', { code: 'ServiceUnavailable', status: 503 });
    await lease();
    const booting = await waitFor(async () => (await app.store.list('small', 'booting')).find((m) => m.launchedAt !== undefined), { what: 'the replacement launched during the outage', timeoutMs: 60_000 });
    const before = calls(sim, 'DescribeInstances').calls;
    // Past its boot deadline and its slow time, describe failing all along.
    await waitFor(() => Date.now() > booting.launchedAt! + 15_000 && calls(sim, 'DescribeInstances').calls > before + 2, { what: 'the outage to outlast the boot deadline', timeoutMs: 60_000 });
    expect((await app.store.get(booting.id))?.state).toBe('booting');

    sim.api.heal('DescribeInstances');
    const ready = await waitFor(
      async () => {
        const m = await app.store.get(booting.id);
        return m?.state === 'ready' ? m : undefined;
      },
      { what: 'the replacement ready once describe answers', timeoutMs: 90_000 },
    );
    expect(ready.failure).toBeUndefined();
    // The reaper's deadline moved too.
    expect(ready.apiPausedMs).toBeGreaterThan(10_000);
    expect(Object.values(await app.store.counts('small')).every((byState) => !byState.slow)).toBe(true);
    expect((await app.counters.read()).boots.filter((row) => row.result !== 'ready')).toEqual([]);
    await expectNoZoneBlamed();
  }, 180_000);
});

describe('RunInstances failing with a server error that is not capacity', () => {
  it('never counts against the zone: EC2’s endpoint is regional', async () => {
    // A guard that never opens: every launch ends on the 500 itself, not on the guard's refusal.
    const { sim, config } = await start({ cloudApi: { volumeThreshold: 1000 }, ...onePool({ warm: 2, max: 4 }) }, (s) => s.api.fail('RunInstances', { code: 'InternalError', status: 500 }));
    await waitFor(async () => (await allMachines(config.redis.prefix)).filter((m) => m.failure === 'launch-failed').length >= 3, { what: 'launches given up after their retries', timeoutMs: 120_000 });
    const failed = (await allMachines(config.redis.prefix)).filter((m) => m.failure === 'launch-failed');
    expect(failed.every((m) => m.failureDetail?.startsWith('InternalError'))).toBe(true);
    expect(calls(sim, 'RunInstances').calls).toBeGreaterThanOrEqual(3);
    await expectNoZoneBlamed();
  }, 180_000);

  it('opens the launch guard alone: releases are still terminated, and the pool says the API is down, not that every zone is open', async () => {
    const { app, sim } = await start({ cloudApi: { volumeThreshold: 3, resetTimeout: '10m' }, ...onePool({ warm: 3, max: 6 }) });
    await waitFor(async () => (await app.store.list('small', 'ready')).length === 3, { what: 'three ready machines', timeoutMs: 60_000 });
    sim.api.fail('RunInstances', { code: 'InternalError', status: 500 });
    const leased = [await lease(), await lease(), await lease()];
    const provider = app.providers.get('sim')!;
    // Their replacements fail until this process fails fast on RunInstances.
    await waitFor(() => provider.isAvailable?.() === false, { what: 'the launch guard to open', timeoutMs: 60_000 });
    const alert = await waitFor(async () => (await status()).pools[0]!.alert, { what: 'the pool alert', timeoutMs: 60_000 });
    expect(alert.reason).toContain('cloud API of provider sim unavailable');

    for (const id of leased) expect((await fetch(`${app.url}/v1/leases/${id}`, { method: 'DELETE' })).status).toBe(200);
    await waitFor(async () => (await Promise.all(leased.map((id) => app.store.get(id)))).every((m) => m?.state === 'terminated'), { what: 'the released machines terminated', timeoutMs: 60_000 });
    expect(provider.isAvailable?.()).toBe(false);
    const ended = sim.instances().filter((i) => leased.includes(i.tags['vmpool:machine-id'] ?? ''));
    expect(ended.map((i) => i.state).filter((s) => s !== 'terminated' && s !== 'shutting-down')).toEqual([]);
    expect((await status()).pools[0]!.alert?.reason).not.toContain('every zone');
    await expectNoZoneBlamed();
  }, 180_000);
});

describe('a refused permission', () => {
  const haltLogs = () => lines.filter((l) => l.level === 50 && l.msg.startsWith('provider sim halted'));

  it('on RunInstances halts the provider for every process, with an alert, a metric and one error log, until the operator resumes it', async () => {
    const { app, sim, config } = await start(onePool({ warm: 2, max: 4 }), (s) => s.api.deny('RunInstances'));
    const halted = await waitFor(async () => (await status()).providers.find((p) => p.name === 'sim')?.halted, { what: 'the provider halted', timeoutMs: 60_000 });
    expect(halted).toMatchObject({ action: 'launch', reason: expect.stringContaining('UnauthorizedOperation') as unknown });
    const pool = await waitFor(async () => ((await status()).pools[0]!.alert ? (await status()).pools[0] : undefined), { what: 'the pool alert', timeoutMs: 60_000 });
    expect(pool.alert!.reason).toContain('provider sim halted');
    // The pool is not halted: its own configuration is fine.
    expect(pool.halted).toBeUndefined();
    expect((await status()).alerts).toContainEqual(expect.objectContaining({ kind: 'provider-halted', subject: 'sim' }));
    expect(await (await fetch(`${app.url}/metrics`)).text()).toMatch(/^vmpool_provider_halted\{provider="sim"\} 1$/m);

    // Both launches were refused (the second after the halt): one error in the log.
    await waitFor(() => calls(sim, 'RunInstances').denied >= 2, { what: 'both launches refused', timeoutMs: 60_000 });
    await waitFor(async () => (await allMachines(config.redis.prefix)).every((m) => m.state !== 'requested' && m.state !== 'launching'), { what: 'the refused launches given up', timeoutMs: 60_000 });
    await app.epoch.renew();
    expect(await reconcilePool(config.pools[0]!, { ...app, config, logger: createLogger({ level: 'silent', pretty: false }), now: Date.now })).toEqual({ requested: 0, retired: 0 });
    expect(haltLogs()).toHaveLength(1);
    await expectNoZoneBlamed();

    sim.api.allow();
    const resumed = await fetch(`${app.url}/v1/providers/sim/halt`, { method: 'DELETE' });
    expect(await resumed.json()).toEqual({ provider: 'sim', halted: false, resumed: true });
    await waitFor(async () => (await app.store.list('small', 'ready')).length === 2, { what: 'the pool refilled', timeoutMs: 60_000 });
    const after = await status();
    expect(after.providers.find((p) => p.name === 'sim')?.halted).toBeUndefined();
    expect(after.alerts).toEqual([]);
  }, 180_000);

  it('is cleared by the one trial launch after producer.fatalPause, once the permission is back', async () => {
    const { app, sim } = await start({ producer: { fatalPause: '3s' }, ...onePool({ warm: 1, max: 2 }) }, (s) => s.api.deny('RunInstances'));
    await waitFor(async () => (await status()).providers.find((p) => p.name === 'sim')?.halted, { what: 'the provider halted', timeoutMs: 60_000 });
    sim.api.allow();
    await waitFor(async () => (await app.store.list('small', 'ready')).length === 1, { what: 'the trial launch to refill the pool', timeoutMs: 60_000 });
    expect((await status()).providers.find((p) => p.name === 'sim')?.halted).toBeUndefined();
    expect(haltLogs()).toHaveLength(1);
  }, 180_000);

  it('on TerminateInstances is loud, not a warning per sweep, and clears once terminations go through again', async () => {
    const { app, sim } = await start(onePool({ warm: 1, max: 2 }));
    await waitFor(async () => (await app.store.list('small', 'ready')).length === 1, { what: 'a ready machine', timeoutMs: 60_000 });
    sim.api.deny('TerminateInstances');
    const id = await lease();
    expect((await fetch(`${app.url}/v1/leases/${id}`, { method: 'DELETE' })).status).toBe(200);
    const halted = await waitFor(async () => (await status()).providers.find((p) => p.name === 'sim')?.halted, { what: 'the provider halted', timeoutMs: 60_000 });
    expect(halted.action).toBe('terminate');
    // Every sweep meets the refusal again; the error is logged once.
    await waitFor(() => calls(sim, 'TerminateInstances').denied >= 3, { what: 'sweeps refused again', timeoutMs: 60_000 });
    expect(haltLogs()).toHaveLength(1);
    expect((await app.store.get(id))?.state).toBe('terminating');

    sim.api.allow();
    await waitFor(async () => (await app.store.get(id))?.state === 'terminated', { what: 'the release terminated', timeoutMs: 60_000 });
    await waitFor(async () => (await status()).providers.find((p) => p.name === 'sim')?.halted === undefined, { what: 'the halt cleared by the next termination', timeoutMs: 30_000 });
  }, 180_000);
});
