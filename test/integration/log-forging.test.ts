import { Writable } from 'node:stream';
import pretty from 'pino-pretty';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { onePool } from '../helpers/system.js';
import { testConfig } from '../helpers/test-config.js';

let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** The readable logs `npm start` prints (log.pretty), captured line by line. */
function prettyLogs() {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const destination = pretty({ colorize: false, translateTime: 'HH:MM:ss', ignore: 'pid,hostname', singleLine: true, sync: true, destination: sink });
  return { logger: createLogger({ level: 'info', pretty: true, destination }), lines: () => text.split('\n').filter(Boolean) };
}

const FORGED = '[04:00:00] INFO: pool small: 3/3 ready (forged)';

describe('operator text in readable logs', () => {
  it('keeps a breaker reason and who set it out of the message, so a newline in them cannot forge a log line', async () => {
    const logs = prettyLogs();
    const config = testConfig({ ...onePool(), log: { level: 'info', pretty: true } });
    app = await createApp({ config, logger: logs.logger, roles: ['web'] });
    const now = Date.now();
    // Text stored by an older version, or set by a script through the breaker itself: the API now refuses control characters.
    await app.breaker.setMode('sim/zone-b', 'forced-open', { reason: `maintenance\n${FORGED}`, by: `alice\n${FORGED}`, now });
    const put = await fetch(`${app.url}/v1/zones/sim%2Fzone-c/breaker`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'open', reason: 'incident 1234', by: 'bob' }) });
    expect(put.status).toBe(200);
    const refused = await fetch(`${app.url}/v1/zones/sim%2Fzone-c/breaker`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'open', reason: `x\n${FORGED}` }) });
    expect(refused.status).toBe(400);

    const lines = logs.lines();
    expect(lines.filter((l) => l.includes('forged') && !l.includes('zone sim/zone-b breaker'))).toEqual([]);
    expect(lines.some((l) => l.startsWith(FORGED))).toBe(false);
    // The reason is still in the line, as an escaped field.
    const transition = lines.find((l) => l.includes('zone sim/zone-b breaker closed -> open'));
    expect(transition).toContain('maintenance\\n[04:00:00]');
    const override = lines.find((l) => l.includes('zone sim/zone-c breaker overridden'));
    expect(override).toMatch(/"reason":"incident 1234"/);
  });
});
