import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateEd25519KeyPair } from '../boot/host-key.js';

/**
 * Creates an ed25519 key pair at `privateKeyPath` (and `.pub` beside it) unless
 * one is there: the demo's login key for the simulated VMs.
 */
export function ensureKeyPair(privateKeyPath: string, publicKeyPath = `${privateKeyPath}.pub`): void {
  if (existsSync(privateKeyPath) && existsSync(publicKeyPath)) return;
  const pair = generateEd25519KeyPair('vmpool-sim');
  mkdirSync(dirname(privateKeyPath), { recursive: true, mode: 0o700 });
  mkdirSync(dirname(publicKeyPath), { recursive: true, mode: 0o700 });
  writeFileSync(privateKeyPath, pair.private, { mode: 0o600 });
  writeFileSync(publicKeyPath, `${pair.public}\n`, { mode: 0o644 });
}
