import { describe, expect, it } from 'vitest';
import type { PullCounters } from '../../src/agent/pull-counters.js';
import { RegistryAttemptFailed, RegistryGuards } from '../../src/agent/registry-guards.js';
import { pullAgent } from '../../src/boot/agent-image.js';
import type { ExecResult, SshSession } from '../../src/boot/ssh.js';
import type { AgentConfig, RegistryConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';

// README: "A registry that keeps failing is tried last by each booter (an
// opossum breaker per registry), never skipped": the image may be nowhere else.
const silent = createLogger({ level: 'silent', pretty: false });
const registries = [
  { name: 'primary', url: 'http://127.0.0.1:4601' },
  { name: 'secondary', url: 'http://127.0.0.1:4602' },
] as RegistryConfig[];
const agent = { image: 'vmpool/build-agent', pullCommand: 'pull {url} {image}:{version}', pullTimeout: 1_000, registries: ['primary', 'secondary'] } as unknown as AgentConfig;

/** A machine on which only the registries in `serving` have the image; remembers which registries it was asked to pull from, in order. */
function machine(serving: readonly string[]): { session: SshSession; asked: string[] } {
  const asked: string[] = [];
  const exec = (command: string): Promise<ExecResult> => {
    const registry = registries.find((r) => command.includes(r.url))!.name;
    asked.push(registry);
    return Promise.resolve(serving.includes(registry) ? { exitCode: 0, timedOut: false, output: 'pulled' } : { exitCode: 1, timedOut: false, output: 'manifest unknown' });
  };
  return { session: { exec } as unknown as SshSession, asked };
}

async function openBreaker(guards: RegistryGuards, registry: string): Promise<void> {
  for (let i = 0; i < 3; i++) await guards.run(registry, () => Promise.reject(new RegistryAttemptFailed('exit 1'))).catch(() => undefined);
  expect(guards.isOpen(registry)).toBe(true);
}

const deps = (guards: RegistryGuards) => ({ guards, pulls: { count: () => Promise.resolve() } as unknown as PullCounters, record: () => Promise.resolve(), outputBytes: 1_000 });

describe('agent pull order with a failing registry', () => {
  it('tries a registry whose breaker is open last, after the others, and still pulls from it when only it has the image', async () => {
    const guards = new RegistryGuards({ errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeout: 600_000 }, silent);
    try {
      await openBreaker(guards, 'primary');
      const { session, asked } = machine(['primary']);
      const outcome = await pullAgent(session, agent, registries, '1.5.0', deps(guards), silent);
      expect(outcome).toMatchObject({ ok: true, registry: 'primary' });
      expect(asked).toEqual(['secondary', 'primary']);
    } finally {
      guards.close();
    }
  });

  it('tries the primary first while its breaker is closed', async () => {
    const guards = new RegistryGuards({ errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeout: 600_000 }, silent);
    try {
      const { session, asked } = machine(['primary', 'secondary']);
      expect(await pullAgent(session, agent, registries, '1.5.0', deps(guards), silent)).toMatchObject({ ok: true, registry: 'primary' });
      expect(asked).toEqual(['primary']);
    } finally {
      guards.close();
    }
  });
});
