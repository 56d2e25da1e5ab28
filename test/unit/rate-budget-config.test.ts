import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';
import { mergeDeep, rawDefaults } from '../helpers/test-config.js';

const provider = (rateBudget: Record<string, unknown>) => ({ ...(rawDefaults().providers as Record<string, unknown>[])[0], rateBudget });

function parse(rateBudget: Record<string, unknown>) {
  return parseConfig(mergeDeep(rawDefaults(), { providers: [provider(rateBudget)] }), { baseDir: '/srv/vmpool' });
}

function problemsOf(rateBudget: Record<string, unknown>): string[] {
  try {
    parse(rateBudget);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('providers[].rateBudget', () => {
  it("ships shared, with EC2's buckets (no replacements), a 1 s first backoff doubling up to 20 s, and a 200 ms margin", () => {
    const config = parseConfig(rawDefaults(), { baseDir: '/srv/vmpool' });
    expect(config.providers[0]!.rateBudget).toEqual({ shared: true, firstBackoff: 1_000, maxBackoff: 20_000, margin: 200, actions: {} });
  });

  it('reads per-action buckets and shared: false', () => {
    const budget = parse({ shared: false, actions: { RunInstances: { request: { size: 10, refill: 4 } } } }).providers[0]!.rateBudget;
    expect(budget.shared).toBe(false);
    expect(budget.actions.RunInstances).toEqual({ request: { size: 10, refill: 4 } });
  });

  it('names a bucket that never refills, an action name EC2 does not spell so, and a maxBackoff below firstBackoff', () => {
    expect(problemsOf({ actions: { RunInstances: { request: { size: 5, refill: 0 } }, runinstances: {} } })).toEqual(
      expect.arrayContaining([
        'providers.0.rateBudget.actions.RunInstances.request.refill: expected a number > 0, got 0',
        'providers.0.rateBudget.actions.runinstances: expected an EC2 action name like RunInstances, got "runinstances"',
      ]),
    );
    expect(problemsOf({ firstBackoff: '5s', maxBackoff: '1s' })).toEqual(['providers.0.rateBudget.maxBackoff: expected at least firstBackoff (5s), got 1s']);
  });
});
