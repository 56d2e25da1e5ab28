import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { freePort } from '../../src/local/free-port.js';
import { startSimCloud, type SimCloud } from '../../src/sim/sim-cloud.js';
import { RECOVERY_LOCK_MS } from '../../src/pool/redis-loss-watch.js';
import { runWorker, type Child } from '../helpers/child.js';
import { processConfig } from '../helpers/processes.js';
import { simProviders } from '../helpers/system.js';
import { rawDefaults, testConfig } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** A simulated cloud and vmpool's producer and booter in this process, with the config `overrides` (providers and pools included). */
async function startWith(overridesFor: (sim: SimCloud) => Record<string, unknown>): Promise<{ sim: SimCloud; app: App }> {
  const simOnly = testConfig();
  const logger = createLogger(simOnly.log);
  const sim = await startSimCloud({ config: simOnly.sim, logger, hostKeyTag: simOnly.ssh.hostKeyTag });
  cleanups.push(() => sim.close());
  const config = testConfig(overridesFor(sim));
  const app = await createApp({ config, logger, roles: ['producer', 'booter'] });
  cleanups.push(() => app.close());
  return { sim, app };
}

/** A TCP server that accepts connections and never answers: a cloud API that hangs. */
async function blackHole(): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => void sockets.add(socket));
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${port}`;
}

const [defaultPool] = rawDefaults().pools as Record<string, unknown>[];

describe('rebuild after a Redis loss, per provider', () => {
  it("lets a provider's pools launch while another provider cannot be listed, and keeps that provider's pools waiting", async () => {
    const closedPort = await freePort();
    const { app } = await startWith((sim) => {
      const [sim1] = simProviders(sim.endpoint) as Record<string, unknown>[];
      return {
        providers: [sim1, { ...sim1, name: 'dead', endpoint: `http://127.0.0.1:${closedPort}`, maxAttempts: 1 }],
        pools: [
          { ...defaultPool, name: 'small', provider: 'sim', warm: 2, max: 4, prepare: { steps: [] } },
          { ...defaultPool, name: 'large', provider: 'dead', warm: 2, max: 4, prepare: { steps: [] } },
        ],
      };
    });
    // A new keyspace is a loss with nothing to rebuild: sim's pool fills although 'dead' cannot be listed.
    await waitFor(async () => (await app.store.list('small', 'ready')).length === 2, { what: "sim's pool ready", timeoutMs: 60_000 });
    expect(await app.store.counts('large')).toEqual({});
    // The epoch waits for every provider: what waits on it (the reaper) does not judge an unlisted provider.
    expect(await app.epoch.present()).toBe(false);
    expect(await app.epoch.rebuilt(['dead'])).toBe(false);
  }, 120_000);

  it('lets another producer rebuild soon after one is killed with kill -9 holding the rebuild lock', async () => {
    // The first producer's cloud API hangs: it takes the lock and stays in its listing until killed.
    const hanging = await blackHole();
    const pc = await processConfig({ providers: simProviders(hanging), pools: [{ ...defaultPool, name: 'small', warm: 1, max: 2, prepare: { steps: [] } }] });
    const redis = new Redis(inject('redisUrl'));
    cleanups.push(() => redis.quit());
    const first: Child = runWorker('producer.js', [], pc.env);
    cleanups.push(() => first.kill());
    const locks = [`${pc.prefix}:recovery-lock:sim`, `${pc.prefix}:recovery-lock`];
    const held = await waitFor(async () => {
      for (const key of locks) {
        const ttl = await redis.pttl(key);
        if (ttl > 0) return { key, ttl };
      }
      return undefined;
    }, { what: 'the first producer holding the rebuild lock', timeoutMs: 60_000 });
    expect(held.ttl).toBeLessThanOrEqual(RECOVERY_LOCK_MS);
    await first.kill();
    expect(await redis.exists(held.key)).toBe(1);

    // A second producer, whose cloud answers, rebuilds once the dead one's lock lapses: long before a two-minute lock would.
    const { app } = await startWith((sim) => ({ redis: { prefix: pc.prefix }, providers: simProviders(sim.endpoint), pools: [{ ...defaultPool, name: 'small', warm: 1, max: 2, prepare: { steps: [] } }] }));
    await waitFor(() => app.epoch.present(), { what: 'the store rebuilt by the second producer', timeoutMs: 45_000 });
    await waitFor(async () => (await app.store.list('small', 'ready')).length === 1, { what: 'the pool launching again', timeoutMs: 45_000 });
  }, 180_000);
});
