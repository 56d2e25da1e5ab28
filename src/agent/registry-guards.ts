import CircuitBreaker from 'opossum';
import type { Logger } from '../log.js';

/** `agent.registryBreaker` from the config, durations in ms. */
export interface RegistryGuardOptions {
  errorThresholdPercentage: number;
  volumeThreshold: number;
  resetTimeout: number;
}

/** A pull attempt that failed for the registry's sake (missing tag, error, timeout): what the breaker counts. */
export class RegistryAttemptFailed extends Error {
  override readonly name = 'RegistryAttemptFailed';
}

type Attempt<T> = () => Promise<T>;

/**
 * This process's opossum breaker per registry. While one is open, `run`
 * answers `undefined` without calling: the caller tries the other registries
 * first and this one last (never never: the image may be nowhere else). Only
 * RegistryAttemptFailed counts; a lost SSH connection is not the registry's fault.
 */
export class RegistryGuards {
  private readonly breakers = new Map<string, CircuitBreaker<[Attempt<unknown>], unknown>>();

  constructor(
    private readonly options: RegistryGuardOptions,
    private readonly logger: Logger,
  ) {}

  /** Runs the attempt through the registry's breaker; `skipped` while the breaker is open. */
  async run<T>(registry: string, attempt: Attempt<T>): Promise<{ skipped: true } | { skipped: false; value: T }> {
    try {
      return { skipped: false, value: (await this.breaker(registry).fire(attempt)) as T };
    } catch (err) {
      if (err instanceof Error && CircuitBreaker.isOurError(err)) return { skipped: true };
      throw err;
    }
  }

  isOpen(registry: string): boolean {
    return this.breakers.get(registry)?.opened ?? false;
  }

  /** Stops every breaker's timers. */
  close(): void {
    for (const breaker of this.breakers.values()) breaker.shutdown();
  }

  private breaker(registry: string): CircuitBreaker<[Attempt<unknown>], unknown> {
    let breaker = this.breakers.get(registry);
    if (breaker) return breaker;
    const log = this.logger.child({ component: 'registry-guard', registry });
    // No timeout here: each attempt has the pull timeout, enforced on the machine.
    breaker = new CircuitBreaker((attempt: Attempt<unknown>) => attempt(), {
      name: `registry:${registry}`,
      timeout: false,
      errorThresholdPercentage: this.options.errorThresholdPercentage,
      volumeThreshold: this.options.volumeThreshold,
      resetTimeout: this.options.resetTimeout,
      errorFilter: (err: unknown) => !(err instanceof RegistryAttemptFailed),
      enableSnapshots: false,
    });
    breaker.on('open', () => log.warn({ retryInMs: this.options.resetTimeout }, `registry ${registry} keeps failing: tried last until it recovers`));
    breaker.on('halfOpen', () => log.info(`registry ${registry}: trying it first again`));
    breaker.on('close', () => log.info(`registry ${registry} serving pulls again`));
    this.breakers.set(registry, breaker);
    return breaker;
  }
}
