import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';
import { withKeyObjects } from './signing-key.js';

/**
 * The host-key fingerprint exactly as OpenSSH prints it (`ssh-keygen -lf`,
 * the "key fingerprint is" line): SHA-256 of the SSH wire-format public key
 * blob, base64 without `=` padding, prefixed `SHA256:`. Using OpenSSH's form
 * lets an operator paste what `ssh` showed into config and compare by eye.
 */
export function fingerprint(publicKeyBlob: Buffer): string {
  const digest = createHash('sha256').update(publicKeyBlob).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** The public key as a known_hosts or authorized_keys line holds it: `<type> <base64 blob>`, the type read from the blob. */
export function publicKeyLine(publicKeyBlob: Buffer): string {
  const length = publicKeyBlob.length >= 4 ? publicKeyBlob.readUInt32BE(0) : 0;
  const type = publicKeyBlob.subarray(4, 4 + length).toString('latin1');
  return `${/^[a-z0-9@.-]+$/.test(type) ? type : 'unknown'} ${publicKeyBlob.toString('base64')}`;
}

/** An ed25519 key pair in OpenSSH format, with the parsed private key (signing with its KeyObject). */
export interface Ed25519KeyPair {
  private: string;
  public: string;
  parsed: ssh2.ParsedKey;
}

/**
 * A fresh ed25519 key pair, its private key in OpenSSH's format (what
 * `ssh-keygen -t ed25519` writes, unencrypted) and parsed by ssh2 with the
 * key's KeyObjects attached (see signing-key.ts). The simulated cloud makes
 * one per VM: built from Node's key here, a pair costs about 0.35 ms with its
 * first signature, against 0.85 ms through `ssh2.utils.generateKeyPairSync`,
 * whose key then signs from its PEM text (measured on the 2-core bench
 * machine). The public key is always written 32 bytes long: ssh2's generator
 * drops a leading zero byte (about 1 key in 256) and cannot read such keys back.
 */
export function generateEd25519KeyPair(comment = ''): Ed25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  // The raw keys are the last 32 bytes of their DER forms (RFC 8410).
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
  const blob = sshStrings(KEY_TYPE, raw);
  const text = openSshPrivateKey(blob, sshStrings(KEY_TYPE, raw, Buffer.concat([seed, raw]), comment));
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error) throw new Error(`ssh2 cannot read the ed25519 key just made: ${parsed.message}`, { cause: parsed });
  return { private: text, public: `${KEY_TYPE} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`, parsed: withKeyObjects(parsed, { privateKey, publicKey }) };
}

const KEY_TYPE = 'ssh-ed25519';

/** SSH wire strings: each a uint32 length, then its bytes. */
function sshStrings(...values: (string | Buffer)[]): Buffer {
  return Buffer.concat(
    values.flatMap((value) => {
      const bytes = Buffer.from(value);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return [length, bytes];
    }),
  );
}

/** OpenSSH's `openssh-key-v1` container (PROTOCOL.key), one key, no cipher; `key` = type, public, private+public, comment. */
function openSshPrivateKey(publicBlob: Buffer, key: Buffer): string {
  const check = randomBytes(4);
  const unpadded = 8 + key.length;
  const padding = Buffer.from(Array.from({ length: (8 - (unpadded % 8)) % 8 }, (_, i) => i + 1));
  const secret = Buffer.concat([check, check, key, padding]);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), sshStrings('none', 'none', ''), uint32(1), sshStrings(publicBlob, secret)]);
  const lines = body.toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

function uint32(n: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(n);
  return bytes;
}
