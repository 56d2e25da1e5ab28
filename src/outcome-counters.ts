import type { Redis } from 'ioredis';

/** What became of a launch call. */
export type LaunchResult = 'ok' | 'error';
/** How a boot ended: ready, or which failure. */
export type BootOutcome =
  | 'ready'
  | 'slow'
  | 'instance-lost'
  | 'boot-timeout'
  | 'ssh-unreachable'
  | 'host-key-mismatch'
  | 'not-loopback'
  | 'prepare-failed'
  | 'prepare-timeout'
  | 'agent-pull-failed'
  /** An agent version (or image, registry URL) that failed its grammar where the pull command is built. */
  | 'invalid-agent-version'
  | 'launch-failed'
  | 'boot-error';

export interface CounterRow {
  pool: string;
  zone: string;
  result: string;
  value: number;
}

/**
 * Launch and boot counters kept in Redis, so the web role can export what the
 * producer and booter processes observed (each role is its own process).
 */
export class OutcomeCounters {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = `${prefix}:outcomes`;
  }

  async launch(pool: string, zone: string, result: LaunchResult): Promise<void> {
    await this.redis.hincrby(this.key, `launch|${pool}|${zone}|${result}`, 1);
  }

  async boot(pool: string, zone: string, outcome: BootOutcome): Promise<void> {
    await this.redis.hincrby(this.key, `boot|${pool}|${zone}|${outcome}`, 1);
  }

  async read(): Promise<{ launches: CounterRow[]; boots: CounterRow[] }> {
    const raw = await this.redis.hgetall(this.key);
    const launches: CounterRow[] = [];
    const boots: CounterRow[] = [];
    for (const [field, value] of Object.entries(raw)) {
      const [kind, pool = '', zone = '', result = ''] = field.split('|');
      (kind === 'launch' ? launches : boots).push({ pool, zone, result, value: Number(value) });
    }
    return { launches, boots };
  }
}
