import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';
import { mergeDeep, rawDefaults } from '../helpers/test-config.js';

function parse(sim: Record<string, unknown>) {
  return parseConfig(mergeDeep(rawDefaults(), { sim }), { baseDir: '/srv/vmpool' });
}

function problemsOf(sim: Record<string, unknown>): string[] {
  try {
    parse(sim);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('sim.consistency and sim.throttling', () => {
  it('default to an eventually consistent cloud (0-2s) without throttling', () => {
    const { sim } = parse({});
    expect(sim.consistency.delay).toEqual({ minMs: 0, maxMs: 2000 });
    expect(sim.throttling).toEqual({ enabled: false, actions: {} });
  });

  it('read a delay range and per-action buckets', () => {
    const { sim } = parse({ consistency: { delay: '0-2s' }, throttling: { enabled: true, actions: { RunInstances: { request: { size: 2, refill: 0.5 } } } } });
    expect(sim.consistency.delay).toEqual({ minMs: 0, maxMs: 2000 });
    expect(sim.throttling.actions.RunInstances).toEqual({ request: { size: 2, refill: 0.5 } });
  });

  it('name the key and the reason for a bad delay, bucket or action name', () => {
    const problems = problemsOf({ consistency: { delay: '2s-1s' }, throttling: { actions: { RunInstances: { request: { size: 0, refill: 1 } }, runinstances: {} } } });
    expect(problems.some((p) => p.includes('sim.consistency.delay') && p.includes('"2s-1s"'))).toBe(true);
    expect(problems.some((p) => p.includes('sim.throttling.actions.RunInstances.request.size') && p.includes('> 0'))).toBe(true);
    expect(problems.some((p) => p.includes('runinstances') && p.includes('EC2 action name')), problems.join(' / ')).toBe(true);
  });
});

describe('sim.images and sim.offerings', () => {
  it('default to the images and instance types the default pools launch, in every zone', () => {
    const config = parseConfig(rawDefaults(), { baseDir: '/srv/vmpool' });
    for (const pool of config.pools) {
      expect(config.sim.images).toContain(pool.imageId);
      for (const type of pool.instanceTypes) expect(config.sim.offerings['*']).toContain(type);
    }
  });

  it('name the key and the reason for an image id that is not one and a zone the sim does not have', () => {
    const problems = problemsOf({ images: ['vmpool-small'], offerings: { 'zone-z': ['t3.small'] } });
    expect(problems.some((p) => p.startsWith('sim.images.0:') && p.includes('"vmpool-small"')), problems.join(' / ')).toBe(true);
    expect(problems.some((p) => p.startsWith('sim.offerings.zone-z:') && p.includes('zone-a, zone-b, zone-c')), problems.join(' / ')).toBe(true);
  });
});
