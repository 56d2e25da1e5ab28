import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import type { Config, PoolConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { UNRESOLVED_STATES } from '../../src/machines/machine.js';
import { reconcilePool, type ReconcileDeps } from '../../src/pool/reconcile.js';
import { testConfig } from '../helpers/test-config.js';

const FAILING = 'sim/zone-b';
const HEALTHY = 'sim/zone-a';
const MIN_OUTCOMES = 5;

/**
 * One atomic look at the failing zone, as a breaker would judge it: its
 * failures in a row and state, and the machines of both pools there whose
 * outcome may still be to come (a slow one already counted).
 */
const SNAPSHOT = `
local b = redis.call('HMGET', KEYS[1], 'state', 'mode', 'streak')
local zone = ARGV[1]
local inFlight, failed = 0, 0
for k = 2, #KEYS do
  for i = 2, #ARGV do
    local n = tonumber(redis.call('HGET', KEYS[k], zone .. '|' .. ARGV[i]) or '0')
    if ARGV[i] == 'failed' then failed = failed + n else inFlight = inFlight + n end
  end
  inFlight = inFlight - tonumber(redis.call('HGET', KEYS[k], zone .. '|slow') or '0')
end
return { b[1] or 'closed', b[2] or 'auto', tonumber(b[3] or '0'), inFlight, failed }
`;

interface Snapshot {
  state: string;
  mode: string;
  streak: number;
  /** Requested to preparing, less slow boots. */
  inFlight: number;
  /** Failed, not yet terminating. */
  failed: number;
}

let config: Readonly<Config>;
let producers: App[] = [];
let sampler: Redis;

beforeAll(async () => {
  const pool = (name: string) => ({ name, provider: 'sim', zones: [HEALTHY, FAILING], imageId: `ami-${name}`, instanceTypes: ['t3.small'], warm: 6, max: 12, prepare: { steps: [] } });
  config = testConfig({ pools: [pool('alpha'), pool('beta')], breaker: { minOutcomes: MIN_OUTCOMES, recentOutcomes: 2 * MIN_OUTCOMES, window: '10m', openFor: '10m' } });
  const logger = createLogger(config.log);
  // Two producers: two connections, two sets of services, one store.
  producers = [await createApp({ config, logger, roles: [] }), await createApp({ config, logger, roles: [] })];
  sampler = new Redis(inject('redisUrl'));
  await producers[0]!.epoch.renew();
});

afterAll(async () => {
  await Promise.all(producers.map((p) => p.close()));
  await sampler?.quit();
});

function depsOf(app: App): ReconcileDeps {
  return { ...app, config, logger: createLogger(config.log), now: Date.now };
}

async function snapshot(): Promise<Snapshot> {
  const prefix = config.redis.prefix;
  const keys = [`${prefix}:breaker:${FAILING}`, ...config.pools.map((p) => `${prefix}:counts:${p.name}`)];
  const [state, mode, streak, inFlight, failed] = (await sampler.eval(SNAPSHOT, keys.length, ...keys, FAILING, ...UNRESOLVED_STATES)) as [string, string, number, number, number];
  return { state, mode, streak, inFlight, failed };
}

describe('the per-zone in-flight limit', () => {
  it('holds across two producers reconciling two pools that share a failing zone: never more than minOutcomes - k machines in flight there', async () => {
    const [first, second] = producers.map(depsOf) as [ReconcileDeps, ReconcileDeps];
    const { store, breaker } = producers[0]!;
    const samples: Snapshot[] = [];
    let sampling = true;
    // Sampled continuously, apart from the steps below: the bound must hold between steps too.
    const sampled = (async () => {
      while (sampling) {
        samples.push(await snapshot());
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    // Two failures against the zone: a limit of three machines in flight, every pool's.
    await breaker.record(FAILING, 'bad', { probe: false, now: Date.now() });
    await breaker.record(FAILING, 'bad', { probe: false, now: Date.now() });
    const steps: Snapshot[] = [];
    for (let round = 0; round < 8; round++) {
      // Both producers reconcile both pools at once, as their reconcile jobs would.
      await Promise.all(config.pools.flatMap((pool: PoolConfig) => [reconcilePool(pool, first), reconcilePool(pool, second)]));
      steps.push(await snapshot());
      // The failing zone's booter: one machine in flight there fails, is reported, and goes; the healthy zone's boot.
      const inFailing = (await Promise.all(config.pools.map((p) => store.list(p.name, 'requested')))).flat();
      const victim = inFailing.find((m) => m.zone === FAILING);
      if (victim) {
        await store.transition(victim.id, 'failed', Date.now(), { failure: 'boot-timeout' }, ['requested']);
        await breaker.record(FAILING, 'bad', { probe: false, now: Date.now() });
        await store.transition(victim.id, 'terminating', Date.now(), {}, ['failed']);
      }
      for (const m of inFailing.filter((m) => m.zone === HEALTHY)) await store.transition(m.id, 'terminating', Date.now(), {}, ['requested']);
      steps.push(await snapshot());
      if (steps.at(-1)!.state !== 'closed') break;
    }
    sampling = false;
    await sampled;
    const closed = [...samples, ...steps].filter((s) => s.state === 'closed' && s.mode === 'auto' && s.streak > 0);
    expect(closed.length).toBeGreaterThan(3);
    // A failed machine counts until it is terminated: at every step (its report made, it is gone) the bound holds with it.
    for (const s of steps.filter((s) => s.state === 'closed')) expect(s.inFlight + s.failed).toBeLessThanOrEqual(MIN_OUTCOMES - s.streak);
    // Between steps the failed one may already be reported: the bound holds for every machine still on its way.
    const worst = Math.max(...closed.map((s) => s.inFlight - (MIN_OUTCOMES - s.streak)));
    expect(worst).toBeLessThanOrEqual(0);
    // The zone was used up to its limit, not avoided altogether: the test saw the limit being reached.
    expect(steps.some((s) => s.state === 'closed' && s.inFlight + s.failed === MIN_OUTCOMES - s.streak)).toBe(true);
  });
});
