import { describe, expect, it } from 'vitest';
import { belowTarget, type BelowTargetInput } from '../../src/pool/below-target.js';

const zero = { requested: 0, launching: 0, booting: 0, preparing: 0, ready: 0, leased: 0, failed: 0, terminating: 0 };
const zones = ['sim/zone-a', 'sim/zone-b', 'sim/zone-c'].map((zone) => ({ zone, state: 'closed', failures: 0 }));
type Extra = Partial<Omit<BelowTargetInput, 'machines'>> & { machines?: Partial<BelowTargetInput['machines']> };
const pool = (extra: Extra): BelowTargetInput => ({
  name: 'small',
  target: 3,
  max: 10,
  waiting: 0,
  zones,
  ...extra,
  machines: { ...zero, ...extra.machines },
});

describe('why a pool is below its target', () => {
  it('says nothing for a pool at its target', () => {
    expect(belowTarget(pool({ machines: { ready: 3 } }))).toBeUndefined();
  });

  it('at max: counts the leases holding the pool there and says how to find them', () => {
    expect(belowTarget(pool({ max: 4, machines: { ready: 1, leased: 3 } }))).toEqual({
      kind: 'at-max',
      reason: 'at max: 4 of 4 machines live, 3 of them leased; release the leases you no longer need (vmpool leases small)',
    });
  });

  it('halted: the halt reason and the resume command, before anything else', () => {
    expect(belowTarget(pool({ max: 1, halted: { reason: 'AuthFailure' }, machines: { leased: 1 } }))).toEqual({ kind: 'halted', reason: 'launches halted: AuthFailure; after the fix: vmpool pool resume small' });
  });

  it('provider halted: the refusal and the provider resume command, before the max and the zones', () => {
    const refused = { provider: 'sim', reason: 'RunInstances refused: UnauthorizedOperation: not authorized' };
    expect(belowTarget(pool({ max: 1, providerHalted: refused, machines: { leased: 1 } }))).toEqual({
      kind: 'provider-halted',
      reason: 'provider sim halted: RunInstances refused: UnauthorizedOperation: not authorized; after the fix: vmpool provider resume sim',
    });
  });

  it('every zone open', () => {
    expect(belowTarget(pool({ zones: zones.map((z) => ({ ...z, state: 'open' })), machines: { booting: 1 } }))?.kind).toBe('every-zone-open');
  });

  it('refilling while machines boot', () => {
    expect(belowTarget(pool({ machines: { ready: 1, booting: 2 } }))).toEqual({ kind: 'refilling', reason: 'refilling: 2 booting' });
  });

  it('leases waiting for an agent version no ready machine has', () => {
    expect(belowTarget(pool({ target: 4, waiting: 1, machines: { ready: 3 } }))?.kind).toBe('waiting-for-version');
  });

  it('launches failing: names the zones with failures', () => {
    const failing = zones.map((z) => (z.zone === 'sim/zone-b' ? { ...z, state: 'half-open', failures: 5 } : z));
    expect(belowTarget(pool({ zones: failing, machines: { ready: 2 } }))).toEqual({ kind: 'launches-failing', reason: 'launches failing (sim/zone-b half-open); see vmpool breaker audit' });
  });
});
