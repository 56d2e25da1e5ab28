import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runPrepare, type PrepareStep } from '../../src/boot/prepare.js';
import { connectSsh, type SshSession } from '../../src/boot/ssh.js';
import { createLogger, type Logger } from '../../src/log.js';
import { alive } from '../helpers/child.js';
import { startTestVm } from '../helpers/sim-vm.js';
import { testKeyPath } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';

const quiet = createLogger({ level: 'silent', pretty: false });
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A VM and a logged-in session on it; `disk` is the VM's scratch dir. */
async function machine(): Promise<{ session: SshSession; disk: string }> {
  const vm = await startTestVm(cleanups);
  const target = { host: vm.address, port: vm.port, username: 'builder', privateKey: readFileSync(testKeyPath()) };
  const session = await connectSsh(target, { timeoutMs: 10_000, loopbackOnly: true });
  cleanups.push(() => session.close());
  return { session, disk: vm.scratchDir };
}

function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const logger = createLogger({ level: 'debug', pretty: false, destination: { write: (line: string) => void raw.push(line) } });
  return { logger, lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

const step = (name: string, run: string, timeoutMs = 10_000): PrepareStep => ({ name, run, timeoutMs });

describe('runPrepare', () => {
  it('runs every step in order and reports each one with its duration', async () => {
    const { session, disk } = await machine();
    const outcome = await runPrepare(session, [step('one', 'echo 1 >> order'), step('two', 'echo 2 >> order')], quiet);
    expect(outcome).toEqual({ ok: true, steps: [{ name: 'one', ms: expect.any(Number) as number }, { name: 'two', ms: expect.any(Number) as number }] });
    expect(readFileSync(join(disk, 'order'), 'utf8')).toBe('1\n2\n');
  });

  it('succeeds at once with an empty plan', async () => {
    const { session } = await machine();
    expect(await runPrepare(session, [], quiet)).toEqual({ ok: true, steps: [] });
  });

  it('stops at the first failing step and reports its name, exit code and output', async () => {
    const { session, disk } = await machine();
    const steps = [step('first', 'echo 1 >> order'), step('broken', 'echo 2 >> order; echo no agent >&2; exit 5'), step('never', 'echo 3 >> order')];
    const outcome = await runPrepare(session, steps, quiet);
    expect(outcome).toEqual({ ok: false, step: 'broken', reason: 'failed', exitCode: 5, output: 'no agent\n' });
    expect(readFileSync(join(disk, 'order'), 'utf8')).toBe('1\n2\n');
  });

  it('reports a hanging step as a timeout and leaves no process behind', async () => {
    const { session, disk } = await machine();
    const outcome = await runPrepare(session, [step('hang', 'echo $$ > hang.pid; exec sleep 30', 300), step('never', 'touch never')], quiet);
    expect(outcome).toMatchObject({ ok: false, step: 'hang', reason: 'timeout' });
    const pid = Number(readFileSync(join(disk, 'hang.pid'), 'utf8'));
    await waitFor(() => !alive(pid), { what: `pid ${pid} gone` });
    expect(() => readFileSync(join(disk, 'never'))).toThrow();
  });

  it('logs each step at debug and a failure at warn with its output, never a private key', async () => {
    const { session } = await machine();
    const { logger, lines } = capturingLogger();
    const steps = [step('ok', 'true'), step('leaky', `cat '${testKeyPath()}'; echo tail-marker; exit 2`)];
    await runPrepare(session, steps, logger);
    const finished = lines().filter((l) => l.msg === 'prepare step finished');
    expect(finished.map((l) => [l.level, l.step, l.exitCode])).toEqual([[20, 'ok', 0], [20, 'leaky', 2]]);
    const warn = lines().find((l) => l.msg === 'prepare step failed');
    expect(warn).toMatchObject({ level: 40, step: 'leaky', reason: 'failed', exitCode: 2 });
    expect(String(warn?.output)).toContain('tail-marker');
    expect(JSON.stringify(lines())).not.toContain('PRIVATE KEY');
  });
});
