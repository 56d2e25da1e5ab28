import { describe, expect, it } from 'vitest';
import { canTransition, sourcesOf, STATES } from '../../src/machines/machine.js';

describe('machine transitions', () => {
  it('follows the lifecycle from requested to terminated', () => {
    const path = ['requested', 'launching', 'booting', 'preparing', 'ready', 'leased', 'terminating', 'terminated'] as const;
    for (let i = 0; i + 1 < path.length; i++) expect(canTransition(path[i]!, path[i + 1]!)).toBe(true);
  });

  it('never fails a leased machine: a build may be running on it', () => {
    expect(canTransition('leased', 'failed')).toBe(false);
    expect(sourcesOf('failed')).not.toContain('leased');
  });

  it('lets nothing leave terminated', () => {
    for (const to of STATES) expect(canTransition('terminated', to)).toBe(false);
  });

  it('only leases ready machines', () => {
    expect(sourcesOf('leased')).toEqual(['ready']);
  });

  it('can terminate from every live state', () => {
    expect(sourcesOf('terminating')).toEqual(['requested', 'launching', 'booting', 'preparing', 'ready', 'leased', 'failed']);
  });
});
