import { Writable } from 'node:stream';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { runInput, startTestSim, thrown, type TestSim } from '../helpers/sim-ec2.js';
import type { Cleanups } from '../helpers/sim-vm.js';

const cleanups: Cleanups = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One call to the sim's JSON fault API; `body` goes as is when it is a string (to send broken JSON). */
async function call(sim: TestSim['sim'], method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const payload = body === undefined || typeof body === 'string' ? body : JSON.stringify(body);
  const response = await fetch(`${sim.endpoint}${path}`, { method, body: payload, headers: { 'content-type': 'application/json' } });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('sim fault API', () => {
  it('lists every zone, with empty faults for the healthy ones', async () => {
    const { sim } = await startTestSim(cleanups);
    sim.faults.set('zone-b', { bootFail: 1 });
    const { status, json } = await call(sim, 'GET', '/v1/sim/zones');
    expect(status).toBe(200);
    expect(json).toEqual({ zones: [{ zone: 'zone-a', faults: {} }, { zone: 'zone-b', faults: { bootFail: 1 } }, { zone: 'zone-c', faults: {} }] });
  });

  it('replaces a zone\'s faults on PUT, taking slowBoot as a duration and the zone as sim/zone-b', async () => {
    const { sim } = await startTestSim(cleanups);
    await call(sim, 'PUT', '/v1/sim/zones/zone-b/faults', { sshHang: 1 });
    const { status, json } = await call(sim, 'PUT', `/v1/sim/zones/${encodeURIComponent('sim/zone-b')}/faults`, { bootFail: 0.25, slowBoot: '20s' });
    expect(status).toBe(200);
    expect(json).toEqual({ zone: 'zone-b', faults: { bootFail: 0.25, slowBootMs: 20_000 } });
    expect(sim.faults.forZone('zone-b')).toEqual({ bootFail: 0.25, slowBootMs: 20_000 });
    expect((await call(sim, 'GET', '/v1/sim/zones/sim/zone-b/faults')).json).toEqual(json);
  });

  it('heals a zone on DELETE', async () => {
    const { sim } = await startTestSim(cleanups);
    sim.faults.set('zone-c', { capacityError: 1 });
    expect(await call(sim, 'DELETE', '/v1/sim/zones/zone-c/faults')).toEqual({ status: 200, json: { zone: 'zone-c', faults: {} } });
    expect(sim.faults.forZone('zone-c')).toEqual({});
  });

  it('logs every change at info with the zone and its faults', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) });
    const { sim } = await startTestSim(cleanups, { logger: createLogger({ level: 'info', pretty: false, destination }) });
    await call(sim, 'PUT', '/v1/sim/zones/zone-a/faults', { launchError: 0.5 });
    await call(sim, 'DELETE', '/v1/sim/zones/zone-a/faults');
    const changes = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'sim zone faults changed');
    expect(changes.map(({ level, zone, faults }) => ({ level, zone, faults }))).toEqual([
      { level: 30, zone: 'zone-a', faults: { launchError: 0.5 } },
      { level: 30, zone: 'zone-a', faults: {} },
    ]);
  });

  it.each([
    [{ bootFail: 1.5 }, /^bootFail: expected a probability from 0 to 1, got 1.5$/],
    [{ sshHang: 'yes' }, /^sshHang: expected a probability from 0 to 1, got "yes"$/],
    [{ slowBoot: 'soon' }, /^slowBoot: expected a duration like "20s", got "soon"$/],
    [{ slowBoot: '1s', slowBootMs: 1000 }, /^slowBoot: give slowBoot or slowBootMs, not both$/],
    [{ bootfail: 1 }, /^bootfail: unknown field \(known: capacityError, launchError, bootFail, sshHang, slowBoot, slowBootMs\)$/],
    ['{"bootFail": ', /JSON object/],
  ])('answers 400 naming the bad field for %j, and leaves the zone as it was', async (body, message) => {
    const { sim } = await startTestSim(cleanups);
    sim.faults.set('zone-a', { sshHang: 1 });
    const { status, json } = await call(sim, 'PUT', '/v1/sim/zones/zone-a/faults', body);
    expect(status).toBe(400);
    expect(json.message).toMatch(message);
    expect(sim.faults.forZone('zone-a')).toEqual({ sshHang: 1 });
  });

  it('answers 404 for an unknown zone and an unknown path, 405 for a method it does not serve', async () => {
    const { sim } = await startTestSim(cleanups);
    const unknownZone = await call(sim, 'PUT', '/v1/sim/zones/sim%2Fzone-x/faults', { bootFail: 1 });
    expect(unknownZone).toEqual({ status: 404, json: { error: 'UnknownZone', message: 'no zone "sim/zone-x" in this cloud; its zones are zone-a, zone-b, zone-c' } });
    expect((await call(sim, 'GET', '/v1/sim/nothing')).status).toBe(404);
    expect((await call(sim, 'POST', '/v1/sim/zones')).status).toBe(405);
  });
});

describe('launch faults through the AWS SDK', () => {
  async function launchInto(ec2: TestSim['ec2'], zone: string) {
    return ec2.send(new RunInstancesCommand(runInput({ Placement: { AvailabilityZone: zone } })));
  }

  it('fails RunInstances into a zone at capacityError 1.0 with InsufficientInstanceCapacity as a server error (HTTP 500, as EC2); other zones launch', async () => {
    const { sim, ec2 } = await startTestSim(cleanups);
    await call(sim, 'PUT', '/v1/sim/zones/sim%2Fzone-b/faults', { capacityError: 1 });
    const err = await thrown(launchInto(ec2, 'zone-b'));
    expect(err.name).toBe('InsufficientInstanceCapacity');
    expect(err.$fault).toBe('server');
    expect(err.$metadata?.httpStatusCode).toBe(500);
    expect(err.message).toMatch(/^We currently do not have sufficient t3\.small capacity in the Availability Zone you requested \(zone-b\)\./);
    expect((await launchInto(ec2, 'zone-a')).Instances?.[0]?.State?.Name).toBe('pending');
    expect(sim.instances().map((i) => i.zone)).toEqual(['zone-a']);
  });

  it('fails RunInstances at launchError 1.0 with InternalError as a server fault', async () => {
    const { sim, ec2 } = await startTestSim(cleanups);
    await call(sim, 'PUT', '/v1/sim/zones/zone-c/faults', { launchError: 1 });
    const err = await thrown(launchInto(ec2, 'zone-c'));
    expect(err.name).toBe('InternalError');
    expect(err.$fault).toBe('server');
    expect(err.$metadata?.httpStatusCode).toBe(500);
  });

  it('launches again into a zone once its faults are cleared', async () => {
    const { sim, ec2 } = await startTestSim(cleanups);
    await call(sim, 'PUT', '/v1/sim/zones/zone-a/faults', { capacityError: 1 });
    await thrown(launchInto(ec2, 'zone-a'));
    await call(sim, 'DELETE', '/v1/sim/zones/zone-a/faults');
    expect((await launchInto(ec2, 'zone-a')).Instances).toHaveLength(1);
  });
});
