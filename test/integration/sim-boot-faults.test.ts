import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import { connectSsh } from '../../src/boot/ssh.js';
import { bootOutcome, describeOne, runInput, startTestSim, type TestSim } from '../helpers/sim-ec2.js';
import type { Cleanups } from '../helpers/sim-vm.js';
import { testConfig, testKeyPath } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';

const SSH_PORT = testConfig().sim.sshPort;
const cleanups: Cleanups = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function launch({ ec2 }: TestSim, zone = 'zone-a'): Promise<string> {
  const out = await ec2.send(new RunInstancesCommand(runInput({ Placement: { AvailabilityZone: zone } })));
  return out.Instances![0]!.InstanceId!;
}

/** What the first bytes from host:port are within `deadlineMs`: an SSH banner, or silence. */
function firstWords(host: string, port: number, deadlineMs: number): Promise<{ connected: boolean; banner: string | undefined }> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let connected = false;
    const done = (banner: string | undefined) => (socket.destroy(), resolve({ connected, banner }));
    socket.once('connect', () => ((connected = true), socket.setTimeout(deadlineMs)));
    socket.once('data', (data: Buffer) => done(data.toString('latin1').split('\r\n')[0]));
    socket.once('timeout', () => done(undefined));
    socket.once('error', () => done(undefined));
  });
}

/** A client that connected and waits; `hungUp` resolves when the server side hangs up. */
function holdOpen(host: string, port: number): Promise<{ hungUp: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    cleanups.push(() => void socket.destroy());
    socket.once('error', reject);
    socket.once('connect', () => resolve({ hungUp: new Promise((closed) => socket.once('close', () => closed())) }));
    socket.resume(); // read, or the hang-up (EOF) is never noticed
  });
}

/** A login; a generous deadline where it must succeed, a short one where the sshd is known to hang. */
function login(host: string, timeoutMs = 30_000) {
  return connectSsh({ host, port: SSH_PORT, username: 'vmpool', privateKey: readFileSync(testKeyPath()) }, { timeoutMs, loopbackOnly: true });
}

describe('boot faults of the simulated cloud', () => {
  it('kills every boot at bootFail 1.0: terminated with Server.InternalError, never answering SSH', async () => {
    const test = await startTestSim(cleanups);
    test.sim.faults.set('zone-b', { bootFail: 1 });
    const instance = await bootOutcome(test.ec2, await launch(test, 'zone-b'));
    expect(instance.State?.Name).toBe('terminated');
    expect(instance.StateReason).toEqual({ Code: 'Server.InternalError', Message: 'Server.InternalError: Internal error on launch' });
    expect(await firstWords(instance.PrivateIpAddress!, SSH_PORT, 1_000)).toEqual({ connected: false, banner: undefined });
  });

  it('runs an instance at sshHang 1.0 whose sshd accepts TCP and never sends a banner, so SSH logins time out', async () => {
    const test = await startTestSim(cleanups);
    test.sim.faults.set('zone-a', { sshHang: 1 });
    const instance = await bootOutcome(test.ec2, await launch(test));
    expect(instance.State?.Name).toBe('running');
    expect(await firstWords(instance.PrivateIpAddress!, SSH_PORT, 300)).toEqual({ connected: true, banner: undefined });
    await expect(login(instance.PrivateIpAddress!, 1_000)).rejects.toMatchObject({ name: 'SshError', kind: 'timeout' });
  });

  it('cuts the connections of a hung sshd and frees its port when the instance terminates', async () => {
    const test = await startTestSim(cleanups);
    test.sim.faults.set('zone-a', { sshHang: 1 });
    const instance = await bootOutcome(test.ec2, await launch(test));
    const { hungUp } = await holdOpen(instance.PrivateIpAddress!, SSH_PORT);
    await test.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instance.InstanceId!] }));
    await hungUp;
    await waitFor(async () => (await describeOne(test.ec2, instance.InstanceId!))?.State?.Name === 'terminated', { what: 'terminated' });
    expect(await firstWords(instance.PrivateIpAddress!, SSH_PORT, 1_000)).toEqual({ connected: false, banner: undefined });
  });

  it('adds slowBoot to the boot, as the sim\'s own launch and running timestamps show', async () => {
    const test = await startTestSim(cleanups);
    test.sim.faults.set('zone-c', { slowBootMs: 700 });
    const id = await launch(test, 'zone-c');
    expect((await bootOutcome(test.ec2, id)).State?.Name).toBe('running');
    const view = test.sim.instances().find((i) => i.instanceId === id)!;
    expect(view.stateChangedAt - view.launchedAt).toBeGreaterThanOrEqual(700);
  });

  it('keeps an instance healthy when its zone breaks after it launched', async () => {
    const test = await startTestSim(cleanups);
    const id = await launch(test);
    test.sim.faults.set('zone-a', { bootFail: 1, sshHang: 1, slowBootMs: 60_000 });
    const instance = await bootOutcome(test.ec2, id);
    expect(instance.State?.Name).toBe('running');
    const session = await login(instance.PrivateIpAddress!);
    session.close();
  });

  it('keeps an instance doomed when its zone heals after it launched', async () => {
    const test = await startTestSim(cleanups);
    test.sim.faults.set('zone-a', { bootFail: 1 });
    const id = await launch(test);
    test.sim.faults.clear('zone-a');
    expect(test.sim.instances()[0]?.fate).toEqual({ bootFail: true, sshHang: false, slowBootMs: 0 });
    expect((await bootOutcome(test.ec2, id)).StateReason?.Code).toBe('Server.InternalError');
  });

  it('answers SSH in a healthy zone while another zone hangs', async () => {
    const test = await startTestSim(cleanups);
    test.sim.faults.set('zone-b', { sshHang: 1 });
    const instance = await bootOutcome(test.ec2, await launch(test, 'zone-a'));
    expect((await firstWords(instance.PrivateIpAddress!, SSH_PORT, 5_000)).banner).toMatch(/^SSH-2\.0-/);
  });
});
