import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Ed25519KeyPair } from '../../src/boot/host-key.js';
import { createLogger } from '../../src/log.js';
import { startSimVm, type SimVm } from '../../src/sim/vm.js';
import { testKeyPath } from './test-config.js';

/** A test file's cleanup list: run newest first after each test. */
export type Cleanups = (() => Promise<void> | void)[];

/** A simulated VM and its disk, the folder its commands run in. */
export type TestVm = SimVm & { readonly scratchDir: string };

/** A random 127.77.x.y: VMs of test files running in parallel seldom meet on one address. */
export function loopbackAddress(): string {
  return `127.77.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}

/**
 * Starts a quiet VM that lets the run's test key in, on a fresh address and a
 * free port unless told otherwise; `cleanups` gets its close and then the
 * removal of its disk. The disk does not exist beforehand, so every VM also
 * proves that it creates its own.
 */
export async function startTestVm(cleanups: Cleanups, options: { address?: string; port?: number; authorizedKey?: string; hostKey?: Ed25519KeyPair } = {}): Promise<TestVm> {
  const parent = mkdtempSync(join(tmpdir(), 'vmpool-sim-vm-'));
  cleanups.push(() => rmSync(parent, { recursive: true, force: true }));
  const scratchDir = join(parent, 'disk');
  const vm = await startSimVm({
    address: options.address ?? loopbackAddress(),
    port: options.port ?? 0,
    authorizedKey: options.authorizedKey ?? readFileSync(`${testKeyPath()}.pub`, 'utf8'),
    scratchDir,
    logger: createLogger({ level: 'silent', pretty: false }),
    ...(options.hostKey ? { hostKey: options.hostKey } : {}),
  });
  cleanups.push(() => vm.close());
  return { ...vm, scratchDir };
}
