import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { fingerprint, generateEd25519KeyPair } from '../../src/boot/host-key.js';

// Produced with `ssh-keygen -t ed25519 -C vector` and printed by `ssh-keygen -lf` (OpenSSH 9.2).
const VECTOR_PUBLIC = 'AAAAC3NzaC1lZDI1NTE5AAAAIG+Z79Z6mWemM4gmW999ygPjBhEuQ996laEjZO8BFxl5';
const VECTOR_FINGERPRINT = 'SHA256:e0LXsZF365r9q2nikjoXkaUhFvL5CtRmNHIBIaM1NNQ';

describe('host key fingerprint', () => {
  it('equals what ssh-keygen -lf prints for the same key', () => {
    expect(fingerprint(Buffer.from(VECTOR_PUBLIC, 'base64'))).toBe(VECTOR_FINGERPRINT);
  });

  it('drops the base64 padding, as OpenSSH does', () => {
    const printed = fingerprint(Buffer.from('any blob'));
    expect(printed).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('differs when one byte of the key differs', () => {
    const blob = Buffer.from(VECTOR_PUBLIC, 'base64');
    blob.writeUInt8(blob.readUInt8(blob.length - 1) ^ 1, blob.length - 1);
    expect(fingerprint(blob)).not.toBe(VECTOR_FINGERPRINT);
  });

  it('generates only ed25519 keys that ssh2 can read back (ssh2 alone fails about 1 in 256)', () => {
    for (let i = 0; i < 600; i++) {
      const pair = generateEd25519KeyPair('unit');
      const publicKey = ssh2.utils.parseKey(pair.public);
      if (publicKey instanceof Error) throw publicKey;
      expect(publicKey.getPublicSSH().equals(pair.parsed.getPublicSSH())).toBe(true);
    }
  });
});
