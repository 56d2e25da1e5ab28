import CircuitBreaker from 'opossum';
import { classify } from '../errors.js';
import type { Logger } from '../log.js';
import type { BreakerSettings } from './breaker.js';
import type { ZoneSignal, ZoneStrategy } from './zone-strategy.js';

type Call = () => Promise<unknown>;
type Settings = Pick<BreakerSettings, 'window' | 'minOutcomes' | 'failureRate' | 'openFor'>;

/**
 * `zones.strategy: local-breaker`, the design CircleCI found could not work,
 * kept so the outage benchmark can show why: each producer keeps an
 * in-memory opossum breaker per zone, fed only by what its own launch calls
 * answer (capacity errors, 5xx). A zone whose machines die while booting
 * never opens it, because boots are seen by booters, which are other
 * processes. The shared capacity cache is ignored: it is shared knowledge.
 * Same thresholds as the Redis breaker (`breaker.*`); one trial per half-open
 * period, as opossum has it.
 */
export class LocalBreakerStrategy implements ZoneStrategy {
  private readonly breakers = new Map<string, CircuitBreaker<[Call], unknown>>();
  /** Half-open zones whose trial launch was planned here, and when. */
  private readonly probing = new Map<string, number>();

  constructor(
    private readonly settings: Settings,
    private readonly logger: Logger,
  ) {}

  health(zones: readonly string[]): Promise<Map<string, ZoneSignal>> {
    return Promise.resolve(new Map(zones.map((zone) => [zone, this.signal(zone)])));
  }

  available(zones: readonly string[], instanceTypes: readonly string[]): Promise<Map<string, string[]>> {
    return Promise.resolve(new Map(zones.map((zone) => [zone, [...instanceTypes]])));
  }

  /**
   * One trial per half-open period. Launch jobs are shared, so the trial
   * planned here may be launched (and seen) by another producer: the
   * reservation lapses after `openFor`, or this breaker would wait forever.
   */
  reserveProbe(zone: string, now: number): Promise<boolean> {
    const breaker = this.breaker(zone);
    const since = this.probing.get(zone);
    if (!breaker.halfOpen || !breaker.pendingClose || (since !== undefined && now - since < this.settings.openFor)) return Promise.resolve(false);
    this.probing.set(zone, now);
    return Promise.resolve(true);
  }

  /**
   * Counts the answer of a launch into `zone` while the breaker listens
   * (closed, or half-open awaiting its trial). While it is open, a launch
   * planned anyway (by another producer) goes out unobserved: this breaker
   * steers zone choice, it does not refuse calls.
   */
  async observeLaunch<T>(zone: string, call: () => Promise<T>): Promise<T> {
    const breaker = this.breaker(zone);
    if (!breaker.closed && !breaker.pendingClose) return call();
    return (await breaker.fire(call)) as T;
  }

  close(): void {
    for (const breaker of this.breakers.values()) breaker.shutdown();
  }

  private signal(zone: string): ZoneSignal {
    const breaker = this.breaker(zone);
    const { fires, failures } = breaker.stats;
    const state = breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed';
    return { state, failureRate: fires > 0 ? failures / fires : 0 };
  }

  private breaker(zone: string): CircuitBreaker<[Call], unknown> {
    const known = this.breakers.get(zone);
    if (known) return known;
    const { window, minOutcomes, failureRate, openFor } = this.settings;
    const breaker = new CircuitBreaker((call: Call) => call(), {
      name: `zone:${zone}`,
      timeout: false,
      // opossum opens strictly above its threshold; the Redis breaker opens on reaching failureRate.
      errorThresholdPercentage: failureRate * 100 - 1e-6,
      volumeThreshold: minOutcomes,
      resetTimeout: openFor,
      rollingCountTimeout: window,
      // Only zone faults count against the zone; throttling or a bad image id does not.
      errorFilter: (err: unknown) => classify(err) !== 'zone-fault',
      enableSnapshots: false,
    });
    const log = this.logger.child({ zone });
    breaker.on('open', () => {
      this.probing.delete(zone);
      log.warn({ failureRate: this.signal(zone).failureRate }, `local zone breaker open: zone ${zone} skipped by this process`);
    });
    breaker.on('halfOpen', () => log.info(`local zone breaker half-open: one trial launch into zone ${zone}`));
    breaker.on('close', () => {
      this.probing.delete(zone);
      log.info(`local zone breaker closed: zone ${zone} used again by this process`);
    });
    this.breakers.set(zone, breaker);
    return breaker;
  }
}
