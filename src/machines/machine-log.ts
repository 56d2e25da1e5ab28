import type { Redis } from 'ioredis';

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
 * What ran on each machine during prepare and what it printed, in Redis, so
 * `GET /v1/machines/:id` shows why a machine failed (or which registry served
 * it) from any process. Kept as long as the machine's record.
 */
export class MachineLog {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly retentionMs = 24 * 3_600_000,
  ) {}

  private key(id: string): string {
    return `${this.prefix}:machine-log:${id}`;
  }

  async append(id: string, entry: MachineLogEntry): Promise<void> {
    const key = this.key(id);
    await this.redis.multi().rpush(key, JSON.stringify(entry)).ltrim(key, -MAX_ENTRIES, -1).pexpire(key, this.retentionMs).exec();
  }

  async read(id: string): Promise<MachineLogEntry[]> {
    return (await this.redis.lrange(this.key(id), 0, -1)).map((line) => JSON.parse(line) as MachineLogEntry);
  }
}
