import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExecClient, type VmCommand } from '../../src/sim/exec-client.js';
import { waitFor } from '../helpers/wait-for.js';

const clients: ExecClient[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setup() {
  const client = new ExecClient();
  clients.push(client);
  const cwd = mkdtempSync(join(tmpdir(), 'vmpool-exec-'));
  dirs.push(cwd);
  return { client, cwd, env: { HOME: cwd, PATH: '/usr/bin:/bin' } };
}

function finished(command: VmCommand): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  let [out, err] = ['', ''];
  command.stdout.on('data', (d: Buffer) => (out += d.toString()));
  command.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => command.once('close', (code: number | null, signal: string | null) => resolve({ code, signal, out, err })));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('ExecClient (simulated VMs run their commands through a small helper process)', () => {
  it('runs a command in its directory and environment, with its input, output and exit code', async () => {
    const { client, cwd, env } = setup();
    const command = client.spawn(['-c', 'read line; echo "$line in $PWD as $HOME"; echo oops >&2; exit 3'], { cwd, env });
    const result = finished(command);
    command.stdin.end('hello\n');
    expect(await result).toEqual({ code: 3, signal: null, out: `hello in ${cwd} as ${cwd}\n`, err: 'oops\n' });
    expect(command.exitCode).toBe(3);
  });

  it('kills the whole process group, even when asked before the command has started', async () => {
    const { client, cwd, env } = setup();
    const command = client.spawn(['-c', 'sleep 30 & sleep 30; wait'], { cwd, env });
    command.kill('SIGKILL');
    expect(await finished(command)).toMatchObject({ code: null, signal: 'SIGKILL' });
    // The background sleep was in the group too.
    await waitFor(() => !alive(-command.pid!), { what: 'the process group to be gone' });
  });

  it('ends the commands of a helper that died as killed, and starts a new helper for the next one', async () => {
    const { client, cwd, env } = setup();
    const command = client.spawn(['-c', 'echo started; sleep 30'], { cwd, env });
    const result = finished(command);
    await waitFor(() => command.pid !== undefined, { what: 'the command to start' });
    const firstHost = client.hostPid!;
    process.kill(firstHost, 'SIGKILL');
    expect(await result).toMatchObject({ code: null, signal: 'SIGKILL' });
    // A helper killed outright cannot take its commands along: this test ends them itself.
    process.kill(-command.pid!, 'SIGKILL');
    const next = client.spawn(['-c', 'echo again'], { cwd, env });
    expect(await finished(next)).toMatchObject({ code: 0, out: 'again\n' });
    expect(client.hostPid).not.toBe(firstHost);
  });

  it('kills the commands still running when it is closed', async () => {
    const { client, cwd, env } = setup();
    const command = client.spawn(['-c', 'sleep 30'], { cwd, env });
    const result = finished(command);
    await waitFor(() => command.pid !== undefined, { what: 'the command to start' });
    await client.close();
    expect(await result).toMatchObject({ signal: 'SIGKILL' });
    await waitFor(() => !alive(-command.pid!), { what: 'the process group to be gone' });
  });
});
