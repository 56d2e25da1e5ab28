import { afterEach, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../../src/local/redis-server.js';
import { runWorker, type Child } from '../helpers/child.js';
import { exitUnlessHung, HANG_AFTER_GRACE_MS, MULTI_PROCESS_TEST_MS } from '../helpers/hang-ceilings.js';
import { processConfig } from '../helpers/processes.js';
import { onePool } from '../helpers/system.js';

// A restart during a Redis outage: the roles cannot finish anything that
// needs Redis, yet must still be gone before the platform's SIGKILL.
let redis: RedisServer | undefined;
const children: Child[] = [];
afterEach(async () => {
  if (redis) process.kill(redis.pid, 'SIGCONT');
  for (const child of children.splice(0)) await child.kill();
  await redis?.stop();
  redis = undefined;
});

describe('SIGTERM while Redis does not answer', () => {
  it('every role exits instead of hanging on the frozen Redis, with a non-zero code and a line saying it could not close cleanly', { timeout: MULTI_PROCESS_TEST_MS }, async () => {
    redis = await startRedisServer();
    const pc = await processConfig({ redis: { url: redis.url }, http: { port: 0 }, ...onePool({ warm: 0, max: 1 }) });
    const roles = ['producer.js', 'booter.js', 'api.js'].map((script) => runWorker(script, [], pc.env));
    children.push(...roles);
    await Promise.all(roles.map((child) => child.waitForLine(/vmpool started/)));
    // Frozen, not dead: connections stay open and commands hang, the worst case for a clean close.
    process.kill(redis.pid, 'SIGSTOP');
    for (const child of roles) process.kill(-child.pid, 'SIGTERM');
    // Frozen Redis never answers: without the grace's forced exit every role would wait on it forever.
    const codes = await Promise.all(roles.map((child, i) => exitUnlessHung(child, pc.config.shutdown.grace + HANG_AFTER_GRACE_MS, ['producer', 'booter', 'api'][i]!)));
    expect(codes.filter((code) => code === 0)).toEqual([]);
    for (const child of roles) expect(child.output()).toContain('shutdown did not finish in time');
  });
});
