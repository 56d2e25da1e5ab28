import { describe, expect, it } from 'vitest';
import { canaryTrips } from '../../src/agent/canary-guard.js';
import { parseReference, shellQuote } from '../../src/agent/reference.js';
import { idShare, versionFor, wantedVersions, type Rollout } from '../../src/agent/rollout.js';
import { judgeChecks } from '../../src/agent/verify.js';
import { replacementBudget } from '../../src/pool/rollout-replace.js';
import { newMachineId } from '../../src/machines/machine.js';

const rollout = (extra: Partial<Rollout> = {}): Rollout => ({ image: 'vmpool/build-agent', version: '1.5.0', source: 'config', ...extra });
const ids = (n: number) => Array.from({ length: n }, (_, i) => newMachineId(1_800_000_000_000 + i * 997, () => (i * 2654435761 >>> 0).toString(16).padStart(8, '0')));

describe('canary version choice', () => {
  it('gives the canary to its share of machines, within 1.5 points over 20,000 ids', () => {
    for (const share of [0.05, 0.1, 0.5]) {
      const canary = ids(20_000).filter((id) => versionFor(id, rollout({ canary: { version: '1.6.0', share } })) === '1.6.0').length;
      expect(Math.abs(canary / 20_000 - share)).toBeLessThan(0.015);
    }
  });

  it('is a function of the id alone: the same id always gets the same version', () => {
    const r = rollout({ canary: { version: '1.6.0', share: 0.3 } });
    const first = ids(500).map((id) => versionFor(id, r));
    expect(ids(500).map((id) => versionFor(id, r))).toEqual(first);
    expect(new Set(first)).toEqual(new Set(['1.5.0', '1.6.0']));
    const shares = ids(100).map(idShare);
    expect(Math.min(...shares)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...shares)).toBeLessThan(1);
  });

  it('gives nobody a halted canary, and then wants only the stable version', () => {
    const halted = rollout({ canary: { version: '1.6.0', share: 1 }, canaryHalted: { version: '1.6.0', reason: 'r', since: 0 } });
    expect(new Set(ids(200).map((id) => versionFor(id, halted)))).toEqual(new Set(['1.5.0']));
    expect(wantedVersions(halted)).toEqual(new Set(['1.5.0']));
    expect(wantedVersions(rollout({ canary: { version: '1.6.0', share: 0.1 } }))).toEqual(new Set(['1.5.0', '1.6.0']));
  });

  it('ignores a halt of an older canary once another canary is set', () => {
    const r = rollout({ canary: { version: '1.7.0', share: 1 }, canaryHalted: { version: '1.6.0', reason: 'r', since: 0 } });
    expect(versionFor('m-any', r)).toBe('1.7.0');
  });
});

describe('canary guard', () => {
  const guard = { failureRatio: 3, minFailures: 5 };

  it('halts at 3x the stable failure rate with at least 5 failures', () => {
    expect(canaryTrips({ ok: 5, failed: 5 }, { ok: 85, failed: 15 }, guard)).toMatch(/canary failed prepare on 5 of 10 machines \(50%\), stable on 15 of 100 \(15%\)/);
  });

  it('does not halt below the ratio, below the minimum count, or when the stable version fails as often', () => {
    expect(canaryTrips({ ok: 5, failed: 5 }, { ok: 80, failed: 20 }, guard)).toBeUndefined(); // 50% < 3 x 20%
    expect(canaryTrips({ ok: 0, failed: 4 }, { ok: 100, failed: 0 }, guard)).toBeUndefined();
    expect(canaryTrips({ ok: 0, failed: 9 }, { ok: 0, failed: 30 }, guard)).toBeUndefined();
  });

  it('halts on the minimum count alone when the stable version never failed', () => {
    expect(canaryTrips({ ok: 20, failed: 5 }, { ok: 100, failed: 0 }, guard)).toBeDefined();
  });
});

describe('agent references and pull commands', () => {
  it('parses image:tag at the last colon and refuses what the registry grammar refuses', () => {
    expect(parseReference('vmpool/build-agent:1.5.0')).toEqual({ image: 'vmpool/build-agent', tag: '1.5.0' });
    for (const bad of ['vmpool/build-agent', 'Vmpool/x:1', 'x:1 2', 'x:$(id)', ':1']) expect(parseReference(bad)).toBeUndefined();
  });

  it('quotes a value for the shell only where needed', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('1.5.0')).toBe('1.5.0');
  });
});

describe('verify judgement', () => {
  const check = (registry: string, extra: Record<string, unknown>) => ({ registry, url: `http://${registry}`, image: 'a/b', present: true, ...extra });

  it('accepts a tag present everywhere with one digest', () => {
    expect(judgeChecks([check('p', { digest: 'sha256:1' }), check('s', { digest: 'sha256:1' })], '1.0')).toEqual([]);
  });

  it('names a registry lacking the tag, one that could not be asked, and differing digests', () => {
    const problems = judgeChecks(
      [check('p', { digest: 'sha256:1' }), check('s', { digest: 'sha256:2' }), check('q', { present: false }), check('r', { present: false, error: 'RegistryError: down' })],
      '1.0',
    );
    expect(problems).toEqual(['q: has no a/b:1.0', 'r: could not check a/b:1.0: RegistryError: down', 'a/b:1.0 differs between registries: p sha256:1, s sha256:2']);
  });
});

describe('rollout replacement budget', () => {
  it('replaces at most a share of the target at once, at least one, less what is already booting', () => {
    expect(replacementBudget(3, 0, 0.34)).toBe(1);
    expect(replacementBudget(3, 1, 0.34)).toBe(0);
    expect(replacementBudget(100, 10, 0.25)).toBe(15);
    expect(replacementBudget(0, 0, 0.25)).toBe(1);
  });
});
