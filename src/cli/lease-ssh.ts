import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What of a lease answer the ssh command needs. */
export interface LeaseAddress {
  id: string;
  address?: string;
  port?: number;
  user: string;
  hostKeyFingerprint?: string;
  /** The pinned public key (`ssh-ed25519 AAAA...`); absent from an older server's answer. */
  hostKey?: string;
}

/** The known_hosts line for the machine: `[host]:port` unless the port is 22, as OpenSSH writes it. */
export function knownHostsLine(lease: LeaseAddress): string {
  const host = lease.port === undefined || lease.port === 22 ? `${lease.address}` : `[${lease.address}]:${lease.port}`;
  return `${host} ${lease.hostKey}\n`;
}

/**
 * The ssh command for a lease that accepts only the host key vmpool pinned at
 * first contact: the key goes in a known_hosts file of its own
 * (`<dir>/<machine-id>`) and ssh is told to check it strictly. Without a key
 * in the answer, ssh is still strict (it refuses until the operator checks the
 * fingerprint by hand), never trusting whatever answers.
 */
export function leaseSshCommand(lease: LeaseAddress, knownHostsDir: string, keyPath: string | undefined): { command: string; knownHostsFile?: string } {
  const key = keyPath ? `-i ${keyPath} ` : '';
  const target = `-p ${lease.port} ${lease.user}@${lease.address}`;
  if (!lease.hostKey || !/^[a-z0-9@.-]+ [A-Za-z0-9+/=]+$/.test(lease.hostKey)) {
    return { command: `ssh ${key}-o StrictHostKeyChecking=yes ${target}` };
  }
  mkdirSync(knownHostsDir, { recursive: true, mode: 0o700 });
  const file = join(knownHostsDir, lease.id.replace(/[^A-Za-z0-9._-]/g, '_'));
  writeFileSync(file, knownHostsLine(lease), { mode: 0o600 });
  return { command: `ssh ${key}-o StrictHostKeyChecking=yes -o UserKnownHostsFile=${file} ${target}`, knownHostsFile: file };
}
