import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { createLogger } from '../../src/log.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', pretty: false, destination }) };
}

const key = ssh2.utils.generateKeyPairSync('ed25519').private;
const keyBody = key.split('\n')[1]!;

describe('log redaction', () => {
  it('redacts secrets under their field names at any usual depth', () => {
    const { lines, logger } = capture();
    logger.info({ privateKey: key, token: 'tok-123', ssh: { privateKey: key }, provider: { credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'shh-secret' } } }, 'connecting');
    logger.info({ req: { headers: { authorization: 'Bearer tok-456' } } }, 'request');
    logger.info({ config: { http: { token: 'tok-789' } } }, 'config');
    const out = lines.join('');
    for (const secret of [keyBody, 'tok-123', 'tok-456', 'tok-789', 'AKIAEXAMPLE', 'shh-secret']) expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
    expect(out).toContain('connecting');
  });

  it('scrubs a private key pasted into a message or an error', () => {
    const { lines, logger } = capture();
    logger.warn({ output: `cat said:\n${key}` }, `step failed: ${key}`);
    logger.error({ err: new Error(`bad key ${key}`) }, 'failed');
    const out = lines.join('');
    expect(out).not.toContain(keyBody);
    expect(out).toContain('step failed: [redacted]');
  });

  it('keeps ordinary fields intact', () => {
    const { lines, logger } = capture();
    logger.info({ machineId: 'm-1', pool: 'small', zone: 'sim/zone-a' }, 'machine ready');
    expect(JSON.parse(lines[0]!)).toMatchObject({ machineId: 'm-1', pool: 'small', zone: 'sim/zone-a', msg: 'machine ready' });
  });
});

describe('log redaction of registry tokens', () => {
  it('redacts token fields and a bearer token quoted in a message or output, but keeps a challenge readable', () => {
    const { lines, logger } = capture();
    logger.info({ access_token: 'reg-tok-1', answer: { token: 'reg-tok-2', access_token: 'reg-tok-3' } }, 'token answer');
    logger.warn({ output: 'curl: sent Authorization: Bearer eyJhbGciOi.reg-tok-4_x==' }, 'pull failed: Bearer reg-tok-5');
    logger.info({ header: 'Bearer realm="http://127.0.0.1:1/token",service="sim"' }, 'challenge');
    const out = lines.join('');
    for (const secret of ['reg-tok-1', 'reg-tok-2', 'reg-tok-3', 'reg-tok-4', 'eyJhbGciOi', 'reg-tok-5']) expect(out).not.toContain(secret);
    expect(out).toContain('Bearer [redacted]');
    expect(out).toContain('Bearer realm=\\"http://127.0.0.1:1/token\\"');
  });
});
