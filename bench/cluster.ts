import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { loadConfig, mergeDeep, type Config } from '../src/config.js';
import { freePort } from '../src/local/free-port.js';
import { waitFor } from '../src/local/wait-for.js';
import { runWorker, type Child } from '../src/local/worker-process.js';
import type { BenchEnv } from './bench-env.js';

export type ProcessRole = 'sim' | 'producer' | 'booter' | 'web';

export interface ClusterSpec {
  /** Config as an operator writes it (durations as text), merged over the files as `$NODE_CONFIG` is. */
  overrides: Record<string, unknown>;
  producers: number;
  booters: number;
  webs: number;
  logLevel: string;
  /** Set: every process writes a V8 CPU profile into `<profileDir>/<role>-<n>/` when it exits (see bench/profile-summary.ts). */
  profileDir?: string;
}

export interface RoleProcess {
  role: ProcessRole;
  child: Child;
}

/** The simulated cloud and vmpool's roles as separate processes on the benchmark's Redis, under a fresh key prefix. */
export interface Cluster {
  config: Readonly<Config>;
  prefix: string;
  simUrl: string;
  /** One per web process. */
  apiUrls: string[];
  processes: RoleProcess[];
  /** SIGTERM to every process at once, as a platform restart does; one line per process that did not exit 0. */
  stop(): Promise<string[]>;
}

const SCRIPTS: Record<ProcessRole, string> = { sim: 'sim.js', producer: 'producer.js', booter: 'booter.js', web: 'api.js' };

export async function startCluster(bench: BenchEnv, spec: ClusterSpec): Promise<Cluster> {
  const simUrl = `http://127.0.0.1:${await freePort()}`;
  const prefix = `{vmpool-bench-${randomBytes(3).toString('hex')}}`;
  const files = loadConfig();
  const raw = mergeDeep(spec.overrides, {
    redis: { url: bench.redisUrl, prefix },
    log: { level: spec.logLevel, pretty: false },
    ssh: { privateKeyPath: bench.keyPath },
    sim: { port: Number(new URL(simUrl).port), authorizedKeyPath: `${bench.keyPath}.pub` },
    // The rate budget's parsed durations are numbers, which the schema would refuse as text: the provider's defaults apply.
    providers: files.providers.filter((p) => p.name === 'sim').map(({ rateBudget: _parsed, ...p }) => ({ ...p, endpoint: simUrl })),
  });
  const config = loadConfig(raw);
  // Set explicitly: these variables override $NODE_CONFIG, and the caller's shell may hold its own.
  const env = { NODE_CONFIG: JSON.stringify(raw), REDIS_URL: bench.redisUrl, LOG_LEVEL: spec.logLevel, LOG_PRETTY: 'false', HTTP_HOST: '127.0.0.1', API_TOKEN: bench.apiToken };
  const processes: RoleProcess[] = [];
  const start = (role: ProcessRole, extra: Record<string, string> = {}) => {
    const n = processes.filter((p) => p.role === role).length + 1;
    const child = runWorker(SCRIPTS[role], [], { ...env, ...extra }, profileArgs(spec.profileDir, `${role}-${n}`));
    bench.adopt(child);
    processes.push({ role, child });
  };
  const stop = async () => {
    const codes = await Promise.all(processes.map((p) => p.child.stop(10_000)));
    return processes.flatMap((p, i) => (codes[i] === 0 ? [] : [`${p.role} (pid ${p.child.pid}) exit ${codes[i]}: ${p.child.output().slice(-800)}`]));
  };
  try {
    start('sim');
    await waitUntilAnswering(`${simUrl}/v1/sim/zones`, processes);
    const apiUrls: string[] = [];
    for (let i = 0; i < spec.webs; i++) {
      const port = await freePort();
      apiUrls.push(`http://127.0.0.1:${port}`);
      start('web', { PORT: String(port) });
    }
    for (let i = 0; i < spec.producers; i++) start('producer');
    for (let i = 0; i < spec.booters; i++) start('booter');
    for (const url of apiUrls) await waitUntilAnswering(`${url}/healthz`, processes);
    return { config, prefix, simUrl, apiUrls, processes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// A folder per process: a forked child (the sim's exec host) inherits the flags and writes beside its parent.
function profileArgs(dir: string | undefined, name: string): string[] {
  return dir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(dir, name)}`];
}

/** Polls `url` until it answers 200; fails as soon as a process has exited. */
async function waitUntilAnswering(url: string, processes: readonly RoleProcess[]): Promise<void> {
  const exited = () => processes.find((p) => p.child.process.exitCode !== null || p.child.process.signalCode !== null);
  const answered = async () => exited() ?? (await fetch(url).catch(() => undefined))?.ok;
  const result = await waitFor(answered, { timeoutMs: 60_000, everyMs: 100, what: `${url} to answer` });
  if (typeof result === 'object') throw new Error(`${result.role} exited at start:\n${result.child.output().slice(-2000)}`);
}

/** The benchmarks' one pool on the simulated cloud, in every zone, with the shipped prepare step. */
export function benchPool(name: string, extra: { warm: number; max: number; bootTimeout: string; scaleInCooldown: string }): Record<string, unknown> {
  return {
    name,
    provider: 'sim',
    zones: [],
    imageId: 'ami-vmpool-small',
    instanceTypes: ['t3.small'],
    ...extra,
    prepare: { steps: [{ name: 'write-marker', run: 'echo prepared > prepared.txt', timeout: '10s' }] },
  };
}
