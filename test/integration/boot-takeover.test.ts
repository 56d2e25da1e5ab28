import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { MachineStore } from '../../src/machines/store.js';
import { ZoneBreaker } from '../../src/zones/breaker.js';
import { runWorker, type Child } from '../helpers/child.js';
import { processConfig, processHarness } from '../helpers/processes.js';
import { gatedStep, holdInPrepare } from '../helpers/prepare-gate.js';
import { onePool } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';
import { MULTI_PROCESS_TEST_MS } from '../helpers/hang-ceilings.js';

// A booter killed with SIGKILL mid-boot: another booter takes the boot over
// (BullMQ's stalled-job check) and the machine is judged on its own merits,
// not on the time the hand-over took.
const { redis, children } = processHarness();

function start(script: string, env: Record<string, string>): Child {
  const child = runWorker(script, [], env);
  children.push(child);
  return child;
}

describe('a boot taken over after its booter was killed', () => {
  it('gets a fresh window when the original deadline passed meanwhile, becomes ready, and counts nothing against its zone', { timeout: MULTI_PROCESS_TEST_MS }, async () => {
    const pc = await processConfig({
      // The boot deadline is short and will have passed by the takeover; the resume window is not.
      booter: { describeEvery: '100ms', resumeWindow: '30s' },
      breaker: { slowBootFloor: '20s' },
      ...onePool({ warm: 1, max: 1, bootTimeout: '2s', prepare: { steps: [gatedStep('60s')] } }),
    });
    const store = new MachineStore(redis, pc.prefix);
    const { machine, booter: first, runs, release } = await holdInPrepare(pc, redis, (script) => start(script, pc.env), children);

    await first.kill();
    children.splice(children.indexOf(first), 1);
    const deadline = machine.launchedAt! + pc.config.pools[0]!.bootTimeout;
    await waitFor(() => Date.now() > deadline, { what: 'the original boot deadline to pass' });
    const second = start('booter.js', pc.env);
    // BullMQ hands the dead booter's job on after its lock expires and a stall check runs: waits with ceilings only a hang reaches.
    await second.waitForLine(new RegExp(`"machineId":"${machine.id}".*"msg":"boot taken over from another booter"`), { timeoutMs: 60_000 });
    await waitFor(() => runs() === 2, { what: 'the second booter to run the prepare step again', timeoutMs: 60_000 });
    release();
    await waitFor(async () => (await store.get(machine.id))?.state === 'ready', { what: 'the machine to be ready', timeoutMs: 60_000 });

    const ready = await store.get(machine.id);
    expect(ready?.failure).toBeUndefined();
    expect(ready?.bootResumedAt).toBeGreaterThan(deadline);
    const breaker = new ZoneBreaker(redis, pc.prefix, pc.config.breaker, createLogger({ level: 'silent', pretty: false }));
    expect((await breaker.read([machine.zone], Date.now())).get(machine.zone)).toMatchObject({ outcomes: 1, failures: 0 });
    // The hand-over's delay is not a boot time: the median that defines "slow" is left alone.
    expect(await redis.keys(`${pc.prefix}:boot-times*`)).toEqual([]);
  });
});
