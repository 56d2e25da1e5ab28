import { afterEach, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../src/agent/agent-status.js';
import { TAGS } from '../../src/providers/provider.js';
import { idShare } from '../../src/agent/rollout.js';
import type { Status } from '../../src/status.js';
import { allMachines } from '../helpers/machines.js';
import { runToEnd } from '../helpers/child.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

let system: TestSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

// One replacement at a time for a pool of 3, as fast as the reconciles come.
const rollout = { agent: { rollout: { maxShare: 0.34, every: '100ms' }, canaryGuard: { failureRatio: 3, minFailures: 2 } } };

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${system!.app.url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as T };
}

const agent = async (): Promise<AgentStatus> => (await api<Status>('GET', '/v1/status')).body.pools[0]!.agent!;
const readyOn = (a: AgentStatus, version: string) => a.machines[version]?.ready ?? 0;
async function leaseAndRelease(): Promise<void> {
  const lease = await api<{ id: string }>('POST', '/v1/pools/small/leases', { wait: '20s' });
  expect(lease.status).toBe(200);
  expect((await api('DELETE', `/v1/leases/${lease.body.id}`)).status).toBe(200);
}

const cli = (...args: string[]) => runToEnd('cli.js', args, { VMPOOL_URL: system!.app.url! });

/**
 * Waits until every ready machine of the pool (3) runs `version` and none is
 * on its way on another; meanwhile, whenever the pool is full, a build leases
 * (and releases) a machine: every lease must be served while it converges.
 */
async function convergeTo(version: string): Promise<number> {
  let leases = 0;
  await waitFor(
    async () => {
      const a = await agent();
      const others = Object.entries(a.machines).filter(([v, c]) => v !== version && c.ready + c.warming > 0);
      if (readyOn(a, version) === 3 && others.length === 0 && a.superseded === 0) return true;
      if (Object.values(a.machines).reduce((sum, c) => sum + c.ready, 0) < 3) return false;
      const lease = await api<{ id: string }>('POST', '/v1/pools/small/leases', { wait: '20s' });
      expect(lease.status).toBe(200);
      leases++;
      expect((await api('DELETE', `/v1/leases/${lease.body.id}`)).status).toBe(200);
      return false;
    },
    { what: `every ready machine on ${version}`, everyMs: 100, timeoutMs: 40_000 },
  );
  return leases;
}

describe('agent rollout across the warm pool', () => {
  it('converges the ready machines to a new version while leases are served, never touches a leased machine, and rolls back the same way', async () => {
    system = await startSystem({ ...rollout, ...onePool({ warm: 3, max: 6 }) });
    await waitFor(async () => readyOn(await agent(), '1.5.0') === 3, { what: '3 ready machines on 1.5.0' });
    const held = await api<{ id: string; agentVersion: string }>('POST', '/v1/pools/small/leases', { wait: '20s' });
    expect(held.body.agentVersion).toBe('1.5.0');

    const set = await api<{ pools: { pool: string; version: string }[] }>('PUT', '/v1/agent/rollout', { version: '1.6.0', by: 'test' });
    expect(set.status).toBe(200);
    expect(set.body.pools).toMatchObject([{ pool: 'small', version: '1.6.0', source: 'operator', setBy: 'test' }]);
    expect(await convergeTo('1.6.0')).toBeGreaterThan(0);
    expect((await system.app.store.get(held.body.id))?.state).toBe('leased');
    for (const m of await system.app.store.list('small', 'ready')) {
      expect(system.sim.instances().find((i) => i.instanceId === m.instanceId)?.tags[TAGS.agentVersion]).toBe('1.6.0');
    }
    const status = await cli('status');
    expect(status.output).toMatch(/ {2}agent vmpool\/build-agent 1\.6\.0: 1\.6\.0 3 ready, 1\.5\.0 1 leased\n/);

    expect((await api('PUT', '/v1/agent/rollout', { version: '1.5.0' })).status).toBe(200);
    await convergeTo('1.5.0');
    expect((await system.app.store.get(held.body.id))?.state).toBe('leased');
    const retired = (await allMachines(system.config.redis.prefix)).filter((m) => m.retiredFor === 'agent-rollout');
    expect(retired.length).toBeGreaterThan(0);
    for (const m of retired) expect(m.leasedAt).toBeUndefined();
  });

  it('keeps a canary set on a rollback to its share: machines beyond it by the machine-id rule are replaced, and status shows the actual share beside the target', async () => {
    system = await startSystem({ ...rollout, ...onePool({ warm: 3, max: 6 }) });
    expect((await api('PUT', '/v1/agent/rollout', { version: '1.6.0' })).status).toBe(200);
    await convergeTo('1.6.0');
    // The whole fleet on 1.6.0; rolled back with 1.6.0 as a tenth's canary.
    const set = await cli('agent', 'set', '1.5.0', '--canary', '1.6.0', '--share', '0.1');
    expect(set.code).toBe(0);
    const onItsShare = async (a: AgentStatus) => {
      const ready = await system!.app.store.list('small', 'ready');
      // The same rule that picks new machines' versions: the canary only on ids below its share.
      return a.superseded === 0 && ready.length === 3 && ready.every((m) => m.agentVersion === (idShare(m.id) < 0.1 ? '1.6.0' : '1.5.0'));
    };
    // No build leases meanwhile: the replacements alone bring the canary back to its share.
    await waitFor(async () => onItsShare(await agent()), { what: 'the canary back to its share of ready machines', everyMs: 100, timeoutMs: 90_000 });
    const ready = await system.app.store.list('small', 'ready');
    const actual = ready.filter((m) => m.agentVersion === '1.6.0').length / ready.length;
    expect(actual).toBeLessThan(1);
    const a = await agent();
    expect(a.canary).toEqual({ version: '1.6.0', share: 0.1, actualShare: actual });
    const retired = (await allMachines(system.config.redis.prefix)).filter((m) => m.retiredFor === 'agent-rollout' && m.agentVersion === '1.6.0');
    for (const m of retired) expect(idShare(m.id)).toBeGreaterThanOrEqual(0.1);
    expect((await cli('status')).output).toContain(`(canary 1.6.0 at 10%, now ${Math.round(actual * 100)}%)`);
  }, 240_000);

  it('refuses a version a registry lacks unless forced, with the verify table in the CLI', async () => {
    system = await startSystem({ ...rollout, ...onePool({ warm: 0, max: 1 }) });
    const ok = await cli('agent', 'verify', '1.5.0');
    expect(ok.code).toBe(0);
    expect(ok.output).toMatch(/^REGISTRY +IMAGE +PRESENT +DIGEST\nprimary +vmpool\/build-agent:1\.5\.0 +yes +sha256:[0-9a-f]{64}\nsecondary +vmpool\/build-agent:1\.5\.0 +yes +sha256:[0-9a-f]{64}\n1\.5\.0: present everywhere, one digest\n$/);

    const lacking = await cli('agent', 'verify', '1.4.2');
    expect(lacking.code).toBe(1);
    expect(lacking.output).toMatch(/secondary +vmpool\/build-agent:1\.4\.2 +no +-/);
    expect(lacking.output).toContain('problem: secondary: has no vmpool/build-agent:1.4.2');

    const refused = await cli('agent', 'set', '1.4.2');
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('409 verify-failed: refused: secondary: has no vmpool/build-agent:1.4.2');
    expect((await agent()).version).toBe('1.5.0');

    const forced = await cli('agent', 'set', '1.4.2', '--force');
    expect(forced).toMatchObject({ code: 0 });
    expect((await agent()).version).toBe('1.4.2');
    expect((await api('PUT', '/v1/agent/rollout', { version: '1.6.0', canary: { version: '1.6.0', share: 0.1 } })).status).toBe(400);
    expect((await api('PUT', '/v1/agent/rollout', { version: 'x;id' })).status).toBe(400);
  });

  it('gives the canary to its share of machines, leases a machine by version, and halts a failing canary until resumed', async () => {
    const withCanary = { ...agentOf(), canary: { version: '1.6.0', share: 0.5 } };
    system = await startSystem({ ...rollout, ...onePool({ warm: 4, max: 6, prepare: { agent: withCanary, steps: [] } }) });
    // Machine ids decide; cycling machines through leases soon shows both versions.
    await waitFor(async () => {
      const a = await agent();
      if (readyOn(a, '1.5.0') >= 1 && readyOn(a, '1.6.0') >= 1) return true;
      await leaseAndRelease();
      return false;
    }, { what: 'ready machines on both versions', everyMs: 200, timeoutMs: 120_000 });
    const canary = await api<{ agentVersion: string }>('POST', '/v1/pools/small/leases', { wait: '5s', agentVersion: '1.6.0' });
    expect(canary).toMatchObject({ status: 200, body: { agentVersion: '1.6.0' } });
    expect((await api('POST', '/v1/pools/small/leases', { agentVersion: '$(id)' })).status).toBe(400);

    // A canary missing from every registry fails prepare on all its machines: the guard halts it.
    expect((await api('PUT', '/v1/agent/rollout', { version: '1.5.0', canary: { version: '9.9.9', share: 0.5 }, force: true })).status).toBe(200);
    const halted = await waitFor(async () => {
      const a = await agent();
      if (a.canaryHalted) return a.canaryHalted;
      // Builds keep taking machines, so new ones (half of them on the canary) keep coming.
      if (Object.values(a.machines).some((c) => c.ready > 0)) await leaseAndRelease();
      return undefined;
    }, { what: 'the canary halted', timeoutMs: 30_000, everyMs: 200 });
    expect(halted).toMatchObject({ version: '9.9.9', reason: expect.stringMatching(/^canary failed prepare on \d+ of \d+ machines/) as string });
    const metrics = await (await fetch(`${system.app.url}/metrics`)).text();
    expect(metrics).toContain('vmpool_agent_canary_halted{pool="small"} 1');
    // No new machine gets the halted canary: the pool fills on the stable version.
    await waitFor(async () => readyOn(await agent(), '1.5.0') === 4, { what: 'the pool full on 1.5.0' });
    // A reconcile that read the rollout just before the halt may still create one canary machine; well after it, none.
    const settled = Date.now();
    await leaseAndRelease();
    await leaseAndRelease();
    const afterHalt = await waitFor(async () => {
      const created = (await allMachines(system!.config.redis.prefix)).filter((m) => m.createdAt > settled);
      return created.length >= 2 ? created : undefined;
    }, { what: 'replacements created after the halt' });
    expect(afterHalt.map((m) => m.agentVersion).filter((v) => v === '9.9.9')).toEqual([]);

    const resumed = await cli('agent', 'resume', '--pool', 'small');
    expect(resumed).toEqual({ code: 0, output: 'canary resumed in small\n' });
    expect((await agent()).canaryHalted).toBeUndefined();
  }, 300_000);
});

function agentOf(): Record<string, unknown> {
  return (onePool().pools as { prepare: { agent: Record<string, unknown> } }[])[0]!.prepare.agent;
}
