import { describe, expect, it } from 'vitest';
import type { ApiReport } from '../../src/sim/api-gate.js';
import { runWorker } from '../helpers/child.js';
import { processConfig, processHarness, startSimProcess } from '../helpers/processes.js';
import { onePool } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

const { children } = processHarness();

const api = async (simUrl: string, method: string, path: string): Promise<ApiReport> => (await (await fetch(`${simUrl}${path}`, { method })).json()) as ApiReport;

describe('the producer’s preflight at start', () => {
  it('logs a warning for each check the cloud refuses, and starts and launches all the same', async () => {
    const { env, simUrl } = await processConfig({ ...onePool({ warm: 1, max: 1 }), producer: { preflightAtStart: true } });
    await startSimProcess(env, children);
    // Tagging after launch refused: launches (tagged in RunInstances itself) still go through.
    await api(simUrl, 'PUT', '/v1/sim/api/denied/CreateTags');
    const producer = runWorker('producer.js', [], env);
    children.push(producer);
    const [line] = await producer.waitForLine(/^.*preflight: CreateTags \(DryRun\) failed for pool small: UnauthorizedOperation.*$/m, { timeoutMs: 120_000 });
    expect(JSON.parse(line)).toMatchObject({ level: 40, pool: 'small', check: 'CreateTags (DryRun)' });
    // Not halted by its finding: the pool's machine is launched.
    await waitFor(async () => {
      const run = (await api(simUrl, 'GET', '/v1/sim/api')).actions.find((a) => a.action === 'RunInstances');
      return run !== undefined && run.calls - run.dryRuns >= 1;
    }, { what: 'a RunInstances that is not a DryRun', timeoutMs: 120_000 });
    // The only refusal, the only warning (they are logged together, once every check is done).
    expect(producer.output().match(/preflight: .* failed/g)).toHaveLength(1);
  });
});
