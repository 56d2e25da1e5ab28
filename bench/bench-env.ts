import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ensureKeyPair } from '../src/local/key-pair.js';
import { startRedisServer } from '../src/local/redis-server.js';
import type { Child } from '../src/local/worker-process.js';

/** What one benchmark invocation owns, and stops at its end whatever happens. */
export interface BenchEnv {
  redisUrl: string;
  /** The redis-server's process, for its CPU time and memory. */
  redisPid: number;
  /** The benchmark's own connection, for reading what the processes did. */
  redis: Redis;
  /** A throwaway login key pair (`.pub` beside it). */
  keyPath: string;
  /** Bearer token the web processes require, so a token in the caller's environment cannot get in the way. */
  apiToken: string;
  /** Registers a process, so an interrupted benchmark still stops it. */
  adopt(child: Child): void;
  /** Stops every adopted process still running, the redis-server, and removes the key pair. */
  close(): Promise<void>;
}

/**
 * A throwaway redis-server on a free loopback port (its command statistics
 * are the benchmark's alone) and a login key. Ctrl-C stops everything: the
 * processes live in their own process groups, out of the terminal's reach.
 */
export async function openBench(): Promise<BenchEnv> {
  const server = await startRedisServer();
  const keyDir = mkdtempSync(join(tmpdir(), 'vmpool-bench-'));
  const keyPath = join(keyDir, 'id_ed25519');
  ensureKeyPair(keyPath);
  const redis = new Redis(server.url, { maxRetriesPerRequest: null });
  const children = new Set<Child>();
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await Promise.all([...children].map((child) => child.stop(5_000)));
      await redis.quit().catch(() => redis.disconnect());
      await server.stop();
      rmSync(keyDir, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`bench: ${signal}: stopping every process it started\n`);
    void close().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // The last resort when the benchmark dies of an error: no process left behind.
  process.once('exit', () => {
    for (const child of children) void child.kill();
  });
  return {
    redisUrl: server.url,
    redisPid: server.pid,
    redis,
    keyPath,
    apiToken: randomBytes(16).toString('hex'),
    adopt: (child) => {
      children.add(child);
      void child.exited.then(() => children.delete(child));
    },
    close,
  };
}

/**
 * Runs each step on one benchmark environment, each on an empty Redis,
 * printing its label and how long it took; the environment (its Redis and
 * every process) is stopped whatever happens.
 */
export async function runSteps<T>(steps: readonly { label: string; run(bench: BenchEnv): Promise<T> }[]): Promise<T[]> {
  const bench = await openBench();
  const results: T[] = [];
  try {
    for (const step of steps) {
      process.stdout.write(`${step.label} ... `);
      const t0 = Date.now();
      results.push(await step.run(bench));
      await bench.redis.flushall();
      process.stdout.write(`${Math.round((Date.now() - t0) / 1000)} s\n`);
    }
  } finally {
    await bench.close();
  }
  return results;
}
