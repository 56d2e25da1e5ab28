import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/** Every EC2 API call the code can send: each SDK `XCommand` class it constructs is the action `ec2:X`. */
function actionsTheCodeSends(): Set<string> {
  const dir = join(root, 'src', 'providers');
  const actions = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    for (const match of readFileSync(join(dir, file), 'utf8').matchAll(/new (\w+)Command\(/g)) actions.add(`ec2:${match[1]}`);
  }
  return actions;
}

interface Statement { Effect: string; Action: string | string[]; Resource: string | string[] }

function actionsThePolicyAllows(): Set<string> {
  const policy = JSON.parse(readFileSync(join(root, 'docs', 'iam-policy.json'), 'utf8')) as { Statement: Statement[] };
  return new Set(policy.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => [s.Action].flat()));
}

describe('docs/iam-policy.json', () => {
  it('allows every EC2 action the providers send, and nothing else', () => {
    const sent = actionsTheCodeSends();
    expect(sent.size).toBeGreaterThan(0);
    expect([...actionsThePolicyAllows()].sort()).toEqual([...sent].sort());
  });

  it('grants no wildcard action and scopes termination to vmpool-managed instances', () => {
    const policy = JSON.parse(readFileSync(join(root, 'docs', 'iam-policy.json'), 'utf8')) as { Statement: (Statement & { Condition?: Record<string, Record<string, string>> })[] };
    for (const s of policy.Statement) for (const action of [s.Action].flat()) expect(action).not.toContain('*');
    const terminate = policy.Statement.filter((s) => [s.Action].flat().includes('ec2:TerminateInstances'));
    expect(terminate.length).toBeGreaterThan(0);
    for (const s of terminate) expect(s.Condition?.StringEquals?.['ec2:ResourceTag/vmpool:managed']).toBe('true');
  });
});
