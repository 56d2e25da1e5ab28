import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runPrepare, type PrepareStep, type StepRecord } from '../../src/boot/prepare.js';
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
    expect(outcome).toEqual({ ok: false, step: 'broken', reason: 'failed', zoneFault: false, exitCode: 5, output: 'no agent\n' });
    expect(readFileSync(join(disk, 'order'), 'utf8')).toBe('1\n2\n');
  });

  it('kills a hanging step at its timeout, closes the connection and leaves no process behind', async () => {
    const { session, disk } = await machine();
    const outcome = await runPrepare(session, [step('hang', 'echo $$ > hang.pid; exec sleep 30', 300), step('never', 'touch never')], quiet);
    expect(outcome).toMatchObject({ ok: false, step: 'hang', reason: 'timeout', zoneFault: true });
    const pid = Number(readFileSync(join(disk, 'hang.pid'), 'utf8'));
    await waitFor(() => !alive(pid), { what: `pid ${pid} gone` });
    expect(() => readFileSync(join(disk, 'never'))).toThrow();
    await expect(session.exec('true', { timeoutMs: 5_000 })).rejects.toMatchObject({ name: 'SshError', kind: 'unreachable' });
  });

  it("counts a failure against the zone as the step's zoneFault says", async () => {
    const { session } = await machine();
    const always = await runPrepare(session, [{ ...step('exits', 'exit 1'), zoneFault: 'always' }], quiet);
    expect(always).toMatchObject({ ok: false, reason: 'failed', zoneFault: true });
    const never = await runPrepare(session, [{ ...step('hangs', 'exec sleep 30', 200), zoneFault: 'never' }], quiet);
    expect(never).toMatchObject({ ok: false, reason: 'timeout', zoneFault: false });
  });

  it("hands each step's output to the machine's log, only its tail when it is long", async () => {
    const { session } = await machine();
    const entries: StepRecord[] = [];
    const steps = [step('short', 'echo hello'), step('long', 'head -c 10000 /dev/zero | tr "\\0" a; echo END; exit 4')];
    await runPrepare(session, steps, quiet, { outputBytes: 1_000, record: (entry) => Promise.resolve(void entries.push(entry)) });
    expect(entries.map((e) => [e.name, e.ok, e.exitCode, e.timedOut])).toEqual([['short', true, 0, false], ['long', false, 4, false]]);
    expect(entries[0]!.output).toBe('hello\n');
    expect(entries[1]!.output.endsWith('aEND\n')).toBe(true);
    expect(entries[1]!.output.length).toBeLessThanOrEqual(1_000);
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
