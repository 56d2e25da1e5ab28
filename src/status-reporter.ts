import type { Logger } from './log.js';
import { readStatus, summarizePool, type StatusDeps } from './status.js';
import { summarizeAgent } from './agent/agent-status.js';

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
        const lines: [string, string][] = [[pool.name, summarizePool(pool, states)], ...(pool.agent ? [[`${pool.name}:agent`, `pool ${pool.name} ${summarizeAgent(pool.agent).trimStart()}`] as [string, string]] : [])];
        for (const [key, line] of lines) {
          if (last.get(key) !== line) logger.info(line);
          last.set(key, line);
        }
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
