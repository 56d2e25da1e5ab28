import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import yaml from 'js-yaml';
import { parseConfig, packageRoot, type Config } from '../../src/config.js';

/** The raw default.yaml, as an operator would start from. */
export function rawDefaults(): Record<string, unknown> {
  return yaml.load(readFileSync(join(packageRoot(), 'config', 'default.yaml'), 'utf8')) as Record<string, unknown>;
}

export function mergeDeep(base: unknown, extra: unknown): unknown {
  if (!isObject(base) || !isObject(extra)) return extra;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) out[key] = mergeDeep(out[key], value);
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The default sim registries (with their images) on the given ports, in order; free ports when none are given. */
export function simRegistryConfigs(ports: readonly number[] = []): Record<string, unknown>[] {
  const sim = rawDefaults().sim as { registries: Record<string, unknown>[] };
  return sim.registries.map((r, i) => ({ ...r, port: ports[i] ?? 0 }));
}

/** The top-level `registries` pointing at sim registries listening on `ports` (same order as the defaults). */
export function simRegistryUrls(ports: readonly number[]): { name: string; url: string }[] {
  return simRegistryConfigs(ports).map((r, i) => ({ name: String(r.name), url: `http://127.0.0.1:${ports[i]}` }));
}

/** The default sim images plus `ami-test`, the image tests that call the EC2 API directly launch. */
export function simTestImages(): string[] {
  return [...(rawDefaults().sim as { images: string[] }).images, 'ami-test'];
}

/** The run's throwaway login key pair (private key path; `.pub` beside it). */
export function testKeyPath(): string {
  return inject('keyPath');
}

/**
 * Default config with the test's Redis, a unique key prefix (tests share one
 * redis-server), a fresh key pair, quiet logs, fast boots, the sim on a free
 * port and throttling like EC2; `overrides` merged on top (arrays replace).
 */
export function testConfig(overrides: Record<string, unknown> = {}): Readonly<Config> {
  const key = testKeyPath();
  const base = mergeDeep(rawDefaults(), {
    redis: { url: inject('redisUrl'), prefix: `{vmpool-test-${randomBytes(4).toString('hex')}}` },
    log: { level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false },
    http: { port: 0 },
    ssh: { privateKeyPath: key, connectTimeout: '2s', retryEvery: '100ms' },
    // Off: tests count the cloud calls a producer makes; producer-preflight.test.ts turns it on.
    producer: { reconcileEvery: '500ms', preflightAtStart: false },
    booter: { describeEvery: '100ms' },
    // EC2's API throttling on, with its documented buckets, as vmpool meets it in production (issue 13).
    sim: { port: 0, bootDelay: '50ms', bootSpread: '100ms', authorizedKeyPath: `${key}.pub`, registries: simRegistryConfigs(), images: simTestImages(), throttling: { enabled: true } },
  });
  return parseConfig(mergeDeep(base, overrides));
}
