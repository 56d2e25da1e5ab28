import { describe, expect, it } from 'vitest';
import { Ec2Error } from '../../src/sim/ec2-error.js';
import { Ec2Model, type RunRequest, type SimInstance } from '../../src/sim/ec2-model.js';
import { FaultTable } from '../../src/sim/sim-faults.js';

const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const RETENTION = 60_000;

function setup(extra: { consistency?: { minMs: number; maxMs: number } } = {}) {
  const clock = { now: 1_700_000_000_000 };
  const launched: SimInstance[] = [];
  const terminating: SimInstance[] = [];
  const faults = new FaultTable();
  const model = new Ec2Model({
    region: 'sim-1',
    zones: ZONES,
    terminatedRetention: RETENTION,
    tokenRetention: 10 * RETENTION,
    now: () => clock.now,
    faults,
    hooks: { launched: (i) => launched.push(i), terminating: (i) => terminating.push(i) },
    ...extra,
  });
  return { clock, model, launched, terminating, faults };
}

function request(overrides: Partial<RunRequest> = {}): RunRequest {
  return { imageId: 'ami-1', instanceType: 't3.small', minCount: 1, maxCount: 1, availabilityZone: 'zone-a', tags: [['vmpool:pool', 'small']], ...overrides };
}

function ec2Code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof Ec2Error) return err.code;
    throw err;
  }
  throw new Error('expected an Ec2Error');
}

function launch(model: Ec2Model, overrides: Partial<RunRequest> = {}): SimInstance {
  return model.run(request(overrides)).reservation.instances[0]!;
}

describe('Ec2Model launches', () => {
  it('launches a pending instance with its tags, zone, launch time and a private 127.x address', () => {
    const { model, clock, launched } = setup();
    const instance = launch(model);
    expect(instance).toMatchObject({ state: 'pending', zone: 'zone-a', launchedAt: clock.now, instanceType: 't3.small' });
    expect(instance.instanceId).toMatch(/^i-[0-9a-f]{17}$/);
    expect(instance.tags.get('vmpool:pool')).toBe('small');
    expect(instance.privateIp).toMatch(/^127\.(\d+)\.\d+\.\d+$/);
    expect(instance.privateIp.startsWith('127.0.')).toBe(false);
    expect(launched).toEqual([instance]);
  });

  it('places an instance in the zone its subnet-<zone> names', () => {
    const { model } = setup();
    expect(launch(model, { availabilityZone: undefined, subnetId: 'subnet-zone-b' }).zone).toBe('zone-b');
  });

  it('rejects an unknown zone and an unknown subnet with EC2 error codes', () => {
    const { model } = setup();
    expect(ec2Code(() => launch(model, { availabilityZone: 'zone-x' }))).toBe('InvalidParameterValue');
    expect(ec2Code(() => launch(model, { availabilityZone: undefined, subnetId: 'subnet-zone-x' }))).toBe('InvalidSubnetID.NotFound');
  });

  it('returns the original reservation for a repeated client token instead of launching again', () => {
    const { model, launched } = setup();
    const first = model.run(request({ clientToken: 'machine-1' }));
    const again = model.run(request({ clientToken: 'machine-1', tags: [...request().tags] }));
    expect(again.created).toBe(false);
    expect(again.reservation.reservationId).toBe(first.reservation.reservationId);
    expect(launched).toHaveLength(1);
  });

  it('refuses a repeated client token with different parameters', () => {
    const { model } = setup();
    model.run(request({ clientToken: 'machine-1' }));
    expect(ec2Code(() => model.run(request({ clientToken: 'machine-1', instanceType: 'm5.large' })))).toBe('IdempotentParameterMismatch');
  });

  it('still honours a client token after its instance ended and vanished from describe', () => {
    const { model, clock, launched } = setup();
    const instance = launch(model, { clientToken: 'machine-1' });
    model.terminate([instance.instanceId]);
    model.markTerminated(instance);
    clock.now += RETENTION;
    expect(ec2Code(() => model.describe({ instanceIds: [instance.instanceId] }))).toBe('InvalidInstanceID.NotFound');
    expect(launch(model, { clientToken: 'machine-1' }).instanceId).toBe(instance.instanceId);
    clock.now += 10 * RETENTION;
    expect(launch(model, { clientToken: 'machine-1' }).instanceId).not.toBe(instance.instanceId);
    expect(launched).toHaveLength(2);
  });

  it('fails a launch into a zone with a capacity fault and remembers no token for it', () => {
    const { model, faults } = setup();
    faults.set('zone-a', { capacityError: 1 });
    expect(ec2Code(() => launch(model, { clientToken: 'machine-1' }))).toBe('InsufficientInstanceCapacity');
    faults.clear('zone-a');
    expect(model.run(request({ clientToken: 'machine-1' })).created).toBe(true);
  });

  it('fails a launch into a zone with a launch-error fault as a 500 InternalError', () => {
    const { model, faults } = setup();
    faults.set('zone-a', { launchError: 1 });
    expect(() => launch(model)).toThrow(expect.objectContaining({ code: 'InternalError', status: 500 }));
    expect(launch(model, { availabilityZone: 'zone-b' }).zone).toBe('zone-b');
  });

  it("records each instance's fate at launch, unchanged by faults set or cleared afterwards", () => {
    const { model, faults } = setup();
    faults.set('zone-a', { bootFail: 1, slowBootMs: 5_000 });
    const doomed = launch(model);
    faults.clear('zone-a');
    const healthy = launch(model);
    faults.set('zone-a', { sshHang: 1 });
    expect(model.fateOf(doomed)).toEqual({ bootFail: true, sshHang: false, slowBootMs: 5_000 });
    expect(model.fateOf(healthy)).toEqual({ bootFail: false, sshHang: false, slowBootMs: 0 });
  });
});

describe('Ec2Model describes', () => {
  it('fails the whole call naming every unknown id, as EC2 does', () => {
    const { model } = setup();
    const known = launch(model).instanceId;
    expect(() => model.describe({ instanceIds: [known, 'i-0123456789abcdef0'] })).toThrow(/i-0123456789abcdef0' does not exist/);
    expect(ec2Code(() => model.describe({ instanceIds: ['nonsense'] }))).toBe('InvalidInstanceID.Malformed');
  });

  it('filters on tags, tag keys, state, instance id and zone, ANDing filters and ORing values', () => {
    const { model } = setup();
    const a = launch(model, { tags: [['pool', 'small']] });
    const b = launch(model, { availabilityZone: 'zone-b', tags: [['pool', 'large']] });
    launch(model, { availabilityZone: 'zone-c', tags: [['other', 'x']] });
    model.markRunning(b);
    const ids = (filters: { name: string; values: string[] }[]) => model.describe({ filters }).instances.map((i) => i.instanceId);
    expect(ids([{ name: 'tag:pool', values: ['small', 'large'] }])).toEqual([a.instanceId, b.instanceId]);
    expect(ids([{ name: 'tag:pool', values: ['l*'] }])).toEqual([b.instanceId]);
    expect(ids([{ name: 'tag-key', values: ['pool'] }, { name: 'instance-state-name', values: ['running'] }])).toEqual([b.instanceId]);
    expect(ids([{ name: 'instance-id', values: [a.instanceId] }, { name: 'availability-zone', values: ['zone-a'] }])).toEqual([a.instanceId]);
  });

  it('rejects unknown filters and more than 200 filter values', () => {
    const { model } = setup();
    expect(ec2Code(() => model.describe({ filters: [{ name: 'color', values: ['red'] }] }))).toBe('InvalidParameterValue');
    const values = Array.from({ length: 201 }, (_, n) => `i-${n.toString(16).padStart(17, '0')}`);
    expect(ec2Code(() => model.describe({ filters: [{ name: 'instance-id', values }] }))).toBe('FilterLimitExceeded');
  });

  it('pages by MaxResults with a token that neither repeats nor skips when instances come and go', () => {
    const { model } = setup();
    const all = Array.from({ length: 7 }, () => launch(model).instanceId);
    const first = model.describe({ maxResults: 5 });
    expect(first.instances.map((i) => i.instanceId)).toEqual(all.slice(0, 5));
    const late = launch(model).instanceId;
    const second = model.describe({ maxResults: 5, nextToken: first.nextToken });
    expect(second.instances.map((i) => i.instanceId)).toEqual([...all.slice(5), late]);
    expect(second.nextToken).toBeUndefined();
  });

  it('rejects MaxResults out of range, MaxResults with InstanceIds and a forged token', () => {
    const { model } = setup();
    const id = launch(model).instanceId;
    expect(ec2Code(() => model.describe({ maxResults: 4 }))).toBe('InvalidParameterValue');
    expect(ec2Code(() => model.describe({ instanceIds: [id], maxResults: 5 }))).toBe('InvalidParameterCombination');
    expect(ec2Code(() => model.describe({ nextToken: 'garbage' }))).toBe('InvalidPaginationToken');
  });
});

describe('Ec2Model lifecycle', () => {
  it('turns running with the tags its boot published, only from pending', () => {
    const { model } = setup();
    const instance = launch(model);
    expect(model.markRunning(instance, [['vmpool:host-key', 'SHA256:abc']])).toBe(true);
    expect(instance.state).toBe('running');
    expect(instance.tags.get('vmpool:host-key')).toBe('SHA256:abc');
    expect(model.markRunning(instance)).toBe(false);
  });

  it('reports previous and current states on terminate and asks its owner to stop the instance once', () => {
    const { model, terminating } = setup();
    const instance = launch(model);
    model.markRunning(instance);
    expect(model.terminate([instance.instanceId])).toEqual([{ instanceId: instance.instanceId, previous: 'running', current: 'shutting-down' }]);
    model.markTerminated(instance);
    expect(model.terminate([instance.instanceId])).toEqual([{ instanceId: instance.instanceId, previous: 'terminated', current: 'terminated' }]);
    expect(terminating).toEqual([instance]);
  });

  it('keeps a terminated instance visible for the retention period, then forgets it', () => {
    const { model, clock } = setup();
    const instance = launch(model);
    model.terminate([instance.instanceId]);
    model.markTerminated(instance);
    clock.now += RETENTION - 1;
    expect(model.describe({ instanceIds: [instance.instanceId] }).instances[0]?.state).toBe('terminated');
    clock.now += 1;
    expect(model.instances()).toEqual([]);
  });

  it('moves an instance to a different free address when asked', () => {
    const { model } = setup();
    const instance = launch(model);
    const before = instance.privateIp;
    expect(model.readdress(instance)).not.toBe(before);
    expect(instance.privateIp).not.toBe(before);
  });

  it('adds tags with CreateTags and refuses unknown instances', () => {
    const { model } = setup();
    const instance = launch(model);
    model.createTags([instance.instanceId], [['team', 'ci']]);
    expect(instance.tags.get('team')).toBe('ci');
    expect(ec2Code(() => model.createTags(['i-0123456789abcdef0'], [['a', 'b']]))).toBe('InvalidInstanceID.NotFound');
  });
});

describe('Ec2Model eventual consistency', () => {
  const ids = (model: Ec2Model) => model.describe({}).instances.map((i) => i.instanceId);

  it('keeps a new instance out of DescribeInstances and unknown to TerminateInstances and CreateTags until its delay passes', () => {
    const { model, clock } = setup({ consistency: { minMs: 2000, maxMs: 2000 } });
    const instance = launch(model);
    expect(ids(model)).toEqual([]);
    expect(ec2Code(() => model.describe({ instanceIds: [instance.instanceId] }))).toBe('InvalidInstanceID.NotFound');
    expect(ec2Code(() => model.terminate([instance.instanceId]))).toBe('InvalidInstanceID.NotFound');
    expect(ec2Code(() => model.createTags([instance.instanceId], [['a', 'b']]))).toBe('InvalidInstanceID.NotFound');
    expect(instance.state).toBe('pending');
    clock.now += 2000;
    expect(ids(model)).toEqual([instance.instanceId]);
    expect(model.terminate([instance.instanceId])).toEqual([{ instanceId: instance.instanceId, previous: 'pending', current: 'shutting-down' }]);
  });

  it('draws each instance its own delay within the range', () => {
    const { model } = setup({ consistency: { minMs: 0, maxMs: 2000 } });
    const delays = Array.from({ length: 20 }, () => {
      const instance = launch(model);
      return instance.visibleAt - instance.launchedAt;
    });
    expect(delays.every((d) => d >= 0 && d <= 2000)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(1);
  });

  it('is strongly consistent by default: a new instance is listed at once', () => {
    const { model } = setup();
    const instance = launch(model);
    expect(instance.visibleAt).toBe(instance.launchedAt);
    expect(ids(model)).toEqual([instance.instanceId]);
  });
});
