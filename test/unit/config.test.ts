import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { ConfigError, packageRoot, parseConfig } from '../../src/config.js';
import { mergeDeep, rawDefaults } from '../helpers/test-config.js';

function problemsOf(overrides: Record<string, unknown>): string[] {
  try {
    parseConfig(mergeDeep(rawDefaults(), overrides), { baseDir: '/srv/vmpool' });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const pool = (extra: Record<string, unknown>) => ({ ...(rawDefaults().pools as Record<string, unknown>[])[0], ...extra });

describe('parseConfig', () => {
  it('accepts the shipped defaults, with durations in ms and pool zones filled in', () => {
    const config = parseConfig(rawDefaults(), { baseDir: '/srv/vmpool' });
    expect(config.producer.reconcileEvery).toBe(5_000);
    expect(config.pools.map((p) => p.name)).toEqual(['small', 'large']);
    expect(config.pools[0]!.zones).toEqual(['sim/zone-a', 'sim/zone-b', 'sim/zone-c']);
    expect(config.pools[0]!.prepare.steps[0]!.timeout).toBe(10_000);
    expect(config.ssh.privateKeyPath).toBe('/srv/vmpool/.vmpool/keys/id_ed25519');
  });

  it('returns a frozen object', () => {
    const config = parseConfig(rawDefaults());
    expect(Object.isFrozen(config.pools[0])).toBe(true);
  });

  it('names an unknown key, so typos do not pass silently', () => {
    expect(problemsOf({ producer: { reconcileEvry: '5s' } })).toEqual(['producer.reconcileEvry: unknown key']);
  });

  it('names a bad duration with what was given', () => {
    expect(problemsOf({ producer: { reconcileEvery: '5 minutes' } })).toEqual([
      'producer.reconcileEvery: expected a duration like "30s" or "5m", got "5 minutes"',
    ]);
  });

  it('names a bad number with its array index', () => {
    expect(problemsOf({ pools: [pool({ warm: 'three' })] })).toEqual(['pools.0.warm: expected a whole number >= 0, got "three"']);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf({ pools: [pool({ warm: -1, max: 1.5, wram: 2 })], booter: { concurrency: 0 } });
    expect(problems).toEqual(
      expect.arrayContaining([
        'pools.0.wram: unknown key',
        'pools.0.warm: expected a whole number >= 0, got -1',
        'pools.0.max: expected a whole number >= 0, got 1.5',
        'booter.concurrency: expected a whole number >= 1, got 0',
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it('rejects a pool naming an unknown provider or zone, and warm above max', () => {
    expect(problemsOf({ pools: [pool({ provider: 'nope' })] })).toEqual(['pools.0.provider: no provider named "nope"']);
    expect(problemsOf({ pools: [pool({ zones: ['sim/zone-z'] })] })).toEqual([
      'pools.0.zones.0: expected one of sim/zone-a, sim/zone-b, sim/zone-c, got "sim/zone-z"',
    ]);
    expect(problemsOf({ pools: [pool({ warm: 5, max: 2 })] })).toEqual(['pools.0.warm: expected at most max (2), got 5']);
  });

  it('names a schedule entry whose cron pattern does not parse', () => {
    const problems = problemsOf({ pools: [pool({ schedule: [{ cron: '0 20 * * 1-5', warm: 1 }, { cron: 'every night', warm: 0 }] })] });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^pools\.0\.schedule\.1\.cron: expected a cron pattern like "0 20 \* \* 1-5" in time zone UTC, got "every night"/);
  });

  it('ships a breaker that judges a zone on its last 2 x minOutcomes outcomes, never grows its open period, and sends one probe', () => {
    const { breaker } = parseConfig(rawDefaults());
    expect(breaker).toMatchObject({ minOutcomes: 5, recentOutcomes: 10, openFor: 120_000, maxOpenFor: 120_000, probes: 1 });
  });

  it('keeps an operator\'s maxOpenFor and recentOutcomes, and names either when it is below what it must cover', () => {
    const { breaker } = parseConfig(mergeDeep(rawDefaults(), { breaker: { maxOpenFor: '30m', recentOutcomes: 20 } }));
    expect(breaker).toMatchObject({ maxOpenFor: 1_800_000, recentOutcomes: 20 });
    expect(problemsOf({ breaker: { openFor: '2m', maxOpenFor: '1m', recentOutcomes: 4 } })).toEqual([
      'breaker.recentOutcomes: expected null (twice minOutcomes) or at least minOutcomes (5), got 4',
      'breaker.maxOpenFor: expected null (no growth) or at least openFor (2m), got 1m',
    ]);
  });

  it('requires a token when the environment requires one', () => {
    expect(problemsOf({ http: { requireToken: true } })).toEqual(['http.token: required when http.requireToken is true (set API_TOKEN)']);
  });

  it('refuses a production token shorter than 24 characters, saying why', () => {
    expect(problemsOf({ http: { requireToken: true, token: 'short-token-23-chars-xx' } })).toEqual([
      'http.token: expected at least 24 characters when http.requireToken is true: a short token can be guessed (try: openssl rand -hex 24)',
    ]);
    expect(problemsOf({ http: { requireToken: true, token: 'a-token-of-24-characters' } })).toEqual([]);
    expect(problemsOf({ http: { token: 'dev' } })).toEqual([]);
  });

  it('requires allowed host names when the API listens beyond loopback, where every Host would be refused', () => {
    expect(problemsOf({ http: { host: '0.0.0.0' } })).toEqual([
      'http.allowedHosts: required when http.host (0.0.0.0) takes connections from the network: list the names clients use, e.g. ["vmpool.example.com"], or ["*"] when a load balancer checks the Host (HTTP_ALLOWED_HOSTS)',
    ]);
    expect(problemsOf({ http: { host: '0.0.0.0', allowedHosts: ['vmpool.example.com'] } })).toEqual([]);
  });

  it('protects reads in production only, and names a bad allowed host list or listing period', () => {
    const production = yaml.load(readFileSync(join(packageRoot(), 'config', 'production.yaml'), 'utf8')) as { http: Record<string, unknown> };
    expect(production.http.protectReads).toBe(true);
    expect(parseConfig(rawDefaults()).http).toMatchObject({ protectReads: false, allowedHosts: [], recoveryListEvery: 10_000 });
    expect(problemsOf({ http: { allowedHosts: 'example.com', recoveryListEvery: 'often' } })).toEqual([
      'http.allowedHosts: expected a list of host names, got "example.com"',
      'http.recoveryListEvery: expected a duration like "30s" or "5m", got "often"',
    ]);
  });

  it('defaults the zone strategy to the Redis breaker and names an unknown one', () => {
    expect(parseConfig(rawDefaults()).zones.strategy).toBe('redis-breaker');
    expect(problemsOf({ zones: { strategy: 'magic' } })).toEqual(['zones.strategy: expected one of redis-breaker, no-breaker, local-breaker, got "magic"']);
  });

  it('rejects a key prefix without a Redis Cluster hash tag', () => {
    expect(problemsOf({ redis: { prefix: 'vmpool' } })).toEqual(['redis.prefix: expected a hash tag like "{vmpool}", got "vmpool"']);
  });
});

describe('parseConfig: the build agent', () => {
  const agent = (extra: Record<string, unknown>) => ({ ...(pool({}).prepare as { agent: Record<string, unknown> }).agent, ...extra });
  const withAgent = (extra: Record<string, unknown>) => ({ pools: [pool({ prepare: { agent: agent(extra), steps: [] } })] });

  it('reads the shipped agent section: registries in order, the pull timeout in ms, no canary', () => {
    const config = parseConfig(rawDefaults());
    expect(config.pools[0]!.prepare.agent).toMatchObject({ image: 'vmpool/build-agent', registries: ['primary', 'secondary'], pullTimeout: 20_000, canary: null, timeoutsAreZoneFaults: true });
    expect(config.registries.map((r) => r.name)).toEqual(['primary', 'secondary']);
    expect(config.pools[0]!.prepare.steps[0]!.zoneFault).toBe('timeout');
  });

  it('defaults the pull command to docker pull', () => {
    const { pullCommand: _omitted, ...rest } = agent({});
    const config = parseConfig(mergeDeep(rawDefaults(), { pools: [pool({ prepare: { agent: rest, steps: [] } })] }));
    expect(config.pools[0]!.prepare.agent!.pullCommand).toBe('docker pull {registry}/{image}:{version}');
  });

  it('names a registry the pool uses but nobody configured', () => {
    expect(problemsOf(withAgent({ registries: ['primary', 'quay'] }))).toEqual(['pools.0.prepare.agent.registries.1: no registry named "quay" in registries']);
  });

  it('refuses a version or canary that is not an image tag (it ends up in a shell command)', () => {
    expect(problemsOf(withAgent({ version: '1.0; rm -rf ~', canary: { version: '2.0', share: 1.5 } }))).toEqual([
      'pools.0.prepare.agent.version: expected an image tag (letters, digits, _ . -; at most 128), got "1.0; rm -rf ~"',
      'pools.0.prepare.agent.canary.share: expected a number from 0 to 1, got 1.5',
    ]);
  });

  it('refuses an unknown zoneFault policy and a registry URL that is not http(s)', () => {
    const steps = [{ name: 'a', run: 'true', zoneFault: 'sometimes' }];
    expect(problemsOf({ registries: [{ name: 'primary', url: 'ftp://x' }, { name: 'secondary', url: 'http://127.0.0.1:1' }], pools: [pool({ prepare: { agent: agent({}), steps } })] })).toEqual([
      'pools.0.prepare.steps.0.zoneFault: expected "timeout", "always" or "never", got "sometimes"',
      'registries.0.url: expected an http(s) URL, got "ftp://x"',
    ]);
  });
});
