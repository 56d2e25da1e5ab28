import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sweepStaleScratch } from '../../src/sim/scratch-sweep.js';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function exitedPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('sweepStaleScratch', () => {
  it('removes the scratch folder of a simulated cloud whose process died, and keeps a live one', async () => {
    const dead = mkdtempSync(join(tmpdir(), `vmpool-sim-${await exitedPid()}-`));
    const live = mkdtempSync(join(tmpdir(), `vmpool-sim-${process.ppid}-`));
    made.push(dead, live);
    const removed = await sweepStaleScratch();
    expect(removed).toContain(dead.split('/').pop());
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });
});
