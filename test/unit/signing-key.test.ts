import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../src/boot/host-key.js';
import { withKeyObjects } from '../../src/boot/signing-key.js';

const parse = (text: string) => {
  const key = ssh2.utils.parseKey(text);
  if (key instanceof Error) throw key;
  return key;
};

describe('withKeyObjects', () => {
  it('signs and verifies exactly as ssh2 does for an ed25519 key', () => {
    const pair = generateEd25519KeyPair();
    const data = Buffer.from('session id and userauth request');
    const fast = withKeyObjects(parse(pair.private));
    const plain = parse(pair.private);
    const signature = fast.sign(data);
    expect(signature).toEqual(plain.sign(data)); // ed25519 signatures are deterministic
    expect(plain.verify(data, signature)).toBe(true);
    const publicOnly = withKeyObjects(parse(pair.public));
    expect(publicOnly.verify(data, signature)).toBe(true);
    expect(publicOnly.verify(Buffer.from('something else'), signature)).toBe(false);
  });

  it('leaves keys of other types as ssh2 made them', () => {
    const rsa = parse(ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 }).private);
    const data = Buffer.from('data');
    const [sign, verify]: unknown[] = [Reflect.get(rsa, 'sign'), Reflect.get(rsa, 'verify')];
    withKeyObjects(rsa);
    expect([Reflect.get(rsa, 'sign'), Reflect.get(rsa, 'verify')]).toEqual([sign, verify]);
    expect(rsa.verify(data, rsa.sign(data))).toBe(true);
  });
});
