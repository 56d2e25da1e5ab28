import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, packageRoot } from '../../src/config.js';

const saved = { ...process.env };
let dir: string | undefined;

function configDir(files: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), 'vmpool-config-'));
  for (const name of ['default.yaml', 'custom-environment-variables.yaml']) copyFileSync(join(packageRoot(), 'config', name), join(dir, name));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

afterEach(() => {
  process.env = { ...saved };
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('loadConfig layering', () => {
  it('layers default.yaml < $NODE_ENV.yaml < local.yaml < environment variables', () => {
    process.env.NODE_CONFIG_DIR = configDir({
      'staging.yaml': 'producer:\n  reconcileEvery: 10s\nbooter:\n  concurrency: 7\n',
      'local.yaml': 'booter:\n  concurrency: 9\nhttp:\n  port: 9000\n',
    });
    process.env.NODE_ENV = 'staging';
    process.env.PORT = '9100';
    process.env.API_TOKEN = 'from-env';
    const config = loadConfig();
    expect(config.producer.reconcileEvery).toBe(10_000);
    expect(config.booter.concurrency).toBe(9);
    expect(config.http.port).toBe(9100);
    expect(config.http.token).toBe('from-env');
    expect(config.producer.launchConcurrency).toBe(10);
  });

  it('stops with the key and the reason when a file holds a bad value', () => {
    process.env.NODE_CONFIG_DIR = configDir({ 'local.yaml': 'booter:\n  concurrency: lots\n' });
    process.env.NODE_ENV = 'development';
    expect(() => loadConfig()).toThrow(ConfigError);
    expect(() => loadConfig()).toThrow('booter.concurrency: expected a whole number >= 1, got "lots"');
  });

  it('refuses a non-numeric PORT with the key it maps to', () => {
    process.env.NODE_CONFIG_DIR = configDir({});
    process.env.NODE_ENV = 'development';
    process.env.PORT = '"eighty"';
    expect(() => loadConfig()).toThrow('http.port: expected a whole number >= 0, got "eighty"');
  });

  it('reports an environment variable that does not parse as a config error naming it', () => {
    process.env.NODE_CONFIG_DIR = configDir({});
    process.env.NODE_ENV = 'development';
    process.env.PORT = 'eighty';
    expect(() => loadConfig()).toThrow(ConfigError);
    expect(() => loadConfig()).toThrow('PORT');
  });
});
