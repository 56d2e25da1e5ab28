import type { Redis } from 'ioredis';
import { classify, isCapacityError } from '../errors.js';

/** What one HTTP request to a cloud API got back. */
export type CloudCallResult = 'ok' | 'throttled' | 'capacity' | 'unauthorized' | 'dry-run' | 'client-error' | 'server-error' | 'network' | 'aborted';

type ErrorShape = { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };

/** The cloud refused who we are or what we may do: retries cannot help, an operator can. */
const UNAUTHORIZED = new Set(['AuthFailure', 'UnauthorizedOperation', 'InvalidClientTokenId', 'SignatureDoesNotMatch', 'OptInRequired', 'Blocked']);

/** The result of one answered or failed request, from its error (none: ok). */
export function callResult(err?: unknown): CloudCallResult {
  if (err === undefined) return 'ok';
  const shape = (err ?? {}) as ErrorShape;
  const name = shape.name ?? shape.code ?? '';
  if (name === 'AbortError') return 'aborted';
  if (name === 'DryRunOperation') return 'dry-run';
  if (isCapacityError(err)) return 'capacity';
  if (classify(err) === 'throttle') return 'throttled';
  if (UNAUTHORIZED.has(name)) return 'unauthorized';
  const status = shape.$metadata?.httpStatusCode;
  if (status === undefined) return 'network';
  return status >= 500 ? 'server-error' : 'client-error';
}

export interface CloudCallRow {
  provider: string;
  action: string;
  result: CloudCallResult;
  value: number;
}

/** Counted calls wait in memory this long at most before they reach Redis. */
const FLUSH_EVERY_MS = 1_000;

/**
 * Cloud API requests by provider, action and result, kept in Redis so any web
 * process exports what every process sent (`vmpool_cloud_calls_total`).
 * Counted in memory and written once a second in one round trip, whatever the
 * number of calls: a metric must not add Redis commands per machine.
 */
export class CloudCallCounters {
  private readonly key: string;
  private pending = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = cloudCallsKey(prefix);
    this.timer = setInterval(() => void this.flush(), FLUSH_EVERY_MS);
    this.timer.unref();
  }

  count(provider: string, action: string, result: CloudCallResult): void {
    const field = `${provider}|${action}|${result}`;
    this.pending.set(field, (this.pending.get(field) ?? 0) + 1);
  }

  /** Writes what was counted since the last flush; what fails to reach Redis is kept for the next one. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  /** Stops the timer and writes what is left; call before Redis closes. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    // All of the batch or none of it: a transaction, so a failed write can be repeated whole.
    const transaction = this.redis.multi();
    for (const [field, n] of batch) transaction.hincrby(this.key, field, n);
    try {
      if (!(await transaction.exec())) throw new Error('transaction aborted');
    } catch {
      // Redis away: keep the counts for the next flush (one whose answer was lost may count twice: a counter overshoots, never goes back).
      for (const [field, n] of batch) this.pending.set(field, (this.pending.get(field) ?? 0) + n);
    }
  }
}

function cloudCallsKey(prefix: string): string {
  return `${prefix}:cloud-calls`;
}

/** Every process's counts, as the metric reads them at scrape time. */
export async function readCloudCalls(redis: Redis, prefix: string): Promise<CloudCallRow[]> {
  const raw = await redis.hgetall(cloudCallsKey(prefix));
  return Object.entries(raw).map(([field, value]) => {
    const [provider = '', action = '', result = ''] = field.split('|');
    return { provider, action, result: result as CloudCallResult, value: Number(value) };
  });
}
