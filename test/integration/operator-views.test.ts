import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from '../../src/status.js';
import type { LeaseEntry } from '../../src/pool/lease-list.js';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { runToEnd } from '../helpers/child.js';
import { waitFor } from '../helpers/wait-for.js';

const TOKEN = 'operator-views-token';
let system: TestSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${system!.app.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as T };
}

const cli = (env: Record<string, string>, ...args: string[]) => runToEnd('cli.js', args, { VMPOOL_URL: system!.app.url!, VMPOOL_TOKEN: '', API_TOKEN: '', ...env });

/** Every field named like a time (`...At`, `since`, `until`, `openUntil`) anywhere in `value`, with its path. */
function timeFields(value: unknown, path = ''): [string, unknown][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => timeFields(v, `${path}[${i}]`));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [...(/(At|since|until|Until)$/.test(k) && typeof v !== 'object' ? [[`${path}.${k}`, v] as [string, unknown]] : []), ...timeFields(v, `${path}.${k}`)]);
}
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

/**
 * Prometheus naming rules as `promtool check metrics` applies them: snake case,
 * counters end in _total and nothing else does, base units as suffixes
 * (seconds, bytes; no ms or abbreviations), no type in the name, and no word
 * said twice in a row (`vmpool_process_process_...`).
 */
function namingProblems(exposition: string): string[] {
  const types = new Map<string, string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(name!, type!);
  const problems: string[] = [];
  for (const [name, type] of types) {
    const words = name.split('_');
    if (!/^[a-z][a-z0-9_]*$/.test(name)) problems.push(`${name}: not snake case`);
    if (!name.startsWith('vmpool_')) problems.push(`${name}: not under the vmpool_ prefix`);
    if (type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: a counter without _total`);
    if (type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: _total on a ${type}`);
    if (words.some((w, i) => i > 0 && w === words[i - 1])) problems.push(`${name}: a word said twice`);
    if (words.some((w) => ['ms', 'milliseconds', 'sec', 'secs', 'kb', 'mb', 'percent', 'gauge', 'counter', 'histogram'].includes(w))) problems.push(`${name}: a non-base unit or a type in the name`);
  }
  return problems;
}

describe('what an operator looks at: leases, why a pool is below target, times, metric names', () => {
  it('lists every lease with who asked; status says target, max and why below target; one-line errors; ISO times; Prometheus names', async () => {
    system = await startSystem({ ...onePool({ warm: 2, max: 3 }), http: { token: TOKEN } });
    await waitFor(async () => (await api<Status>('GET', '/v1/status')).body.pools[0]!.machines.ready >= 2, { what: 'two ready machines', timeoutMs: 60_000 });

    // Who asked, stored on the lease and shown in its answer.
    const leased = await cli({ VMPOOL_TOKEN: TOKEN }, 'lease', 'small', '--by', 'https://ci.example/job/7', '--json');
    expect(leased.code).toBe(0);
    const first = JSON.parse(leased.output) as { id: string; leasedBy: string };
    expect(first.leasedBy).toBe('https://ci.example/job/7');

    // A leasedBy with control characters or too long is refused naming the field.
    const forged = await api<{ message: string }>('POST', '/v1/pools/small/leases', { leasedBy: 'job\n[31mforged' });
    expect(forged.status).toBe(400);
    expect(forged.body.message).toContain('leasedBy:');
    const tooLong = await api<{ message: string }>('POST', '/v1/pools/small/leases', { leasedBy: 'x'.repeat(201) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.message).toContain('leasedBy');

    // Without the token: one line naming --token and VMPOOL_TOKEN.
    const refused = await cli({}, 'lease', 'small');
    expect(refused.code).toBe(1);
    expect(refused.output.trim().split('\n')).toHaveLength(1);
    expect(refused.output).toMatch(/--token.*VMPOOL_TOKEN/);

    // Fill the pool to max with leases: every lease is listed, oldest first, and status says the pool is at max.
    expect((await api('POST', '/v1/pools/small/leases', { wait: '60s' })).status).toBe(200);
    expect((await api('POST', '/v1/pools/small/leases', { wait: '60s', leasedBy: 'drill' })).status).toBe(200);
    const { body } = await api<{ leases: LeaseEntry[] }>('GET', '/v1/leases?pool=small');
    expect(body.leases).toHaveLength(3);
    const oldest = body.leases[0]!;
    expect(oldest).toMatchObject({ id: first.id, pool: 'small', leasedBy: 'https://ci.example/job/7' });
    expect(oldest.zone).toMatch(/^sim\/zone-[abc]$/);
    expect(oldest.address).toMatch(/^127\./);
    expect(oldest.ageSeconds).toBeGreaterThanOrEqual(0);
    expect(body.leases[2]!.leasedBy).toBe('drill');
    // The same leases without the pool filter; their ages may have ticked over in between.
    const withoutAge = (leases: LeaseEntry[]) => leases.map(({ ageSeconds: _age, ...rest }) => rest);
    expect(withoutAge((await api<{ leases: LeaseEntry[] }>('GET', '/v1/leases')).body.leases)).toEqual(withoutAge(body.leases));
    expect(await api('GET', '/v1/leases?pool=huge')).toMatchObject({ status: 404, body: { error: 'unknown-pool' } });
    const listed = await cli({}, 'leases');
    expect(listed.output).toContain(first.id);
    expect(listed.output).toContain('https://ci.example/job/7');
    expect(listed.output.split('\n')[0]).toMatch(/^ID\s+POOL\s+ZONE\s+ADDRESS\s+AGE\s+LEASED BY$/);

    const atMax = await waitFor(async () => {
      const pool = (await api<Status>('GET', '/v1/status')).body.pools[0]!;
      return pool.belowTarget?.kind === 'at-max' ? pool : undefined;
    }, { what: 'the pool below target because it is at max' });
    expect(atMax.belowTarget!.reason).toContain('3 of them leased');
    const status = await cli({}, 'status');
    expect(status.output).toContain('target 2, max 3');
    expect(status.output).toContain('below target: at max');

    // Times are ISO 8601 UTC in every answer (the rollout's setAt was epoch milliseconds).
    const rollout = await cli({ VMPOOL_TOKEN: TOKEN }, 'agent', 'set', '1.6.0', '--json');
    expect(rollout.code).toBe(0);
    const answers = [JSON.parse(rollout.output), (await api('GET', '/v1/status')).body, body, (await api('GET', '/v1/zones/audit')).body, (await api('GET', '/v1/recovery')).body];
    const times = answers.flatMap((answer) => timeFields(answer));
    expect(times.map(([path]) => path)).toContain('.pools[0].setAt');
    for (const [path, value] of times) expect(`${path}=${String(value)}`).toMatch(new RegExp(`=${ISO_UTC.source.slice(1)}`));

    // Metric names pass Prometheus' naming rules.
    const exposition = await (await fetch(`${system.app.url}/metrics`)).text();
    expect(exposition).toContain('vmpool_process_cpu_user_seconds_total');
    expect(namingProblems(exposition)).toEqual([]);
  }, 240_000);
});
