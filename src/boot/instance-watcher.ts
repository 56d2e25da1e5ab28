import type { Logger } from '../log.js';
import type { Instance, Provider } from '../providers/provider.js';
import { describeError } from '../errors.js';
import { ApiOutages } from './api-outages.js';

interface Waiter {
  provider: Provider;
  instanceId: string;
  deadline: number;
  /** When the wait began: outages of describe since then move its deadline. */
  since: number;
  resolve(instance: Instance): void;
  reject(err: Error): void;
}

export class InstanceGoneError extends Error {
  constructor(readonly instanceId: string, readonly state: string) {
    super(`instance ${instanceId} is ${state}`);
    this.name = 'InstanceGoneError';
  }
}

export class BootDeadlineError extends Error {
  constructor(readonly instanceId: string) {
    super(`instance ${instanceId} was not running by its boot deadline`);
    this.name = 'BootDeadlineError';
  }
}

/**
 * Waits for instances to be running with one batched DescribeInstances per
 * provider per tick for every machine this process is booting, however many:
 * the cloud API's rate limit is shared by the whole account. While a
 * provider's describe fails, its boots' clocks stop: no deadline passes
 * during the outage, and each deadline moves by the outage's length
 * (`outages`, which the slow-boot watch reads too). Time the API could not
 * answer is not time the zone took.
 */
export class InstanceWatcher {
  private readonly waiters = new Set<Waiter>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly everyMs: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.outages = new ApiOutages(now);
  }

  /** When each provider's describe was failing, as this process saw it. */
  readonly outages: ApiOutages;

  waitUntilRunning(provider: Provider, instanceId: string, deadline: number, signal?: AbortSignal): Promise<Instance> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { provider, instanceId, deadline, since: this.now(), resolve, reject };
      if (signal?.aborted) return reject(signal.reason as Error);
      signal?.addEventListener('abort', () => this.settle(waiter, () => reject(signal.reason as Error)), { once: true });
      this.waiters.add(waiter);
      this.timer ??= setInterval(() => void this.poll(), this.everyMs);
    });
  }

  /** Describe calls made so far: what a benchmark checks does not grow with booting machines. */
  describeCalls = 0;

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const byProvider = new Map<Provider, Waiter[]>();
      for (const w of this.waiters) byProvider.set(w.provider, [...(byProvider.get(w.provider) ?? []), w]);
      await Promise.all([...byProvider].map(([provider, waiters]) => this.check(provider, waiters)));
    } finally {
      this.polling = false;
      if (this.waiters.size === 0) this.stopTimer();
    }
  }

  private async check(provider: Provider, waiters: Waiter[]): Promise<void> {
    let found: Map<string, Instance> | undefined;
    const { name } = provider;
    const sentAt = this.now();
    try {
      this.describeCalls++;
      found = await provider.describe([...new Set(waiters.map((w) => w.instanceId))]);
      if (this.outages.failing(name)) this.logger.info({ provider: name }, 'describe answers again; boot clocks run again');
      this.outages.answered(name);
    } catch (err) {
      if (!this.outages.failing(name)) this.logger.warn({ provider: name, error: describeError(err) }, 'describe failing; boot clocks of this provider paused until it answers');
      this.outages.failed(name, sentAt);
    }
    for (const waiter of waiters) {
      const instance = found?.get(waiter.instanceId);
      if (instance?.state === 'running') this.settle(waiter, () => waiter.resolve(instance));
      else if (instance && instance.state !== 'pending') this.settle(waiter, () => waiter.reject(new InstanceGoneError(waiter.instanceId, instance.state)));
      else if (found && this.now() > waiter.deadline + this.outages.pausedSince(name, waiter.since)) this.settle(waiter, () => waiter.reject(new BootDeadlineError(waiter.instanceId)));
      // Unknown ids stay: right after launch, EC2's describe may not know an instance yet.
    }
  }

  private settle(waiter: Waiter, action: () => void): void {
    if (!this.waiters.delete(waiter)) return; // settled already
    action();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Rejects every waiter (shutdown); their jobs are handed back to the queue. */
  close(): void {
    this.stopTimer();
    for (const waiter of this.waiters) waiter.reject(new Error('booter shutting down'));
    this.waiters.clear();
  }
}
