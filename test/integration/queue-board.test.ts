import type { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { QUEUE_NAMES } from '../../src/queues.js';
import { testConfig } from '../helpers/test-config.js';

const TOKEN = 'queue-board-test-token-0123456789abcdef';
let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function startWeb(token: string | null): Promise<App> {
  const config = testConfig({ http: { token } });
  app = await createApp({ config, logger: createLogger(config.log), roles: ['web'] });
  return app;
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('the BullMQ board at /queues', () => {
  it('lists every vmpool queue, in a page and through its API', async () => {
    const { http } = await startWeb(null);
    const page = await http!.inject({ method: 'GET', url: '/queues' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const api = await http!.inject({ method: 'GET', url: '/queues/api/queues' });
    expect(api.statusCode).toBe(200);
    const names = api.json<{ queues: { name: string }[] }>().queues.map((q) => q.name);
    expect(names.sort()).toEqual(Object.values(QUEUE_NAMES).sort());
  });

  it('answers 401 without the token when http.token is set, for its pages and its API', async () => {
    const { http } = await startWeb(TOKEN);
    for (const url of ['/queues', '/queues/api/queues', '/queues/static/favicon-32x32.png']) {
      const none = await http!.inject({ method: 'GET', url });
      expect(none.statusCode, url).toBe(401);
      expect(none.headers['www-authenticate']).toContain('Basic');
      expect(none.body).not.toContain(TOKEN);
      const wrong = await http!.inject({ method: 'GET', url, headers: { authorization: basic('oncall', `${TOKEN}x`) } });
      expect(wrong.statusCode, url).toBe(401);
    }
  });

  it('takes the token as the basic-auth password (what a browser sends) or as a bearer token', async () => {
    const { http } = await startWeb(TOKEN);
    const page = await http!.inject({ method: 'GET', url: '/queues', headers: { authorization: basic('oncall', TOKEN) } });
    expect(page.statusCode).toBe(200);
    const api = await http!.inject({ method: 'GET', url: '/queues/api/queues', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(api.statusCode).toBe(200);
    expect(api.json<{ queues: unknown[] }>().queues).toHaveLength(Object.keys(QUEUE_NAMES).length);
  });

  it('is read-only: it shows jobs but cannot pause a queue', async () => {
    const { http } = await startWeb(TOKEN);
    const api = await http!.inject({ method: 'GET', url: '/queues/api/queues', headers: { authorization: `Bearer ${TOKEN}` } });
    for (const queue of api.json<{ queues: { readOnlyMode: boolean }[] }>().queues) expect(queue.readOnlyMode).toBe(true);
    await http!.inject({ method: 'PUT', url: '/queues/api/queues/pause', headers: { authorization: `Bearer ${TOKEN}` } });
    for (const queue of Object.values(app!.queues) as Queue[]) expect(await queue.isPaused(), queue.name).toBe(false);
  });
});
