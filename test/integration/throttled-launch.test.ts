import { afterEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { startSimCloud, type SimCloud } from '../../src/sim/sim-cloud.js';
import { totalsByState } from '../../src/machines/store.js';
import { onePool, simProviders, simRegistries } from '../helpers/system.js';
import { testConfig } from '../helpers/test-config.js';
import { waitFor } from '../helpers/wait-for.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('a launch the cloud throttles', () => {
  it('is retried until it goes through, never failed for it nor counted against its zone', { timeout: 120_000 }, async () => {
    // The account's RunInstances bucket holds 1 and refills one call per 4 s, while vmpool was told 10 at 10/s:
    // launches keep meeting RequestLimitExceeded, each coming back after one attempt.
    const simConfig = testConfig({ sim: { throttling: { enabled: true, actions: { RunInstances: { request: { size: 1, refill: 0.25 } } } } } });
    const logger = createLogger(simConfig.log);
    const sim: SimCloud = await startSimCloud({ config: simConfig.sim, logger });
    cleanups.push(() => sim.close());
    const [provider] = simProviders(sim.endpoint) as Record<string, unknown>[];
    const rateBudget = { firstBackoff: '200ms', maxBackoff: '1s', actions: { RunInstances: { request: { size: 10, refill: 10 } } } };
    const config = testConfig({ ...onePool({ warm: 3, max: 3 }), registries: simRegistries(sim), providers: [{ ...provider, maxAttempts: 1, rateBudget }] });
    const app: App = await createApp({ config, logger, roles: ['producer', 'booter'] });
    cleanups.push(() => app.close());

    await waitFor(async () => totalsByState(await app.store.counts('small')).ready === 3, { timeoutMs: 90_000, what: '3 ready machines' });
    expect(sim.api.report().actions.find((a) => a.action === 'RunInstances')?.throttled).toBeGreaterThan(0);
    const { launches } = await app.counters.read();
    expect(launches.filter((row) => row.result === 'error')).toEqual([]);
    for (const zone of (await app.breaker.read(['sim/zone-a', 'sim/zone-b', 'sim/zone-c'], Date.now())).values()) expect(zone.failures).toBe(0);
  });
});
