import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startRedisServer, type RedisServer } from '../../src/local/redis-server.js';
import { ensureKeyPair } from '../../src/local/key-pair.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** A throwaway ed25519 login key for the run (`.pub` beside it). */
    keyPath: string;
  }
}

let redis: RedisServer | undefined;
let keyDir: string | undefined;

/** One throwaway redis-server and one key pair for the whole run; tests isolate themselves by key prefix. */
export async function setup(project: TestProject): Promise<void> {
  redis = await startRedisServer();
  project.provide('redisUrl', redis.url);
  keyDir = mkdtempSync(join(tmpdir(), 'vmpool-test-keys-'));
  const keyPath = join(keyDir, 'id_ed25519');
  ensureKeyPair(keyPath);
  project.provide('keyPath', keyPath);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
}
