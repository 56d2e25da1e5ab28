import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { addSimCommands } from '../../src/cli/sim-commands.js';
import { freePort } from '../../src/local/free-port.js';
import { startTestSim } from '../helpers/sim-ec2.js';
import type { Cleanups } from '../helpers/sim-vm.js';

const cleanups: Cleanups = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs `vmpool <args>` on a fresh program whose default sim URL is `simUrl`; resolves with what it printed. */
async function vmpool(simUrl: string, ...args: string[]): Promise<string> {
  const printed: string[] = [];
  const program = new Command('vmpool').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  addSimCommands(program, { simUrl: (flags) => flags.simUrl ?? simUrl, print: (line) => printed.push(line) });
  await program.parseAsync(args, { from: 'user' });
  return printed.join('\n');
}

async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

describe('vmpool sim', () => {
  it('sets a fault with a flag given without a value as 1.0, accepting sim/zone-b, and prints the zone as vmpool spells it (sim/zone-b)', async () => {
    const { sim } = await startTestSim(cleanups);
    expect(await vmpool(sim.endpoint, 'sim', 'fault', 'sim/zone-b', '--boot-fail')).toBe('sim/zone-b: boot-fail 100%');
    expect(sim.faults.forZone('zone-b')).toEqual({ bootFail: 1 });
  });

  it('adds to the faults a zone has, and --clear starts from healthy', async () => {
    const { sim } = await startTestSim(cleanups);
    await vmpool(sim.endpoint, 'sim', 'fault', 'zone-a', '--slow-boot', '20s');
    expect(await vmpool(sim.endpoint, 'sim', 'fault', 'zone-a', '--capacity-error', '0.25', '--launch-error', '0.5')).toBe(
      'sim/zone-a: capacity-error 25%, launch-error 50%, slow-boot 20s',
    );
    expect(await vmpool(sim.endpoint, 'sim', 'fault', 'zone-a', '--clear', '--ssh-hang', '0.5')).toBe('sim/zone-a: ssh-hang 50%');
    expect(await vmpool(sim.endpoint, 'sim', 'fault', 'zone-a', '--clear')).toBe('sim/zone-a: healthy');
    expect(sim.faults.all()).toEqual([]);
  });

  it('prints the API JSON with --json', async () => {
    const { sim } = await startTestSim(cleanups);
    const out = await vmpool(sim.endpoint, 'sim', 'fault', 'zone-c', '--ssh-hang', '--slow-boot', '1m', '--json');
    expect(JSON.parse(out)).toEqual({ zone: 'zone-c', faults: { sshHang: 1, slowBootMs: 60_000 } });
  });

  it('lists every zone (spelled sim/zone-a) and its faults as a table, or as the API JSON', async () => {
    const { sim } = await startTestSim(cleanups);
    sim.faults.set('zone-b', { bootFail: 1, slowBootMs: 20_000 });
    expect((await vmpool(sim.endpoint, 'sim', 'faults')).split('\n')).toEqual([
      'ZONE        CAPACITY-ERROR  LAUNCH-ERROR  BOOT-FAIL  SSH-HANG  SLOW-BOOT',
      'sim/zone-a  -               -             -          -         -',
      'sim/zone-b  -               -             100%       -         20s',
      'sim/zone-c  -               -             -          -         -',
    ]);
    expect(JSON.parse(await vmpool(sim.endpoint, 'sim', 'faults', '--json'))).toEqual({
      zones: [{ zone: 'zone-a', faults: {} }, { zone: 'zone-b', faults: { bootFail: 1, slowBootMs: 20_000 } }, { zone: 'zone-c', faults: {} }],
    });
  });

  it('talks to the sim named by --sim-url, before or after the subcommand', async () => {
    const { sim } = await startTestSim(cleanups);
    const dead = await deadUrl();
    await vmpool(dead, 'sim', '--sim-url', sim.endpoint, 'fault', 'zone-a', '--launch-error');
    await vmpool(dead, 'sim', 'fault', 'zone-b', '--capacity-error', '--sim-url', sim.endpoint);
    expect(sim.faults.all()).toEqual([
      { zone: 'zone-a', faults: { launchError: 1 } },
      { zone: 'zone-b', faults: { capacityError: 1 } },
    ]);
  });

  it('says how to start the sim when nothing answers at its URL', async () => {
    const dead = await deadUrl();
    await expect(vmpool(dead, 'sim', 'faults')).rejects.toThrow(
      `cannot reach the simulated cloud at ${dead}; is npm start (or npm run sim) running? Set --sim-url or VMPOOL_SIM_URL otherwise.`,
    );
  });

  it("shows the sim API's message for an unknown zone", async () => {
    const { sim } = await startTestSim(cleanups);
    await expect(vmpool(sim.endpoint, 'sim', 'fault', 'zone-x', '--boot-fail')).rejects.toMatchObject({
      status: 404,
      message: 'no zone "zone-x" in this cloud; its zones are zone-a, zone-b, zone-c',
    });
  });

  it('refuses a probability outside 0..1 and a malformed duration before calling the sim', async () => {
    const dead = await deadUrl();
    await expect(vmpool(dead, 'sim', 'fault', 'zone-a', '--boot-fail', '2')).rejects.toThrow(/expected a probability from 0 to 1, got "2"/);
    await expect(vmpool(dead, 'sim', 'fault', 'zone-a', '--slow-boot', 'soon')).rejects.toThrow(/expected a duration like "20s" or "2m", got "soon"/);
  });
});

describe('vmpool sim registry', () => {
  const AGENT = 'vmpool/build-agent:1.5.0';

  it('deletes and pushes tags, sets faults, and --clear heals the registry to the images it started with', async () => {
    const { sim } = await startTestSim(cleanups);
    const primary = sim.registries.get('primary')!;
    const manifest = () => fetch(`${primary.url}/v2/vmpool/build-agent/manifests/1.5.0`, { method: 'HEAD' }).then((r) => r.status);
    expect(await manifest()).toBe(200);

    const deleted = await vmpool(sim.endpoint, 'sim', 'registry', 'primary', '--delete', AGENT, '--push', 'vmpool/build-agent:2.0.0', '--fail', '0.5', '--slow', '10s');
    expect(deleted).toBe(`primary ${primary.url}: fail 50%, slow 10s; images: vmpool/build-agent:1.4.2, vmpool/build-agent:1.6.0, vmpool/build-agent:2.0.0`);

    await vmpool(sim.endpoint, 'sim', 'registry', 'primary', '--fail', '0', '--slow', '0s');
    expect(await manifest()).toBe(404);
    expect(await vmpool(sim.endpoint, 'sim', 'registry', 'primary', '--clear')).toBe(
      `primary ${primary.url}: healthy; images: vmpool/build-agent:1.4.2, vmpool/build-agent:1.5.0, vmpool/build-agent:1.6.0`,
    );
    expect(await manifest()).toBe(200);
  });

  it('answers 503 while failing, lists every registry, and names an unknown one or a bad reference', async () => {
    const { sim } = await startTestSim(cleanups);
    await vmpool(sim.endpoint, 'sim', 'registry', 'primary', '--fail');
    const url = sim.registries.get('primary')!.url;
    expect((await fetch(`${url}/v2/vmpool/build-agent/manifests/1.5.0`, { method: 'HEAD' })).status).toBe(503);
    const listing = JSON.parse(await vmpool(sim.endpoint, 'sim', 'registries', '--json')) as { registries: { name: string; token: boolean; faults: object }[] };
    expect(listing.registries.map((r) => [r.name, r.token, r.faults])).toEqual([['primary', false, { fail: 1 }], ['secondary', true, {}]]);
    await expect(vmpool(sim.endpoint, 'sim', 'registry', 'quay', '--clear')).rejects.toMatchObject({ status: 404, message: 'no registry "quay" in this cloud; its registries are primary, secondary' });
    await expect(vmpool(sim.endpoint, 'sim', 'registry', 'primary', '--delete', 'no-tag')).rejects.toMatchObject({ status: 400 });
  });
});

