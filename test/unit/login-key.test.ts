import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLoginKey } from '../../src/boot/login-key.js';
import { generateEd25519KeyPair } from '../../src/boot/host-key.js';

const dir = mkdtempSync(join(tmpdir(), 'vmpool-login-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readLoginKey', () => {
  it('returns a key that parses', () => {
    const path = join(dir, 'good');
    writeFileSync(path, generateEd25519KeyPair().private);
    expect(readLoginKey(path).toString()).toContain('OPENSSH PRIVATE KEY');
  });

  it('names the config key and the path when the file is missing', () => {
    expect(() => readLoginKey(join(dir, 'absent'))).toThrow(`ssh.privateKeyPath: cannot read ${join(dir, 'absent')} (ENOENT)`);
  });

  it('refuses a file that is not a private key, without echoing its content', () => {
    const path = join(dir, 'bad');
    writeFileSync(path, 'not a key at all');
    expect(() => readLoginKey(path)).toThrow(/^ssh\.privateKeyPath: .* is not a usable private key/);
    expect(() => readLoginKey(path)).not.toThrow(/not a key at all/);
  });
});
