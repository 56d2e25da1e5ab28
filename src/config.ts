import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Load } from 'config/lib/util.js';
import type { z } from 'zod';
import { configSchema, type Config } from './config-schema.js';

export type { Config, PoolConfig, ProviderConfig, SimConfig, SshConfig, PrepareStep, AgentConfig, RegistryConfig } from './config-schema.js';

/** Thrown when config is invalid; `problems` holds one `path.to.key: reason` line each. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface ParseOptions {
  /** Relative file paths in config are resolved against this folder. */
  baseDir?: string;
}

/**
 * Validates raw config (as merged from files and env) and returns it typed,
 * with durations in ms, pool zone lists filled in, paths absolute, frozen.
 * Pure: reads no file and no environment. Reports every problem at once.
 */
export function parseConfig(raw: unknown, options: ParseOptions = {}): Readonly<Config> {
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues));
  const config = result.data;
  const baseDir = options.baseDir ?? process.cwd();
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  config.ssh.privateKeyPath = absolute(config.ssh.privateKeyPath);
  config.sim.authorizedKeyPath = absolute(config.sim.authorizedKeyPath);
  for (const pool of config.pools) {
    if (pool.zones.length > 0) continue;
    const provider = config.providers.find((p) => p.name === pool.provider);
    pool.zones = (provider?.zones ?? []).map((zone) => `${pool.provider}/${zone.name}`);
  }
  return deepFreeze(config);
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) => {
    const at = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${at ? `${at}.` : ''}${key}: unknown key`);
    }
    return [`${at || '(root)'}: ${issue.message}`];
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The folder holding package.json, found from this module's location so the CLI works from any cwd. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

/**
 * The one reader of config files and environment: node-config layering
 * (default.yaml, $NODE_ENV.yaml, local.yaml, custom-environment-variables.yaml)
 * from `$NODE_CONFIG_DIR` or the package's `config/`, then `$NODE_CONFIG`, then `overrides` (what a
 * process decides at start, such as the port of the Redis it launched), then
 * validation.
 */
export function loadConfig(overrides: Record<string, unknown> = {}): Readonly<Config> {
  const root = packageRoot();
  process.env.NODE_CONFIG_DIR ??= join(root, 'config');
  let raw: Record<string, unknown>;
  try {
    raw = Load.fromEnvironment(process.env.NODE_CONFIG_ENV ?? process.env.NODE_ENV ?? 'development').scan() as Record<string, unknown>;
  } catch (err) {
    // A file that does not parse, or an env var that is not the JSON its mapping asks for.
    throw new ConfigError([err instanceof Error ? err.message : String(err)]);
  }
  return parseConfig(mergeDeep(mergeDeep(raw, inlineConfig()), overrides), { baseDir: root });
}

/** `$NODE_CONFIG`: JSON merged over the files, as node-config documents it. */
function inlineConfig(): Record<string, unknown> {
  const text = process.env.NODE_CONFIG;
  if (!text) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (isPlainObject(parsed)) return parsed;
  } catch {
    // reported below
  }
  throw new ConfigError(['NODE_CONFIG: expected a JSON object']);
}

/** `extra` over `base`, objects merged key by key, arrays and values replaced: node-config's layering. */
export function mergeDeep(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] =
      isPlainObject(current) && isPlainObject(value) ? mergeDeep(current, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
