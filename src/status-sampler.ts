import type { AppDeps } from './app-deps.js';
import { totalsByState } from './machines/store.js';
import { describeError } from './errors.js';
import { SAMPLE_EVERY_MS } from './status-history.js';

export type SamplerDeps = Pick<AppDeps, 'config' | 'store' | 'history' | 'logger' | 'now'>;

/**
 * The web role's status sampler: a sample at start (the chart has a point at
 * once) and every SAMPLE_EVERY_MS, taken by whichever web process gets there
 * first. Costs per period: one SET, then (for the process that samples) per
 * pool an HGETALL and an XRANGE, and one LPUSH+LTRIM.
 */
export function startStatusSampler(deps: SamplerDeps): { stop(): void } {
  const pools = deps.config.pools.map((p) => p.name);
  const ready = async (pool: string) => totalsByState(await deps.store.counts(pool)).ready;
  const tick = () => {
    deps.history.sample(pools, ready, deps.now()).catch((err: unknown) => deps.logger.warn({ error: describeError(err) }, 'status sample not taken; the dashboard chart has a gap'));
  };
  tick();
  const timer = setInterval(tick, SAMPLE_EVERY_MS).unref();
  return { stop: () => clearInterval(timer) };
}
