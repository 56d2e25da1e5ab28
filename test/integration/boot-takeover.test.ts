import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { MachineStore } from '../../src/machines/store.js';
import { ZoneBreaker } from '../../src/zones/breaker.js';
import { runWorker, type Child } from '../helpers/child.js';
import { processConfig, processHarness, simScratchDir, startSimProcess } from '../helpers/processes.js';
import { onePool } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

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
  it('gets a fresh window when the original deadline passed meanwhile, becomes ready, and counts nothing against its zone', async () => {
    const pc = await processConfig({
      // The boot deadline is short and will have passed by the takeover; the resume window is not.
      booter: { describeEvery: '100ms', resumeWindow: '30s' },
      breaker: { slowBootFloor: '20s' },
      ...onePool({ warm: 1, max: 1, bootTimeout: '2s', prepare: { steps: [{ name: 'wait-for-go', run: 'echo $$ >> started; while [ ! -f go ]; do sleep 0.05; done', timeout: '60s' }] } }),
    });
    const store = new MachineStore(redis, pc.prefix);
    const sim = await startSimProcess(pc.env, children);
    start('producer.js', pc.env);
    const first = start('booter.js', pc.env);
    const machine = await waitFor(async () => (await store.list('small', 'preparing'))[0], { what: 'a machine preparing' });
    const scratch = await waitFor(() => simScratchDir(sim.pid, machine.instanceId!), { what: 'the VM’s scratch folder' });
    const started = join(scratch, 'started');
    const runs = () => (existsSync(started) ? readFileSync(started, 'utf8').trim().split('\n').length : 0);
    await waitFor(() => runs() === 1, { what: 'the prepare step to be running' });

    await first.kill();
    children.splice(children.indexOf(first), 1);
    const deadline = machine.launchedAt! + pc.config.pools[0]!.bootTimeout;
    await waitFor(() => Date.now() > deadline, { what: 'the original boot deadline to pass' });
    const second = start('booter.js', pc.env);
    await second.waitForLine(new RegExp(`"machineId":"${machine.id}".*"msg":"boot taken over from another booter"`));
    await waitFor(() => runs() === 2, { what: 'the second booter to run the prepare step again' });
    writeFileSync(join(scratch, 'go'), '');
    await waitFor(async () => (await store.get(machine.id))?.state === 'ready', { what: 'the machine to be ready' });

    const ready = await store.get(machine.id);
    expect(ready?.failure).toBeUndefined();
    expect(ready?.bootResumedAt).toBeGreaterThan(deadline);
    const breaker = new ZoneBreaker(redis, pc.prefix, pc.config.breaker, createLogger({ level: 'silent', pretty: false }));
    expect((await breaker.read([machine.zone], Date.now())).get(machine.zone)).toMatchObject({ outcomes: 1, failures: 0 });
    // The hand-over's delay is not a boot time: the median that defines "slow" is left alone.
    expect(await redis.exists(`${pc.prefix}:boot-times`)).toBe(0);
  });
});
