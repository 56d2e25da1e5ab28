import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { SAMPLE_EVERY_MS, StatusHistory, WAIT_WINDOW_MS, p95 } from '../../src/status-history.js';
import { testConfig } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';

const redis = new Redis(inject('redisUrl'));
afterAll(() => redis.quit());

let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('status history (the dashboard chart)', () => {
  it('samples each pool\'s ready machines and the p95 of the lease waits of the last five minutes', async () => {
    const prefix = `{vmpool-test-${randomBytes(4).toString('hex')}}`;
    const h = new StatusHistory(redis, prefix);
    for (let i = 1; i <= 20; i++) await h.recordLeaseWait('small', i / 10);
    const now = Date.now();
    const sample = await h.sample(['small', 'large'], (pool) => Promise.resolve(pool === 'small' ? 3 : 1), now);
    expect(sample).toEqual({ at: new Date(now).toISOString(), readyByPool: { small: 3, large: 1 }, leaseWaitP95ByPool: { small: 1.9, large: null }, leasesByPool: { small: 20, large: 0 } });
    // Waits older than the window are left out of a later sample.
    await redis.del(`${prefix}:status-sample-lock`);
    const later = await h.sample(['small'], () => Promise.resolve(3), now + WAIT_WINDOW_MS + 60_000);
    expect(later?.leasesByPool).toEqual({ small: 0 });
    expect(later?.leaseWaitP95ByPool).toEqual({ small: null });
  });

  it('takes one sample per period across processes and reads them back oldest first', async () => {
    const prefix = `{vmpool-test-${randomBytes(4).toString('hex')}}`;
    const a = new StatusHistory(redis, prefix);
    const b = new StatusHistory(redis, prefix);
    const t0 = Date.now();
    expect(await a.sample(['small'], () => Promise.resolve(1), t0)).toBeDefined();
    expect(await b.sample(['small'], () => Promise.resolve(2), t0 + 10)).toBeUndefined();
    await redis.del(`${prefix}:status-sample-lock`); // the period over
    expect(await b.sample(['small'], () => Promise.resolve(2), t0 + SAMPLE_EVERY_MS)).toBeDefined();
    expect((await a.read(t0)).map((s) => s.readyByPool.small)).toEqual([1, 2]);
    expect(await a.read(t0 + 1)).toHaveLength(1);
  });

  it('p95 is the nearest-rank 95th percentile', () => {
    expect(p95([])).toBeNull();
    expect(p95([5])).toBe(5);
    expect(p95(Array.from({ length: 100 }, (_, i) => i + 1))).toBe(95);
  });

  it('the web role records every lease request\'s wait and serves the samples at GET /v1/status/history', async () => {
    const config = testConfig();
    app = await createApp({ config, logger: createLogger(config.log), roles: ['web'] });
    // No producer: nothing is ever ready, so the request waits its 50 ms and times out.
    const lease = await app.http!.inject({ method: 'POST', url: '/v1/pools/small/leases', payload: { wait: '50ms' } });
    expect(lease.statusCode).toBe(503);
    await waitFor(async () => (await redis.xlen(`${config.redis.prefix}:lease-waits:small`)) === 1, { what: 'the lease wait recorded' });
    // The sampler took its first sample at start; take the next one now.
    await redis.del(`${config.redis.prefix}:status-sample-lock`);
    await app.history.sample(['small', 'large'], () => Promise.resolve(0), Date.now());
    const res = await app.http!.inject({ method: 'GET', url: '/v1/status/history?since=1h' });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ everyMs: number; samples: { at: string; leaseWaitP95ByPool: Record<string, number | null>; leasesByPool: Record<string, number> }[] }>();
    expect(body.everyMs).toBe(SAMPLE_EVERY_MS);
    expect(body.samples.length).toBe(2);
    expect(body.samples[1]!.leasesByPool.small).toBe(1);
    expect(body.samples[1]!.leaseWaitP95ByPool.small).toBeGreaterThanOrEqual(0.05);
    expect(body.samples[0]!.at < body.samples[1]!.at).toBe(true);
    const bad = await app.http!.inject({ method: 'GET', url: '/v1/status/history?since=3h' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ message: string }>().message).toContain('since');
  });
});
