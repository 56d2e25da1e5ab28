import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, expect, inject } from 'vitest';
import { parseConfig, type Config } from '../../src/config.js';
import { freePort } from '../../src/local/free-port.js';
import { runWorker, type Child } from './child.js';
import { simProviders } from './system.js';
import { mergeDeep, rawDefaults, simRegistryConfigs, simRegistryUrls, simTestImages, testKeyPath } from './test-config.js';

/** The one configuration every process of a multi-process test runs with. */
export interface ProcessConfig {
  /** Parsed, as the processes will see it. */
  config: Readonly<Config>;
  /** `{ NODE_CONFIG }`: pass it to every `runWorker`, restarts included. */
  env: Record<string, string>;
  prefix: string;
  /** The simulated cloud's endpoint (EC2 API and `/v1/sim/...`). */
  simUrl: string;
}

/**
 * Defaults plus the test's Redis under a fresh prefix, the run's key pair,
 * JSON logs at info (tests wait on log lines), quick periods, and the sim on
 * a free port; `overrides` merged on top (arrays replace).
 */
export async function processConfig(overrides: Record<string, unknown>): Promise<ProcessConfig> {
  const simPort = await freePort();
  const registryPorts = [await freePort(), await freePort()];
  const key = testKeyPath();
  const prefix = `{vmpool-test-${randomBytes(4).toString('hex')}}`;
  const simUrl = `http://127.0.0.1:${simPort}`;
  const base = mergeDeep(rawDefaults(), {
    redis: { url: inject('redisUrl'), prefix },
    log: { level: 'info', pretty: false },
    ssh: { privateKeyPath: key, connectTimeout: '1s', retryEvery: '100ms' },
    // Off: tests count the cloud calls a producer makes; producer-preflight.test.ts turns it on.
    producer: { reconcileEvery: '300ms', preflightAtStart: false },
    shutdown: { grace: '2s' },
    booter: { describeEvery: '100ms' },
    sim: { port: simPort, authorizedKeyPath: `${key}.pub`, bootDelay: '100ms', bootSpread: '200ms', registries: simRegistryConfigs(registryPorts), images: simTestImages() },
    providers: simProviders(simUrl),
    registries: simRegistryUrls(registryPorts),
  });
  const raw = mergeDeep(base, overrides) as Record<string, unknown>;
  return { config: parseConfig(raw), env: { NODE_CONFIG: JSON.stringify(raw) }, prefix, simUrl };
}

/** Starts the simulated cloud as its own process, pushed onto `children` before waiting so a failed start is still stopped. */
export async function startSimProcess(env: Record<string, string>, children: Child[]): Promise<Child> {
  const sim = runWorker('sim.js', [], env);
  children.push(sim);
  await sim.waitForLine(/simulated EC2 cloud listening/);
  return sim;
}

/** A simulated VM's working directory: `<tmp>/vmpool-sim-<sim pid>-*\/<instance id>`, once it exists. */
export function simScratchDir(simPid: number, instanceId: string): string | undefined {
  const root = readdirSync(tmpdir()).find((name) => name.startsWith(`vmpool-sim-${simPid}-`));
  const dir = root && join(tmpdir(), root, instanceId);
  return dir && existsSync(dir) ? dir : undefined;
}

/**
 * SIGTERM to every process at once, as a platform restart does; returns one
 * entry (exit code and the end of its output) per process that did not exit 0.
 */
export async function stopEvery(children: readonly Child[], graceMs?: number): Promise<string[]> {
  const codes = await Promise.all(children.map((c) => c.stop(graceMs)));
  return children.flatMap((c, i) => (codes[i] === 0 ? [] : [`exit ${codes[i]}:\n${c.output().slice(-1500)}`]));
}

/**
 * The frame of a multi-process test file: one Redis connection for reading
 * what the processes did, and every process a test started (push it to
 * `children`) stopped with SIGTERM after each test, all expected to exit 0.
 */
export function processHarness(): { redis: Redis; children: Child[] } {
  const redis = new Redis(inject('redisUrl'));
  const children: Child[] = [];
  afterAll(async () => {
    await redis.quit();
  });
  afterEach(async () => {
    // SIGTERM, as a dyno restart does: every role and the sim shut down cleanly (VMs ended, folders removed).
    expect(await stopEvery(children.splice(0))).toEqual([]);
  });
  return { redis, children };
}
