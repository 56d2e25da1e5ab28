import { describe, expect, it } from 'vitest';
import { FaultTable, drawFate, launchFailure } from '../../src/sim/sim-faults.js';

const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const where = { zone: 'zone-b', instanceType: 't3.small', zones: ZONES };

/** A random source that plays back `draws` and fails the test if asked for more. */
function playback(draws: number[]): () => number {
  return () => {
    const next = draws.shift();
    if (next === undefined) throw new Error('drew more random numbers than expected');
    return next;
  };
}

describe('launch faults', () => {
  it('fails exactly the draws below the probability: 0.5 fails 0.49 and 0.0, passes 0.5 and 0.99', () => {
    const random = playback([0.49, 0.5, 0, 0.99]);
    const outcomes = Array.from({ length: 4 }, () => launchFailure({ capacityError: 0.5 }, where, random)?.code ?? 'ok');
    expect(outcomes).toEqual(['InsufficientInstanceCapacity', 'ok', 'InsufficientInstanceCapacity', 'ok']);
  });

  it("answers a capacity fault with EC2's InsufficientInstanceCapacity text, naming type, zone and the other zones", () => {
    const err = launchFailure({ capacityError: 1 }, where, playback([0.999]));
    expect(err).toMatchObject({ code: 'InsufficientInstanceCapacity', status: 500 });
    expect(err?.message).toBe(
      'We currently do not have sufficient t3.small capacity in the Availability Zone you requested (zone-b). ' +
        'Our system will be working on provisioning additional capacity. ' +
        'You can currently get t3.small capacity by not specifying an Availability Zone in your request or choosing zone-a, zone-c.',
    );
  });

  it('answers a launch-error fault with a 500 InternalError', () => {
    expect(launchFailure({ launchError: 1 }, where, playback([0.5]))).toMatchObject({ code: 'InternalError', status: 500 });
  });

  it('draws capacity first and does not draw the launch error once capacity struck', () => {
    const random = playback([0.1]);
    expect(launchFailure({ capacityError: 0.5, launchError: 1 }, where, random)?.code).toBe('InsufficientInstanceCapacity');
    expect(launchFailure({ capacityError: 0.5, launchError: 1 }, where, playback([0.7, 0.2]))?.code).toBe('InternalError');
  });

  it('draws no random number for a healthy zone, so healthy launches stay reproducible', () => {
    expect(launchFailure({}, where, playback([]))).toBeUndefined();
    expect(drawFate({ slowBootMs: 100 }, playback([]))).toEqual({ bootFail: false, sshHang: false, slowBootMs: 100 });
  });
});

describe('instance fates', () => {
  it('fails a boot for exactly the draws below bootFail', () => {
    const random = playback([0.2, 0.8]);
    expect([drawFate({ bootFail: 0.5 }, random).bootFail, drawFate({ bootFail: 0.5 }, random).bootFail]).toEqual([true, false]);
  });

  it('hangs SSH only on instances that boot, drawing sshHang after bootFail', () => {
    expect(drawFate({ bootFail: 0.5, sshHang: 1 }, playback([0.1]))).toEqual({ bootFail: true, sshHang: false, slowBootMs: 0 });
    expect(drawFate({ bootFail: 0.5, sshHang: 0.5 }, playback([0.9, 0.4]))).toEqual({ bootFail: false, sshHang: true, slowBootMs: 0 });
  });
});

describe('FaultTable', () => {
  it('replaces a zone\'s faults on set, and lists only faulty zones, sorted by name', () => {
    const table = new FaultTable();
    table.set('zone-c', { sshHang: 1 });
    table.set('zone-a', { bootFail: 0.5 });
    table.set('zone-a', { slowBootMs: 20_000 });
    expect(table.all()).toEqual([
      { zone: 'zone-a', faults: { slowBootMs: 20_000 } },
      { zone: 'zone-c', faults: { sshHang: 1 } },
    ]);
    expect(table.forZone('zone-b')).toEqual({});
  });

  it('treats zero probabilities and an empty set as healthy', () => {
    const table = new FaultTable();
    table.set('zone-a', { bootFail: 1 });
    table.set('zone-a', { bootFail: 0, slowBootMs: 0 });
    expect(table.all()).toEqual([]);
  });

  it('heals one zone with clear(zone) and every zone with clear()', () => {
    const table = new FaultTable();
    table.set('zone-a', { bootFail: 1 });
    table.set('zone-b', { launchError: 1 });
    table.clear('zone-a');
    expect(table.all().map((z) => z.zone)).toEqual(['zone-b']);
    table.clear();
    expect(table.all()).toEqual([]);
  });

  it('refuses a probability outside 0..1 and a negative delay, naming the field', () => {
    const table = new FaultTable();
    expect(() => table.set('zone-a', { bootFail: 1.5 })).toThrow(/bootFail: expected a probability from 0 to 1, got 1.5/);
    expect(() => table.set('zone-a', { slowBootMs: -1 })).toThrow(/slowBootMs/);
    expect(() => table.set('zone-a', { sshHang: Number.NaN })).toThrow(/sshHang/);
  });
});
