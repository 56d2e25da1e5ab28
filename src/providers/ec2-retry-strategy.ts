import { AdaptiveRetryStrategy, StandardRetryStrategy } from '@smithy/core/retry';
import { isCapacityError } from '../errors.js';

type RetryErrorInfo = Parameters<StandardRetryStrategy['refreshRetryTokenForRetry']>[1];

/**
 * EC2's capacity family are server errors (HTTP 500), which the SDK would
 * repeat up to `maxAttempts` times with backoff; yet a zone out of an
 * instance type does not recover in seconds, and vmpool has a better move at
 * once: the next instance type or zone, with the capacity cache remembering.
 * So a capacity error reaches vmpool after exactly one RunInstances.
 * Any rejection ends the SDK's retry loop, which then throws the call's own
 * error (with $metadata.attempts).
 */
function refuseCapacity(errorInfo: RetryErrorInfo): Promise<never> | undefined {
  if (isCapacityError(errorInfo.error)) return Promise.reject(new Error('capacity errors are not retried: vmpool decides where to go next'));
  return undefined;
}

/**
 * The SDK's adaptive retry (backoff plus a client-side rate limiter that
 * slows this process down on throttling), except for capacity errors. For a
 * provider without a shared rate budget (`rateBudget.shared: false`).
 */
export class Ec2RetryStrategy extends AdaptiveRetryStrategy {
  constructor(maxAttempts: number) {
    super(() => Promise.resolve(maxAttempts));
  }

  override refreshRetryTokenForRetry(token: Parameters<AdaptiveRetryStrategy['refreshRetryTokenForRetry']>[0], errorInfo: RetryErrorInfo): ReturnType<AdaptiveRetryStrategy['refreshRetryTokenForRetry']> {
    return refuseCapacity(errorInfo) ?? super.refreshRetryTokenForRetry(token, errorInfo);
  }
}

/**
 * The SDK's standard retry (backoff, no client-side limiter), except for
 * capacity errors. For a provider with the shared rate budget: the budget
 * paces every process and holds them all after a throttle, so a per-process
 * limiter would only slow calls down a second time.
 */
export class Ec2BudgetedRetryStrategy extends StandardRetryStrategy {
  constructor(maxAttempts: number) {
    super(maxAttempts);
  }

  override refreshRetryTokenForRetry(token: Parameters<StandardRetryStrategy['refreshRetryTokenForRetry']>[0], errorInfo: RetryErrorInfo): ReturnType<StandardRetryStrategy['refreshRetryTokenForRetry']> {
    return refuseCapacity(errorInfo) ?? super.refreshRetryTokenForRetry(token, errorInfo);
  }
}
