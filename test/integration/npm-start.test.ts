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

const SMALL_FULL = /pool small: 3\/3 ready \(sim\/zone-a 1, sim\/zone-b 1, sim\/zone-c 1\)\n/;
const LARGE_FULL = /pool large: 2\/2 ready \(sim\/zone-a \d, sim\/zone-b \d, sim\/zone-c \d\)\n/;

describe('npm start (the all-in-one process) and the vmpool CLI', () => {
  it('fills both pools across three zones, leases over the CLI, refills after release, and Ctrl-C leaves nothing behind', async () => {
    const { httpPort, simPort, key, nodeConfig } = await startConfig();
    const env = { NODE_CONFIG: nodeConfig, LOG_PRETTY: 'true', REDIS_URL: '' };
    start = runWorker('start.js', [], env);
    const redisPid = Number((await start.waitForLine(/started a throwaway redis-server.*"redisPid":(\d+)/))[1]);
    await start.waitForLine(SMALL_FULL);
    await start.waitForLine(LARGE_FULL);

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
    expect(human.output).toContain(`ssh -i ${key} -p ${machine.port}`);
    const secondId = /leased (m-\S+)/.exec(human.output)![1]!;

    const mark = start.output().length;
    for (const id of [machine.id, secondId]) {
      const released = await cli('release', id);
      expect(released).toEqual({ code: 0, output: `released ${id}: terminating\n` });
    }
    await start.waitForLine(SMALL_FULL, { from: mark });
    expect((await cli('status')).output).toContain('pool small: 3/3 ready');

    process.kill(-start.pid, 'SIGINT'); // what a terminal's Ctrl-C does: the whole foreground group
    expect(await start.exited).toBe(0);
    expect(alive(redisPid)).toBe(false);
    expect(await refusesConnections(machine.address, machine.port)).toBe(true);
    expect(await refusesConnections('127.0.0.1', httpPort)).toBe(true);
    expect(await refusesConnections('127.0.0.1', simPort)).toBe(true);
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith(`vmpool-sim-${start!.pid}-`))).toEqual([]);
  });

  it('a start killed with SIGKILL leaves no redis-server behind, and its VM folders are swept by the next sim', async () => {
    start = runWorker('start.js', [], { NODE_CONFIG: (await startConfig()).nodeConfig, REDIS_URL: '' });
    const redisPid = Number((await start.waitForLine(/started a throwaway redis-server.*"redisPid":(\d+)/))[1]);
    expect(alive(redisPid)).toBe(true);
    await start.waitForLine(/simulated cloud started/);
    const pid = start.pid;
    await start.kill();
    await waitFor(() => !alive(redisPid), { what: `redis-server ${redisPid} to exit` });
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
