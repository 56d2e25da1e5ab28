import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type ssh2 from 'ssh2';

/**
 * ssh2 signs and verifies with the key's PEM text, which Node parses again on
 * every call: an ed25519 signature costs 0.8 ms that way and 0.05 ms with a
 * parsed KeyObject (measured on the 2-core bench machine). The booter signs
 * with its login key thousands of times, and every simulated VM verifies the
 * same authorized key: each KeyObject is made at its first use, then kept.
 * Only ed25519 keys, whose signatures take no hash algorithm; any other key
 * is returned untouched.
 */
export function withKeyObjects(key: ssh2.ParsedKey, known: { privateKey?: KeyObject; publicKey?: KeyObject } = {}): ssh2.ParsedKey {
  if (key.type !== 'ssh-ed25519') return key;
  // A key just generated comes with its KeyObjects: none is made from PEM text then.
  let { publicKey, privateKey } = known;
  // ssh2 expects errors returned, not thrown (its types do not say so).
  if (key.isPrivateKey()) {
    key.sign = ((data: Buffer | string) => attempt(() => sign(null, Buffer.from(data), (privateKey ??= createPrivateKey(key.getPrivatePEM()))))) as ssh2.ParsedKey['sign'];
  }
  key.verify = ((data: Buffer | string, signature: Buffer) =>
    attempt(() => verify(null, Buffer.from(data), (publicKey ??= createPublicKey(key.getPublicPEM())), signature))) as ssh2.ParsedKey['verify'];
  return key;
}

function attempt<T>(work: () => T): T | Error {
  try {
    return work();
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}
