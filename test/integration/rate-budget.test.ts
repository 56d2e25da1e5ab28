import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { ActionLimits } from '../../src/providers/ec2-limits.js';
import { RateBudget, type RateBudgetSettings } from '../../src/providers/rate-budget.js';

const connections: Redis[] = [];
let redis: Redis;
beforeAll(() => {
  redis = connect();
});
afterAll(async () => {
  for (const connection of connections) await connection.quit();
});

function connect(): Redis {
  const connection = new Redis(inject('redisUrl'));
  connections.push(connection);
  return connection;
}

const freshPrefix = () => `{vmpool-test-${randomBytes(4).toString('hex')}}`;

function settings(actions: Record<string, Partial<ActionLimits>>, backoff: Partial<RateBudgetSettings> = {}): RateBudgetSettings {
  return { actions, firstBackoff: 1_000, maxBackoff: 8_000, margin: 0, ...backoff };
}

/** A budget on the scripts' fake clock (`clock.now`), the backoff drawn at its longest. */
function onClock(actions: Record<string, Partial<ActionLimits>>, backoff: Partial<RateBudgetSettings> = {}, prefix = freshPrefix(), connection = redis) {
  const clock = { now: 1_000_000 };
  const budget = new RateBudget(connection, prefix, 'sim', settings(actions, backoff), { clock: () => clock.now, random: () => 1 });
  return { clock, budget, prefix };
}

describe('the shared rate budget: a token bucket per action in Redis', () => {
  it('lets a burst of the bucket size through at once, then gives each further call its turn at the refill rate', async () => {
    const { clock, budget } = onClock({ CreateTags: { request: { size: 3, refill: 2 } } });
    expect(await Promise.all([1, 2, 3].map(() => budget.reserve('CreateTags', 0)))).toEqual([0, 0, 0]);
    expect(await budget.reserve('CreateTags', 0)).toBe(500);
    expect(await budget.reserve('CreateTags', 0)).toBe(1_000);
    // A second later two tokens came back, both already promised: the next call waits behind them.
    clock.now += 1_000;
    expect(await budget.reserve('CreateTags', 0)).toBe(500);
  });

  it('sends a call once its tokens have been back for the margin: the queue shifts later, its pace unchanged', async () => {
    const { clock, budget } = onClock({ CreateTags: { request: { size: 3, refill: 2 } } }, { margin: 200 });
    // 2 and 1 left: more than 200 ms worth of tokens each; 0 left: none.
    expect([await budget.reserve('CreateTags', 0), await budget.reserve('CreateTags', 0), await budget.reserve('CreateTags', 0)]).toEqual([0, 0, 200]);
    expect(await budget.reserve('CreateTags', 0)).toBe(700);
    expect(await budget.reserve('CreateTags', 0)).toBe(1_200);
    clock.now += 1_250;
    // -2 plus 2.5 refilled: 0.5 left before this call, -0.5 after it: 250 ms to 0, then the margin.
    expect(await budget.reserve('CreateTags', 0)).toBe(450);
  });

  it('refills up to the bucket size and no further', async () => {
    const { clock, budget } = onClock({ CreateTags: { request: { size: 2, refill: 10 } } });
    await budget.reserve('CreateTags', 0);
    await budget.reserve('CreateTags', 0);
    clock.now += 60_000;
    expect([await budget.reserve('CreateTags', 0), await budget.reserve('CreateTags', 0), await budget.reserve('CreateTags', 0)]).toEqual([0, 0, 100]);
  });

  it('charges the resource bucket by the instances a call launches; a call bigger than the bucket waits for a full one, not forever', async () => {
    const { budget } = onClock({ RunInstances: { request: { size: 100, refill: 100 }, resource: { size: 10, refill: 2 } } });
    expect(await budget.reserve('RunInstances', 6)).toBe(0);
    // 4 left, 6 wanted: 2 short at 2 a second.
    expect(await budget.reserve('RunInstances', 6)).toBe(1_000);
    // -2 left; 50 is clamped to the bucket's 10: 12 short.
    expect(await budget.reserve('RunInstances', 50)).toBe(6_000);
  });

  it("uses EC2's figures for an action the config does not name: RunInstances 5 calls at once, then one per 500 ms", async () => {
    const { budget } = onClock({});
    for (let i = 0; i < 5; i++) expect(await budget.reserve('RunInstances', 1)).toBe(0);
    expect(await budget.reserve('RunInstances', 1)).toBe(500);
  });

  it('holds every caller of a throttled action, doubling the hold for throttles in a row and starting over after a quiet maxBackoff', async () => {
    const prefix = freshPrefix();
    const actions = { DescribeInstances: { request: { size: 100, refill: 10 } } };
    const { clock, budget } = onClock(actions, {}, prefix);
    // Another process: its own connection, the same clock.
    const other = new RateBudget(connect(), prefix, 'sim', settings(actions), { clock: () => clock.now, random: () => 1 });
    expect(await budget.throttled('DescribeInstances')).toBe(1_000);
    expect(await other.reserve('DescribeInstances', 0)).toBe(1_000);
    // Another action, another provider: not held.
    expect(await other.reserve('RunInstances', 1)).toBe(0);
    expect(await new RateBudget(redis, prefix, 'other', settings(actions), { clock: () => clock.now }).reserve('DescribeInstances', 0)).toBe(0);
    clock.now += 500;
    expect(await other.throttled('DescribeInstances')).toBe(2_000);
    clock.now += 100;
    expect(await budget.throttled('DescribeInstances')).toBe(4_000);
    clock.now += 8_000;
    expect(await budget.throttled('DescribeInstances')).toBe(1_000);
  });

  it('draws the hold from half to all of the backoff', async () => {
    const { budget } = onClock({});
    const half = new RateBudget(redis, freshPrefix(), 'sim', settings({}), { clock: () => 1_000_000, random: () => 0 });
    expect(await half.throttled('CreateTags')).toBe(500);
    expect(await budget.throttled('CreateTags')).toBe(1_000);
  });

  it('empties the request bucket on a throttle: the cloud says it is empty, so calls resume at the refill rate, not in a burst', async () => {
    const { clock, budget } = onClock({ CreateTags: { request: { size: 50, refill: 1 } } });
    await budget.throttled('CreateTags');
    // The hold is over, and one token came back during it.
    clock.now += 1_000;
    expect(await budget.reserve('CreateTags', 0)).toBe(0);
    expect(await budget.reserve('CreateTags', 0)).toBe(1_000);
  });

  it("keeps nothing once it would say nothing: the action's key expires when its buckets are full again", async () => {
    const { budget, prefix } = onClock({ CreateTags: { request: { size: 5, refill: 2 } } });
    await budget.reserve('CreateTags', 0);
    const ttl = await redis.pttl(`${prefix}:cloud-budget:sim:CreateTags`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(500 + 1_000);
  });

  it("runs on Redis's clock when given none, shared by processes on separate connections", async () => {
    const prefix = freshPrefix();
    // One token per 10 s: no call below can get a token back while the test runs.
    const actions = { CreateTags: { request: { size: 2, refill: 0.1 } } };
    const a = new RateBudget(connect(), prefix, 'sim', settings(actions));
    const b = new RateBudget(connect(), prefix, 'sim', settings(actions));
    expect(await a.reserve('CreateTags', 0)).toBe(0);
    expect(await b.reserve('CreateTags', 0)).toBe(0);
    const third = await a.reserve('CreateTags', 0);
    const fourth = await b.reserve('CreateTags', 0);
    expect(third).toBeGreaterThan(0);
    expect(third).toBeLessThanOrEqual(10_000);
    expect(fourth).toBeGreaterThan(10_000);
    expect(fourth).toBeLessThanOrEqual(20_000);
  });

  it('take() resolves at the turn, and rejects with an AbortError when its signal aborts while it waits', async () => {
    const budget = new RateBudget(redis, freshPrefix(), 'sim', settings({ CreateTags: { request: { size: 1, refill: 20 } }, RunInstances: { request: { size: 1, refill: 0.01 } } }));
    await budget.take('CreateTags', 0);
    await budget.take('CreateTags', 0);
    await budget.take('RunInstances', 1);
    const controller = new AbortController();
    const waiting = budget.take('RunInstances', 1, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    await expect(budget.take('RunInstances', 1, controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});
