import type { RedisOptions } from 'ioredis';
import type { Config } from './config.js';

/**
 * The connection options every role's Redis client (and BullMQ's duplicates
 * of it) uses. A `rediss://` URL means TLS: ioredis turns it on only for the
 * lower-case scheme and always verifies the certificate, so both are said
 * here; `tlsVerify: false` accepts the self-signed certificates of some Redis
 * add-ons (Heroku's), the traffic still encrypted.
 */
export function redisOptions(redis: Pick<Config['redis'], 'url' | 'tlsVerify'>): RedisOptions {
  // BullMQ needs connections that retry forever; the store's answers go to API clients, so the same applies.
  const base: RedisOptions = { maxRetriesPerRequest: null, lazyConnect: true };
  if (!/^rediss:\/\//i.test(redis.url)) return base;
  return { ...base, tls: redis.tlsVerify ? {} : { rejectUnauthorized: false } };
}
