import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = /^vmpool-sim-(\d+)-/;

/**
 * Removes the VM scratch folders of simulated clouds whose process is gone
 * (killed with SIGKILL, so it never cleaned up). A live process's folder is
 * never touched, so several sims on one machine do not disturb each other.
 */
export async function sweepStaleScratch(): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(tmpdir())) {
    const pid = Number(ROOT.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    await rm(join(tmpdir(), name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
