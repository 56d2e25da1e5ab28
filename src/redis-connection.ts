import { Redis } from 'ioredis';
import type { Logger } from './log.js';
import type { Config } from './config.js';
import { redisOptions } from './redis-options.js';

/** A Redis URL fit for a log line or an error: the password and user name removed. */
export function safeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '(unparseable redis.url)';
  }
}

/** Redis did not answer at start: one line naming the URL (no credentials) and the fix. */
export class RedisUnreachableError extends Error {
  readonly code = 'VMPOOL_REDIS_UNREACHABLE';
  constructor(url: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`cannot connect to Redis at ${safeRedisUrl(url)} (${why}): start redis-server there, or set REDIS_URL (config redis.url) to a Redis 6.2+ you run`, { cause });
    this.name = 'RedisUnreachableError';
  }
}

/**
 * Connects vmpool's Redis connection, retrying forever once connected (BullMQ
 * needs that). A Redis that does not answer at start fails the start with a
 * `RedisUnreachableError`; later outages are logged once each, as one line
 * without a stack, instead of ioredis' "Unhandled error event" on every retry.
 */
export async function connectRedis(config: Pick<Config['redis'], 'url' | 'tlsVerify'>, logger: Logger, setup: (redis: Redis) => void = () => undefined): Promise<Redis> {
  const { url } = config;
  const redis = new Redis(url, redisOptions(config));
  setup(redis);
  let down = false;
  let started = false;
  redis.on('error', (err: Error) => {
    if (!started || down) return;
    down = true;
    logger.warn({ redis: safeRedisUrl(url), error: err.message }, `lost the connection to Redis at ${safeRedisUrl(url)}; retrying`);
  });
  redis.on('ready', () => {
    if (down) logger.info({ redis: safeRedisUrl(url) }, 'connected to Redis again');
    down = false;
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new RedisUnreachableError(url, err);
  }
  started = true;
  return redis;
}
