import type { Redis } from 'ioredis';
import type { PoolConfig } from '../config.js';
import type { VersionOutcomes } from './canary-guard.js';
import type { Rollout } from './rollout.js';

/** What an operator sets with `vmpool agent set`. */
export interface RolloutChange {
  version: string;
  /** null ends the canary. */
  canary: { version: string; share: number } | null;
  by: string;
}

interface StoredRollout {
  version: string;
  canary: { version: string; share: number } | null;
  by: string;
  at: number;
}

/**
 * Each pool's agent rollout in Redis, so `vmpool agent set` reaches every
 * producer and booter at once; the pool's config is the rollout until then.
 * Also the canary's halt and the per-version prepare outcomes the guard reads,
 * both reset whenever the rollout changes.
 */
export class RolloutStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(kind: 'rollout' | 'halt' | 'outcomes', pool: string): string {
    return `${this.prefix}:agent-${kind}:${pool}`;
  }

  /** The pool's rollout now; undefined when the pool pulls no agent. */
  async current(pool: Pick<PoolConfig, 'name' | 'prepare'>): Promise<Rollout | undefined> {
    const agent = pool.prepare.agent;
    if (!agent) return undefined;
    const [stored, halt] = await this.redis.mget(this.key('rollout', pool.name), this.key('halt', pool.name));
    const set = stored ? (JSON.parse(stored) as StoredRollout) : undefined;
    const canary = set ? set.canary : agent.canary;
    return {
      image: agent.image,
      version: set?.version ?? agent.version,
      ...(canary ? { canary: { ...canary } } : {}),
      ...(halt ? { canaryHalted: JSON.parse(halt) as NonNullable<Rollout['canaryHalted']> } : {}),
      source: set ? 'operator' : 'config',
      ...(set ? { setBy: set.by, setAt: set.at } : {}),
    };
  }

  /** Replaces the pool's rollout; a halt and the guard's counts start over. */
  async set(pool: string, change: RolloutChange, now: number): Promise<void> {
    const stored: StoredRollout = { version: change.version, canary: change.canary, by: change.by, at: now };
    await this.redis.multi().set(this.key('rollout', pool), JSON.stringify(stored)).del(this.key('halt', pool), this.key('outcomes', pool)).exec();
  }

  /** Halts the canary version; true if this call did (so it is logged once). */
  async haltCanary(pool: string, version: string, reason: string, now: number): Promise<boolean> {
    return (await this.redis.set(this.key('halt', pool), JSON.stringify({ version, reason, since: now }), 'NX')) === 'OK';
  }

  /** Lifts a halt; the guard's counts start over, or the next failure would halt it again. True if one was set. */
  async resumeCanary(pool: string): Promise<boolean> {
    const [[, removed]] = (await this.redis.multi().del(this.key('halt', pool)).del(this.key('outcomes', pool)).exec()) as [[unknown, number]];
    return removed === 1;
  }

  /** Counts one machine's prepare outcome under its version; returns every version's counts. */
  async recordOutcome(pool: string, version: string, ok: boolean): Promise<Map<string, VersionOutcomes>> {
    const key = this.key('outcomes', pool);
    await this.redis.hincrby(key, `${version}|${ok ? 'ok' : 'failed'}`, 1);
    return this.outcomes(pool);
  }

  async outcomes(pool: string): Promise<Map<string, VersionOutcomes>> {
    const raw = await this.redis.hgetall(this.key('outcomes', pool));
    const byVersion = new Map<string, VersionOutcomes>();
    for (const [field, value] of Object.entries(raw)) {
      const at = field.lastIndexOf('|');
      const counts = byVersion.get(field.slice(0, at)) ?? { ok: 0, failed: 0 };
      counts[field.slice(at + 1) === 'ok' ? 'ok' : 'failed'] = Number(value);
      byVersion.set(field.slice(0, at), counts);
    }
    return byVersion;
  }
}
