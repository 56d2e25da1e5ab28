import { afterEach, describe, expect, it } from 'vitest';
import type { Machine } from '../../src/machines/machine.js';
import { TAGS } from '../../src/providers/provider.js';
import type { ZoneStatus } from '../../src/status.js';
import { allMachines } from '../helpers/machines.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

let system: TestSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

const AGENT = 'vmpool/build-agent:1.5.0';
// Short breaker periods: a registry that failed three times is tried last, and first again after a second.
const fast = { agent: { registryBreaker: { errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeout: '1s' } } };

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${system!.app.url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as T };
}

/** Which registry served each pull of the machine, from its log: `primary`, `secondary`, or undefined if none did. */
async function servedBy(id: string): Promise<string | undefined> {
  const served = (await system!.app.machineLog.read(id)).find((e) => e.name.startsWith('pull ') && e.ok);
  return served?.name.split(' from ')[1];
}

const readyMachines = async () => system!.app.store.list('small', 'ready');

/** Once the pool of 3 is full: leases and releases every machine, then waits for `count` machines created after `since` to be ready. */
async function cycle(since: number, count: number): Promise<Machine[]> {
  await waitFor(async () => (await readyMachines()).length === 3, { what: 'the pool full' });
  for (let i = 0; i < 3; i++) {
    const lease = await api<{ id: string }>('POST', '/v1/pools/small/leases', { wait: '20s' });
    expect(lease.status).toBe(200);
    expect((await api('DELETE', `/v1/leases/${lease.body.id}`)).status).toBe(200);
  }
  return waitFor(async () => {
    const fresh = (await readyMachines()).filter((m) => m.createdAt > since);
    return fresh.length >= count ? fresh : undefined;
  }, { what: `${count} machines created after the change to be ready` });
}

const pulls = async () => Object.fromEntries((await system!.app.pulls.read()).map((r) => [`${r.registry}|${r.result}`, r.value]));

describe('agent pull with registry failover', () => {
  it('keeps every machine coming up from the secondary while the primary lacks the tag, and returns to the primary once restored', async () => {
    system = await startSystem({ ...fast, ...onePool({ warm: 3, max: 6 }) });
    const primary = system.sim.registries.get('primary')!;
    const first = await waitFor(async () => ((await readyMachines()).length === 3 ? readyMachines() : undefined), { what: '3 ready machines' });
    for (const m of first) expect(await servedBy(m.id)).toBe('primary');

    primary.change({ delete: [AGENT] });
    const before = await pulls();
    const during = await cycle(Date.now(), 3);
    for (const m of during) expect(await servedBy(m.id)).toBe('secondary');
    const after = await pulls();
    expect(after['primary|ok'] ?? 0).toBe(before['primary|ok']);
    expect(after['secondary|ok']).toBeGreaterThanOrEqual((before['secondary|ok'] ?? 0) + 3);
    const metrics = await (await fetch(`${system.app.url}/metrics`)).text();
    expect(metrics).toMatch(/vmpool_agent_pulls_total\{registry="primary",result="failed"\} [1-9]/);
    expect(metrics).toMatch(/vmpool_agent_pulls_total\{registry="secondary",result="ok"\} [3-9]/);

    primary.change({ push: [AGENT] });
    // The primary's breaker may be open in the booter: it is tried again first once it half-opens.
    await waitFor(async () => {
      const fresh = await cycle(Date.now(), 1);
      return (await Promise.all(fresh.map((m) => servedBy(m.id)))).includes('primary');
    }, { what: 'a pull served by the primary again', timeoutMs: 30_000 });
    const back = await cycle(Date.now(), 3);
    for (const m of back) expect(await servedBy(m.id)).toBe('primary');
  });

  it('fails machines with a clear reason when every registry fails, leaks nothing, and leaves the zone breakers closed', async () => {
    const breaker = { minOutcomes: 2, failureRate: 0.5 };
    system = await startSystem({ ...fast, breaker, ...onePool({ warm: 2, max: 3 }) }, undefined, (sim) => {
      for (const registry of sim.registries.values()) registry.change({ fail: 1 });
    });
    const failed = await waitFor(async () => {
      const all = (await allMachines(system!.config.redis.prefix)).filter((m) => m.failure === 'agent-pull-failed' && m.state === 'terminated');
      return all.length >= 4 ? all : undefined;
    }, { what: '4 machines failed on the agent pull and terminated' });
    for (const m of failed) {
      expect(m.failureDetail).toMatch(/^agent vmpool\/build-agent:1\.5\.0: every registry failed \(/);
      // Primary first, unless its breaker in the booter already sends it to the back.
      expect(m.failureDetail).toMatch(/primary failed: .* answered 503 \(UNAVAILABLE\)/);
      expect(m.failureDetail).toMatch(/secondary failed: .* answered 503 \(UNAVAILABLE\)/);
    }
    // The cloud confirms a termination while the instance is still shutting down; the simulated VM stops a moment later.
    const gone = new Set(failed.map((m) => m.instanceId));
    const ended = () => system!.sim.instances().filter((i) => gone.has(i.instanceId)).map((i) => i.state);
    await waitFor(() => ended().length === failed.length && ended().every((state) => state === 'terminated'), { what: 'the failed machines’ instances to terminate' });
    const { body } = await api<{ zones: ZoneStatus[] }>('GET', '/v1/zones');
    expect(body.zones.map((z) => [z.zone, z.state, z.failures])).toEqual(body.zones.map((z) => [z.zone, 'closed', 0]));
    const counted = await pulls();
    expect(counted['primary|failed']).toBeGreaterThanOrEqual(4);
    expect(counted['secondary|failed']).toBeGreaterThanOrEqual(4);
  });

  it('counts a pull that timed out at every registry against the zone, moving on from each at its pull timeout', async () => {
    const pool = onePool({ warm: 1, max: 1, prepare: { agent: { ...agentOf(), pullTimeout: '300ms' }, steps: [] } });
    system = await startSystem({ ...fast, ...pool }, undefined, (sim) => {
      for (const registry of sim.registries.values()) registry.change({ slowMs: 60_000 });
    });
    const failed = await waitFor(async () => (await allMachines(system!.config.redis.prefix)).find((m) => m.failure === 'agent-pull-failed' && m.state === 'terminated'), {
      what: 'a machine failed on pulls that timed out',
    });
    const log = await system.app.machineLog.read(failed.id);
    expect(log.map((e) => [e.name, e.timedOut])).toEqual([
      ['pull vmpool/build-agent:1.5.0 from primary', true],
      ['pull vmpool/build-agent:1.5.0 from secondary', true],
    ]);
    const zone = await waitFor(async () => (await api<{ zones: ZoneStatus[] }>('GET', '/v1/zones')).body.zones.find((z) => z.zone === failed.zone && z.failures > 0), {
      what: `the failure counted against ${failed.zone}`,
    });
    expect(zone.failures).toBeGreaterThanOrEqual(1);
    await waitFor(() => system!.sim.instances().find((i) => i.tags[TAGS.machineId] === failed.id)?.state === 'terminated', { what: 'its instance to terminate' });
  });
});

function agentOf(): Record<string, unknown> {
  return (onePool().pools as { prepare: { agent: Record<string, unknown> } }[])[0]!.prepare.agent;
}
