import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import type { PreflightRow } from '../../src/pool/preflight.js';
import { startSimCloud, type SimCloud } from '../../src/sim/sim-cloud.js';
import { runToEnd } from '../helpers/child.js';
import { processConfig, type ProcessConfig } from '../helpers/processes.js';
import { rawDefaults } from '../helpers/test-config.js';

// `vmpool doctor` as a person runs it: the compiled CLI, its config from NODE_CONFIG, against the simulated cloud.
let sim: SimCloud | undefined;

afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function startCloud(overrides: Record<string, unknown> = {}): Promise<{ cloud: SimCloud; env: ProcessConfig['env'] }> {
  const { config, env } = await processConfig(overrides);
  sim = await startSimCloud({ config: config.sim, logger: createLogger({ level: 'silent', pretty: false }) });
  return { cloud: sim, env };
}

async function doctorJson(env: Record<string, string>): Promise<{ code: number | string; ok: boolean; checks: PreflightRow[]; output: string }> {
  const { code, output } = await runToEnd('cli.js', ['doctor', '--json'], env);
  // stdout holds the JSON; a failure adds one line on stderr after it.
  const json = JSON.parse(output.slice(output.indexOf('{'), output.lastIndexOf('}') + 1)) as { ok: boolean; checks: PreflightRow[] };
  return { code, output, ...json };
}

const failed = (checks: readonly PreflightRow[]) => checks.filter((c) => !c.ok);
const withoutDetail = ({ detail: _detail, ...row }: PreflightRow) => row;
const ZONES = ['sim/zone-a', 'sim/zone-b', 'sim/zone-c'];

describe('vmpool doctor', () => {
  it('passes on the default config: exit 0, and for each pool its image, tag and terminate permissions, and each zone its offering and a DryRun launch', async () => {
    const { cloud, env } = await startCloud();
    const { code, ok, checks } = await doctorJson(env);
    expect(code).toBe(0);
    expect(ok).toBe(true);
    expect(failed(checks)).toEqual([]);
    const pools = rawDefaults().pools as { name: string; imageId: string; instanceTypes: string[] }[];
    const expected = pools.flatMap((p) => [
      `${p.name} - image ${p.imageId}`,
      ...ZONES.flatMap((zone) => p.instanceTypes.flatMap((type) => [`${p.name} ${zone} ${type} offered`, `${p.name} ${zone} RunInstances ${type} (DryRun)`])),
      `${p.name} - CreateTags (DryRun)`,
      `${p.name} - TerminateInstances (DryRun)`,
    ]);
    expect(checks.map((c) => `${c.pool} ${c.zone ?? '-'} ${c.check}`).sort()).toEqual(expected.sort());
    // The checks went to the cloud as DryRun requests, launching nothing.
    const dryRuns = Object.fromEntries(cloud.api.report().actions.map((a) => [a.action, a.dryRuns]));
    expect(dryRuns).toMatchObject({ RunInstances: pools.length * ZONES.length, CreateTags: pools.length, TerminateInstances: pools.length });
    expect(cloud.instances()).toEqual([]);

    const table = await runToEnd('cli.js', ['doctor'], env);
    expect(table.code).toBe(0);
    expect(table.output).toMatch(/^POOL\s+ZONE\s+CHECK\s+RESULT$/m);
    expect(table.output).toMatch(/small\s+sim\/zone-b\s+RunInstances t3\.small \(DryRun\)\s+ok\n/);
    expect(table.output).toContain(`all ${checks.length} checks passed`);
  });

  it('fails with exit 1 when IAM denies RunInstances, saying UnauthorizedOperation on every launch row', async () => {
    const { cloud, env } = await startCloud();
    cloud.api.deny('RunInstances');
    const { code, ok, checks, output } = await doctorJson(env);
    expect(code).toBe(1);
    expect(ok).toBe(false);
    const refused = failed(checks);
    expect(refused.map((c) => c.check)).toEqual(Array(refused.length).fill(expect.stringMatching(/^RunInstances /)));
    expect(refused).toHaveLength(2 * ZONES.length);
    for (const c of refused) expect(c.detail).toContain('UnauthorizedOperation: You are not authorized to perform this operation');
    expect(output).toContain(`vmpool: ${refused.length} of ${checks.length} checks failed`);

    const table = await runToEnd('cli.js', ['doctor', '--pool', 'small'], env);
    expect(table.code).toBe(1);
    expect(table.output).toMatch(/small\s+sim\/zone-a\s+RunInstances t3\.small \(DryRun\)\s+FAILED: UnauthorizedOperation: /);
    expect(table.output).not.toContain('large');
  });

  it('fails on an image that does not exist in the region, naming it', async () => {
    const [small, large] = rawDefaults().pools as Record<string, unknown>[];
    const { env } = await startCloud({ pools: [{ ...small, imageId: 'ami-deregistered' }, large] });
    const { code, checks } = await doctorJson(env);
    expect(code).toBe(1);
    expect(failed(checks).map(withoutDetail)).toEqual([{ pool: 'small', zone: null, check: 'image ami-deregistered', ok: false }]);
    expect(failed(checks)[0]!.detail).toMatch(/^InvalidAMIID\.NotFound: .*ami-deregistered/);
  });

  it('fails on an instance type a zone does not offer, in that zone only', async () => {
    const { env } = await startCloud({ sim: { offerings: { 'zone-b': ['t3.small'] } } });
    const { code, checks } = await doctorJson(env);
    expect(code).toBe(1);
    expect(failed(checks).map(withoutDetail)).toEqual([{ pool: 'large', zone: 'sim/zone-b', check: 'm5.xlarge offered', ok: false }]);
    expect(failed(checks)[0]!.detail).toContain('does not offer m5.xlarge');
  });
});
