import type { Logger } from './log.js';
import { readStatus, summarizePool, type StatusDeps } from './status.js';

/**
 * Logs one plain line per pool whenever its summary changes: what a person
 * watching `npm start` wants to see (`pool small: 3/3 ready (...)`).
 */
export function startStatusReporter(deps: StatusDeps & { logger: Logger }, everyMs = 1_000): { stop(): void } {
  const { logger } = deps;
  const last = new Map<string, string>();
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const status = await readStatus(deps);
      const states = new Map(status.zones.map((z) => [z.zone, z.state]));
      for (const pool of status.pools) {
        const line = summarizePool(pool, states);
        if (last.get(pool.name) !== line) logger.info(line);
        last.set(pool.name, line);
      }
    } catch (err) {
      logger.debug({ err }, 'status unavailable');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), everyMs);
  return { stop: () => clearInterval(timer) };
}
