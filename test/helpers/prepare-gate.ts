import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Machine } from '../../src/machines/machine.js';
import { MachineStore } from '../../src/machines/store.js';
import type { Child } from './child.js';
import { simScratchDir, startSimProcess, type ProcessConfig } from './processes.js';
import { waitFor } from './wait-for.js';

/** A prepare step that records each run in `started` and waits for a `go` file in the VM's scratch folder. */
export function gatedStep(timeout: string): Record<string, string> {
  return { name: 'wait-for-go', run: 'echo $$ >> started; while [ ! -f go ]; do sleep 0.05; done; echo prepared > prepared.txt', timeout };
}

export interface HeldPrepare {
  machine: Machine;
  /** The booter running the step. */
  booter: Child;
  /** How many times the step has started on the machine. */
  runs: () => number;
  /** Lets the step finish. */
  release: () => void;
}

/**
 * Starts the sim, a producer and a booter (each with `start`, which must
 * register them for stopping), and returns once the pool's first machine is
 * running its gated step (`gatedStep`): a booter caught mid-prepare.
 */
export async function holdInPrepare(pc: ProcessConfig, redis: Redis, start: (script: string) => Child, children: Child[]): Promise<HeldPrepare> {
  const store = new MachineStore(redis, pc.prefix);
  const sim = await startSimProcess(pc.env, children);
  start('producer.js');
  const booter = start('booter.js');
  const machine = await waitFor(async () => (await store.list('small', 'preparing'))[0], { what: 'a machine preparing' });
  const scratch = await waitFor(() => simScratchDir(sim.pid, machine.instanceId!), { what: 'the VM’s scratch folder' });
  const started = join(scratch, 'started');
  const runs = () => (existsSync(started) ? readFileSync(started, 'utf8').trim().split('\n').length : 0);
  await waitFor(() => runs() === 1, { what: 'the prepare step to be running' });
  return { machine, booter, runs, release: () => writeFileSync(join(scratch, 'go'), '') };
}
