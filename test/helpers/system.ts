import { createApp, type App, type Role } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startSimCloud, type SimCloud } from '../../src/sim/sim-cloud.js';
import { mergeDeep, rawDefaults, testConfig } from './test-config.js';

export interface TestSystem {
  config: Readonly<Config>;
  sim: SimCloud;
  app: App;
  close(): Promise<void>;
}

/** The default sim provider, pointed at a running sim. */
export function simProviders(endpoint: string): unknown[] {
  const [provider] = rawDefaults().providers as Record<string, unknown>[];
  return [{ ...provider, endpoint }];
}

/** The top-level `registries` config for a running sim: each of its registries by name, at its real URL. */
export function simRegistries(sim: Pick<SimCloud, 'registries'>): { name: string; url: string }[] {
  return [...sim.registries.values()].map((r) => ({ name: r.name, url: r.url }));
}

/**
 * The simulated cloud plus vmpool's roles, in this process, on the test's own
 * Redis prefix: what `npm start` runs, driven through the real EC2 SDK.
 */
export async function startSystem(
  overrides: Record<string, unknown> = {},
  roles: readonly Role[] = ['producer', 'booter', 'web'],
  /** Runs once the sim is up and before vmpool starts: set the zones' faults here. */
  prepareSim: (sim: SimCloud) => void = () => undefined,
): Promise<TestSystem> {
  const simOnly = testConfig(overrides);
  const logger = createLogger(simOnly.log);
  const sim = await startSimCloud({ config: simOnly.sim, logger, hostKeyTag: simOnly.ssh.hostKeyTag });
  try {
    prepareSim(sim);
    // The sim's registries by default; a test naming its own `registries` keeps them.
    const config = testConfig(mergeDeep({ registries: simRegistries(sim) }, mergeDeep(overrides, { providers: simProviders(sim.endpoint) })) as Record<string, unknown>);
    const app = await createApp({ config, logger, roles });
    return { config, sim, app, close: async () => { await app.close(); await sim.close(); } };
  } catch (err) {
    await sim.close();
    throw err;
  }
}

/** One pool with a chosen warm/max and prepare steps, in every zone. */
export function onePool(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const [pool] = rawDefaults().pools as Record<string, unknown>[];
  return { pools: [{ ...pool, warm: 3, max: 6, bootTimeout: '20s', ...extra }] };
}
