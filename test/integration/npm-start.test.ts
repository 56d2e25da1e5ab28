import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { connectSsh } from '../../src/boot/ssh.js';
import { freePort } from '../../src/local/free-port.js';
import { alive, refusesConnections, runToEnd, runWorker, type Child } from '../helpers/child.js';
import { simRegistryConfigs, simRegistryUrls, testKeyPath } from '../helpers/test-config.js';
import { sweepStaleScratch } from '../../src/sim/scratch-sweep.js';
import { simProviders } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';
import { MULTI_PROCESS_TEST_MS } from '../helpers/hang-ceilings.js';

let start: Child | undefined;
afterEach(async () => {
  await start?.kill();
  start = undefined;
});

/** Free ports for the API and the sim, the run's test key, quick boots: `$NODE_CONFIG` for one start. */
async function startConfig() {
  const [httpPort, simPort] = [await freePort(), await freePort()];
  const registryPorts = [await freePort(), await freePort()];
  const key = testKeyPath();
  const nodeConfig = JSON.stringify({
    http: { port: httpPort },
    ssh: { privateKeyPath: key },
    sim: { port: simPort, authorizedKeyPath: `${key}.pub`, bootDelay: '100ms', bootSpread: '300ms', registries: simRegistryConfigs(registryPorts) },
    providers: simProviders(`http://127.0.0.1:${simPort}`),
    registries: simRegistryUrls(registryPorts),
  });
  return { httpPort, simPort, key, nodeConfig };
}

/** The line a person watching `npm start` sees once a pool is full, whichever zones hold its machines. */
const FULL_LINE = (pool: string, n: number) => new RegExp(`pool ${pool}: ${n}/${n} ready \\(`);
/** Multi-process start-up and refills on a busy machine: a ceiling only a hang reaches. */
const SETTLE_MS = 120_000;

type PoolView = { name: string; target: number; machines: Record<string, number>; zones: Record<string, Record<string, number>> };

/**
 * The pool as the API reports it once full: at least its target ready (a boot
 * judged slow on a busy machine may leave one more, scaled in later). Undefined until then.
 */
async function settledPool(httpPort: number, name: string): Promise<PoolView | undefined> {
  const status = (await (await fetch(`http://127.0.0.1:${httpPort}/v1/status`)).json()) as { pools: PoolView[] };
  const pool = status.pools.find((p) => p.name === name);
  return pool && pool.machines.ready! >= pool.target ? pool : undefined;
}

/** Every zone of the pool holds a ready machine: the spread across zones, not one exact distribution. */
const everyZoneReady = (pool: PoolView) => Object.values(pool.zones).every((z) => (z.ready ?? 0) >= 1);

/** Waits until the pool is full and spread over every zone, however the launches fell. */
async function fullAcrossZones(httpPort: number, name: string): Promise<PoolView> {
  return waitFor(async () => {
    const pool = await settledPool(httpPort, name);
    return pool && everyZoneReady(pool) ? pool : undefined;
  }, { what: `pool ${name} full with a ready machine in every zone`, timeoutMs: SETTLE_MS, everyMs: 200 });
}

describe('npm start (the all-in-one process) and the vmpool CLI', () => {
  it('fills both pools across three zones, leases over the CLI, refills after release, and Ctrl-C leaves nothing behind', { timeout: MULTI_PROCESS_TEST_MS }, async () => {
    const { httpPort, simPort, key, nodeConfig } = await startConfig();
    const env = { NODE_CONFIG: nodeConfig, LOG_PRETTY: 'true', REDIS_URL: '' };
    start = runWorker('start.js', [], env);
    const redisPid = Number((await start.waitForLine(/started a throwaway redis-server.*"redisPid":(\d+)/))[1]);
    await start.waitForLine(FULL_LINE('small', 3), { timeoutMs: SETTLE_MS });
    await start.waitForLine(FULL_LINE('large', 2), { timeoutMs: SETTLE_MS });
    expect(Object.keys((await fullAcrossZones(httpPort, 'small')).zones)).toEqual(['sim/zone-a', 'sim/zone-b', 'sim/zone-c']);
    await waitFor(() => settledPool(httpPort, 'large'), { what: 'pool large full', timeoutMs: SETTLE_MS, everyMs: 200 });

    const cli = (...args: string[]) => runToEnd('cli.js', args, { NODE_CONFIG: nodeConfig, VMPOOL_URL: `http://127.0.0.1:${httpPort}` });
    const leased = await cli('lease', 'small', '--json');
    expect(leased.code).toBe(0);
    const machine = JSON.parse(leased.output) as { id: string; address: string; port: number; user: string; hostKeyFingerprint: string };
    const session = await connectSsh(
      { host: machine.address, port: machine.port, username: machine.user, privateKey: readFileSync(key), hostKeyFingerprint: machine.hostKeyFingerprint },
      { timeoutMs: 5_000, loopbackOnly: true },
    );
    expect((await session.exec('cat prepared.txt', { timeoutMs: 5_000 })).output.trim()).toBe('prepared');
    session.close();

    const human = await cli('lease', 'small');
    expect(human.code).toBe(0);
    expect(human.output).toContain(`ssh -i ${key} -o StrictHostKeyChecking=yes -o UserKnownHostsFile=`);
    expect(human.output).toContain(` -p ${machine.port} `);
    const secondId = /leased (m-\S+)/.exec(human.output)![1]!;

    for (const id of [machine.id, secondId]) {
      const released = await cli('release', id);
      expect(released).toEqual({ code: 0, output: `released ${id}: terminating\n` });
    }
    await fullAcrossZones(httpPort, 'small');
    expect((await cli('status')).output).toContain('pool small: 3/3 ready');

    process.kill(-start.pid, 'SIGINT'); // what a terminal's Ctrl-C does: the whole foreground group
    expect(await start.exited).toBe(0);
    expect(alive(redisPid)).toBe(false);
    expect(await refusesConnections(machine.address, machine.port)).toBe(true);
    expect(await refusesConnections('127.0.0.1', httpPort)).toBe(true);
    expect(await refusesConnections('127.0.0.1', simPort)).toBe(true);
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith(`vmpool-sim-${start!.pid}-`))).toEqual([]);
  });

  it('a start killed with SIGKILL leaves no redis-server behind, and its VM folders are swept by the next sim', { timeout: MULTI_PROCESS_TEST_MS }, async () => {
    start = runWorker('start.js', [], { NODE_CONFIG: (await startConfig()).nodeConfig, REDIS_URL: '' });
    const redisPid = Number((await start.waitForLine(/started a throwaway redis-server.*"redisPid":(\d+)/))[1]);
    expect(alive(redisPid)).toBe(true);
    await start.waitForLine(/simulated cloud started/);
    const pid = start.pid;
    await start.kill();
    await waitFor(() => !alive(redisPid), { what: `redis-server ${redisPid} to exit`, timeoutMs: 60_000 });
    expect(await sweepStaleScratch()).toContainEqual(expect.stringMatching(new RegExp(`^vmpool-sim-${pid}-`)));
  });

  it('refuses to start on an invalid config, naming the key and the reason', async () => {
    const result = await runToEnd('producer.js', [], { NODE_CONFIG: JSON.stringify({ pools: [{ name: 'small', warm: 'three' }] }) });
    expect(result.code).toBe(2);
    expect(result.output).toContain('pools.0.warm: expected a whole number >= 0, got "three"');
    expect(result.output).toContain('pools.0.provider: expected a name, got nothing');
  });

  it('the CLI says how to reach the API when nothing listens', async () => {
    const port = await freePort();
    const result = await runToEnd('cli.js', ['status'], { VMPOOL_URL: `http://127.0.0.1:${port}` });
    expect(result.code).toBe(1);
    expect(result.output).toContain(`cannot reach the vmpool API at http://127.0.0.1:${port}`);
  });
});
