import { DescribeInstancesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { addSimCommands } from '../../src/cli/sim-commands.js';
import { runInput, startTestSim, thrown } from '../helpers/sim-ec2.js';
import type { Cleanups } from '../helpers/sim-vm.js';
import { testConfig } from '../helpers/test-config.js';

const cleanups: Cleanups = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs `vmpool <args>` against the sim at `simUrl`; resolves with what it printed. */
async function vmpool(simUrl: string, ...args: string[]): Promise<string> {
  const printed: string[] = [];
  const program = new Command('vmpool').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  addSimCommands(program, { simUrl: () => simUrl, print: (line) => printed.push(line) });
  await program.parseAsync(args, { from: 'user' });
  return printed.join('\n');
}

describe('vmpool sim api and vmpool sim deny', () => {
  it("prints each action's calls, throttled, denied and DryRun answers and its buckets", async () => {
    // Refill 0 everywhere: levels read the same however slowly the machine runs.
    const actions = { RunInstances: { request: { size: 2, refill: 0 }, resource: { size: 1000, refill: 0 } }, DescribeInstances: { request: { size: 100, refill: 0 } } };
    const config = testConfig({ sim: { throttling: { enabled: true, actions } } });
    const { sim, ec2 } = await startTestSim(cleanups, { config: config.sim });
    for (let i = 0; i < 3; i++) await ec2.send(new RunInstancesCommand(runInput())).catch(() => undefined);
    await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['pending'] }] }));
    expect((await vmpool(sim.endpoint, 'sim', 'api')).split('\n')).toEqual([
      'ACTION             CALLS  THROTTLED  DENIED  DRY-RUN  REQUEST-BUCKET  RESOURCE-BUCKET',
      'DescribeInstances  1      0          0       0        99/100 +0/s     -',
      'RunInstances       3      1          0       0        0/2 +0/s        998/1000 +0/s',
      'throttling on; denied: none',
    ]);
    expect(JSON.parse(await vmpool(sim.endpoint, 'sim', 'api', '--json'))).toMatchObject({ throttling: true, actions: [{ action: 'DescribeInstances', calls: 1 }, { action: 'RunInstances', calls: 3, throttled: 1 }] });
  });

  it('denies actions until --clear allows them again, one or all', async () => {
    const { sim, ec2 } = await startTestSim(cleanups);
    expect(await vmpool(sim.endpoint, 'sim', 'deny', 'RunInstances', 'TerminateInstances')).toBe('denied: RunInstances, TerminateInstances');
    expect((await thrown(ec2.send(new RunInstancesCommand(runInput())))).name).toBe('UnauthorizedOperation');
    expect(await vmpool(sim.endpoint, 'sim', 'deny', '--clear', 'RunInstances')).toBe('denied: TerminateInstances');
    await ec2.send(new RunInstancesCommand(runInput()));
    expect(await vmpool(sim.endpoint, 'sim', 'deny')).toBe('denied: TerminateInstances');
    expect(await vmpool(sim.endpoint, 'sim', 'deny', '--clear')).toBe('denied: none');
    expect(sim.api.report().denied).toEqual([]);
  });

  it('refuses an action the simulated cloud does not answer, naming the ones it does', async () => {
    const { sim } = await startTestSim(cleanups);
    await expect(vmpool(sim.endpoint, 'sim', 'deny', 'RunInstance')).rejects.toThrow(/RunInstances/);
  });
});
