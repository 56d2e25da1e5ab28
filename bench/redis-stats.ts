import type { Redis } from 'ioredis';

/** Calls per command name from `INFO commandstats`; Redis counts commands run inside scripts there too. */
export async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match) calls.set(match[1]!, Number(match[2]));
  }
  return calls;
}

export interface CommandDelta {
  /** Every command, those run by Lua scripts included. */
  total: number;
  /** Calls per command name, busiest first; `evalsha` is one per script run, whatever the script did. */
  byCommand: Record<string, number>;
}

/** What happened between two readings, busiest command first; the INFO calls of the readings themselves excluded. */
export function commandDelta(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): CommandDelta {
  const rows = [...after]
    .map(([name, n]) => [name, n - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return { total: rows.reduce((sum, [, n]) => sum + n, 0), byCommand: Object.fromEntries(rows) };
}
