import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';

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

/** An ed25519 key pair in OpenSSH format, with the parsed private key. */
export interface Ed25519KeyPair {
  private: string;
  public: string;
  parsed: ssh2.ParsedKey;
}

/**
 * `ssh2.utils.generateKeyPairSync('ed25519')`, minus its bug: when the public
 * key starts with a zero byte (about 1 key in 256) ssh2 writes it 31 bytes
 * long and cannot read the key back ("Malformed OpenSSH private key"). Such
 * keys are drawn again.
 */
export function generateEd25519KeyPair(comment?: string): Ed25519KeyPair {
  for (let attempt = 0; ; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', comment === undefined ? {} : { comment });
    const parsed = ssh2.utils.parseKey(pair.private);
    if (!(parsed instanceof Error) && parsed.getPublicSSH().length === 51) return { ...pair, parsed };
    if (attempt >= 20) throw new Error('ssh2 keeps generating unreadable ed25519 keys');
  }
}
