import type { Redis } from 'ioredis';
import { scrubSecrets } from '../secrets/scrub.js';

/** One prepare command's end, as the machine's log keeps it. */
export interface MachineLogEntry {
  at: number;
  /** The step's name, or `pull <image>:<version> from <registry>`. */
  name: string;
  ok: boolean;
  ms: number;
  exitCode: number | null;
  timedOut: boolean;
  /** The tail of stdout and stderr interleaved, at most `agent.outputBytes`. */
  output: string;
}

// A machine runs a handful of commands; this only bounds a misconfigured plan.
const MAX_ENTRIES = 100;

/**
 * KEYS[1] the log; ARGV[1] entry, ARGV[2] max entries, ARGV[3] retention ms.
 * One script: the entry and its expiry land together, and the trim runs only when the cap is passed
 * (three commands an entry where MULTI, RPUSH, LTRIM, PEXPIRE, EXEC were five).
 */
const APPEND = `
if redis.call('RPUSH', KEYS[1], ARGV[1]) > tonumber(ARGV[2]) then redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
`;

interface LogScripts {
  vmpoolLogAppend(key: string, entry: string, max: number, retentionMs: number): Promise<unknown>;
}

/**
 * What ran on each machine during prepare and what it printed, in Redis, so
 * `GET /v1/machines/:id` shows why a machine failed (or which registry served
 * it) from any process. Kept as long as the machine's record.
 */
export class MachineLog {
  private readonly redis: Redis & LogScripts;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly retentionMs = 24 * 3_600_000,
  ) {
    redis.defineCommand('vmpoolLogAppend', { numberOfKeys: 1, lua: APPEND });
    this.redis = redis as Redis & LogScripts;
  }

  private key(id: string): string {
    return `${this.prefix}:machine-log:${id}`;
  }

  /** Scrubbed before it is stored: the API serves this log, and a step may print anything (env, headers, key files). */
  async append(id: string, entry: MachineLogEntry): Promise<void> {
    const scrubbed = { ...entry, name: scrubSecrets(entry.name), output: scrubSecrets(entry.output) };
    await this.redis.vmpoolLogAppend(this.key(id), JSON.stringify(scrubbed), MAX_ENTRIES, this.retentionMs);
  }

  async read(id: string): Promise<MachineLogEntry[]> {
    return (await this.redis.lrange(this.key(id), 0, -1)).map((line) => JSON.parse(line) as MachineLogEntry);
  }
}
