import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/local/free-port.js';
import { runToEnd } from '../helpers/child.js';

// Expected start failures print one line naming the cause and the fix; the stack is for LOG_LEVEL=debug.
const lines = (output: string) => output.split('\n').filter((line) => line.trim() !== '');

let blocker: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (blocker ? blocker.close(resolve) : resolve(undefined)));
  blocker = undefined;
});

describe('a role that cannot start says why in one line', () => {
  it('a busy API port: names the port and the key to change (PORT), no stack, no AWS SDK notice', async () => {
    const port = await freePort();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(port, '127.0.0.1', resolve));
    const prefix = `{vmpool-test-busy-${port}}`;
    // The SDK notice is on unless silenced: the entry point silences it before the SDK loads.
    const env = { REDIS_URL: inject('redisUrl'), PORT: String(port), HTTP_HOST: '127.0.0.1', NODE_CONFIG: JSON.stringify({ redis: { prefix } }), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '' };
    const result = await runToEnd('api.js', [], env);
    expect(result.code).toBe(1);
    const out = lines(result.output);
    expect(out).toHaveLength(1);
    expect(out[0]).toContain(`cannot listen on 127.0.0.1:${port}: the port is in use`);
    expect(out[0]).toContain('http.port, env PORT');
    expect(result.output).not.toContain('NodeVersionSupportWarning');
  });

  it('no Redis: names the Redis URL without its password and how to fix it, not ioredis "Unhandled error event"', async () => {
    const port = await freePort();
    const result = await runToEnd('producer.js', [], { REDIS_URL: `redis://vmpool:s3cret-pw@127.0.0.1:${port}/0`, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '' });
    expect(result.code).toBe(1);
    const out = lines(result.output);
    expect(out).toHaveLength(1);
    expect(out[0]).toContain(`cannot connect to Redis at redis://127.0.0.1:${port}/0`);
    expect(out[0]).toContain('set REDIS_URL');
    expect(result.output).not.toContain('s3cret-pw');
    expect(result.output).not.toContain('Unhandled error event');
  });

  it('the stack is still there at debug level', async () => {
    const port = await freePort();
    const result = await runToEnd('booter.js', [], { REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: 'debug' });
    expect(result.code).toBe(1);
    expect(result.output).toContain('start failure detail');
    expect(result.output).toContain('"stack"');
  });
});
