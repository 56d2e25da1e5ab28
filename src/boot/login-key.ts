import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';

/**
 * Reads the booter's SSH login key once at start and checks that it parses,
 * so a wrong path or a passphrase-protected key stops the process with the
 * config key named, not every boot later with a vague SSH error.
 */
export function readLoginKey(path: string): Buffer {
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (err) {
    throw new Error(`ssh.privateKeyPath: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) throw new Error(`ssh.privateKeyPath: ${path} is not a usable private key (${parsed.message})`);
  return key;
}
