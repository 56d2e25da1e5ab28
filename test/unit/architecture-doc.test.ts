import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STATES, canTransition } from '../../src/machines/machine.js';

const root = join(import.meta.dirname, '..', '..');

/** The arrows `a --> b` of the first Mermaid state diagram in docs/architecture.md (start and end markers left out). */
function diagramArrows(): string[] {
  const doc = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
  const block = /```mermaid\n(stateDiagram-v2\n[\s\S]*?)```/.exec(doc)?.[1];
  if (!block) throw new Error('docs/architecture.md has no Mermaid state diagram');
  return [...block.matchAll(/^\s*(\S+)\s*-->\s*(\S+?)\s*(?::.*)?$/gm)]
    .filter(([, from, to]) => from !== '[*]' && to !== '[*]')
    .map(([, from, to]) => `${from} --> ${to}`);
}

function tableArrows(): string[] {
  return STATES.flatMap((from) => STATES.filter((to) => canTransition(from, to)).map((to) => `${from} --> ${to}`));
}

describe('the machine state diagram in docs/architecture.md', () => {
  it('draws every transition of the table in src/machines/machine.ts, and no other', () => {
    const drawn = diagramArrows();
    expect(new Set(drawn).size).toBe(drawn.length);
    expect([...drawn].sort()).toEqual(tableArrows().sort());
  });

  it('shows every machine state', () => {
    const named = new Set(diagramArrows().flatMap((arrow) => arrow.split(' --> ')));
    expect([...named].sort()).toEqual([...STATES].sort());
  });
});
