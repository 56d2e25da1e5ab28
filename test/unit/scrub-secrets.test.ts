import { generateKeyPairSync } from 'node:crypto';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { scrubSecrets } from '../../src/secrets/scrub.js';

const openssh = ssh2.utils.generateKeyPairSync('ed25519').private;
const pem = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
const bodyOf = (key: string) => key.split('\n').slice(1, -2).join('\n');

describe('scrubSecrets', () => {
  it('removes a bearer token but keeps a challenge readable', () => {
    const out = scrubSecrets('> Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig\nWWW-Authenticate: Bearer realm="http://127.0.0.1:1/token"');
    expect(out).not.toContain('eyJhbGciOiJIUzI1NiJ9');
    expect(out).toContain('Bearer [redacted]');
    expect(out).toContain('Bearer realm="http://127.0.0.1:1/token"');
  });

  it('removes whole OpenSSH and PEM private key blocks, and what is left of a block cut short', () => {
    const out = scrubSecrets(`key:\n${openssh}and\n${pem}done`);
    expect(out).not.toContain(bodyOf(openssh).slice(0, 40));
    expect(out).not.toContain(bodyOf(pem).slice(0, 40));
    expect(out).toBe('key:\n[redacted]\nand\n[redacted]\ndone');
    const cut = openssh.slice(0, openssh.length / 2);
    expect(scrubSecrets(`tail: ${cut}`)).toBe('tail: [redacted]');
    expect(scrubSecrets(openssh.slice(openssh.length / 2))).toBe('[redacted]\n');
  });

  it('removes AWS access key ids and secret keys', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const out = scrubSecrets(`AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nid ASIAQWERTYUIOPASDFGH in use\nAWS_SECRET_ACCESS_KEY=${secret}\naws_secret_access_key    ${secret}\n`);
    for (const leaked of ['AKIAIOSFODNN7EXAMPLE', 'ASIAQWERTYUIOPASDFGH', secret]) expect(out).not.toContain(leaked);
    expect(out).toContain('AWS_SECRET_ACCESS_KEY=[redacted]');
  });

  it.each([
    ['password=hunter2', 'password=[redacted]'],
    ['DB_PASSWORD="hunter2 and more"', 'DB_PASSWORD="[redacted]"'],
    ['token: abc.def', 'token: [redacted]'],
    ['client_secret=s3cr3t&next=1', 'client_secret=[redacted]&next=1'],
    ['{"password": "hunter2", "user": "bob"}', '{"password": "[redacted]", "user": "bob"}'],
    ['{\\"token\\":\\"abc\\",\\"n\\":1}', '{\\"token\\":\\"[redacted]\\",\\"n\\":1}'],
    ["secret: 'x y'", "secret: '[redacted]'"],
  ])('removes the value of an assignment: %s', (text, expected) => {
    expect(scrubSecrets(text)).toBe(expected);
  });

  it('removes the credentials of a URL and keeps its host', () => {
    expect(scrubSecrets('cloning https://deploy:gh-pass-123@git.example.com/org/repo.git')).toBe('cloning https://[redacted]@git.example.com/org/repo.git');
  });

  it('leaves ordinary output alone', () => {
    const text = 'pulled vmpool/build-agent:1.5.0 from http://127.0.0.1:4601 (sha256:abc)\ntoken request answered 401\nprepared';
    expect(scrubSecrets(text)).toBe(text);
  });

  it('leaves a 64 KiB line without separators unchanged', () => {
    const line = 'a'.repeat(64 * 1024);
    expect(scrubSecrets(line)).toBe(line);
  });
});
