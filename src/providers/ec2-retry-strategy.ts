import { AdaptiveRetryStrategy } from '@smithy/core/retry';
import { isCapacityError } from '../errors.js';

type RetryToken = Parameters<AdaptiveRetryStrategy['refreshRetryTokenForRetry']>[0];
type RetryErrorInfo = Parameters<AdaptiveRetryStrategy['refreshRetryTokenForRetry']>[1];

/**
 * The SDK's adaptive retry (backoff plus a client-side rate limiter that
 * slows down on throttling), except for EC2's capacity family. Those are
 * server errors (HTTP 500), which the SDK would repeat up to `maxAttempts`
 * times with backoff; yet a zone out of an instance type does not recover
 * in seconds, and vmpool has a better move at once: the next instance type
 * or zone, with the capacity cache remembering. So a capacity error reaches
 * vmpool after exactly one RunInstances.
 */
export class Ec2RetryStrategy extends AdaptiveRetryStrategy {
  constructor(maxAttempts: number) {
    super(() => Promise.resolve(maxAttempts));
  }

  override refreshRetryTokenForRetry(token: RetryToken, errorInfo: RetryErrorInfo): ReturnType<AdaptiveRetryStrategy['refreshRetryTokenForRetry']> {
    // Any rejection ends the SDK's retry loop, which then throws the call's own error (with $metadata.attempts).
    if (isCapacityError(errorInfo.error)) return Promise.reject(new Error('capacity errors are not retried: vmpool decides where to go next'));
    return super.refreshRetryTokenForRetry(token, errorInfo);
  }
}
