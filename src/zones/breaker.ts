import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { READ, RECORD, RESERVE_PROBE, SET_MODE } from './breaker-scripts.js';
import type { ZoneGuard } from '../machines/store.js';

export type BreakerState = 'closed' | 'open' | 'half-open';
export type BreakerMode = 'auto' | 'forced-open' | 'forced-closed';

export interface BreakerSettings {
  window: number;
  /** A zone is judged on at most this many of its latest outcomes (those younger than `window`). */
  recentOutcomes: number;
  minOutcomes: number;
  failureRate: number;
  openFor: number;
  /** Equal to openFor: no growth; longer: each consecutive re-open doubles the period up to it. */
  maxOpenFor: number;
  probes: number;
}

/** One zone's breaker as every process sees it. */
export interface ZoneHealth {
  zone: string;
  /** What selection obeys: the override if one is set, else the automatic state. */
  state: BreakerState;
  autoState: BreakerState;
  mode: BreakerMode;
  modeReason?: string;
  modeBy?: string;
  /** Epoch ms when the override lapses; undefined when it does not. */
  modeUntil?: number;
  failures: number;
  outcomes: number;
  failureRate: number;
  openUntil?: number;
  reopens: number;
  probesGranted: number;
  /** How many more failures in a row would open the zone (minOutcomes when it is not closed under auto mode). */
  failuresToOpen: number;
  /**
   * At most this many machines whose outcome is not in yet should be in the
   * zone: a zone with failures against it gets no more than the failures that
   * would open it, so the launches in flight when it opens are few. Undefined
   * for a zone with nothing against it (a healthy zone is not throttled).
   */
  inFlightLimit?: number;
}

export interface Transition {
  zone: string;
  from: string;
  to: string;
  why: string;
}

type Reply = (string | number)[];
interface BreakerScripts {
  vmpoolBreakerRead(...args: (string | number)[]): Promise<Reply>;
  vmpoolBreakerRecord(...args: (string | number)[]): Promise<Reply>;
  vmpoolBreakerReserve(...args: (string | number)[]): Promise<Reply>;
  vmpoolBreakerSetMode(...args: (string | number)[]): Promise<Reply>;
}

/**
 * The zone circuit breaker, kept in Redis so the outcomes any booter observes
 * steer the zone choice of every producer. Every operation is one script; each
 * transition is appended to an audit stream and logged once, by the process
 * whose call made it.
 */
export class ZoneBreaker {
  private readonly redis: Redis & BreakerScripts;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly settings: BreakerSettings,
    private readonly logger: Logger,
  ) {
    redis.defineCommand('vmpoolBreakerRead', { numberOfKeys: 3, lua: READ });
    redis.defineCommand('vmpoolBreakerRecord', { numberOfKeys: 3, lua: RECORD });
    redis.defineCommand('vmpoolBreakerReserve', { numberOfKeys: 3, lua: RESERVE_PROBE });
    redis.defineCommand('vmpoolBreakerSetMode', { numberOfKeys: 3, lua: SET_MODE });
    this.redis = redis as Redis & BreakerScripts;
  }

  /** Counts one outcome of a machine in `zone`: `bad` for a zone fault, `slow` for a boot judged slow (also a failure, named as such in transitions). */
  async record(zone: string, outcome: 'ok' | 'bad' | 'slow', options: { probe: boolean; now: number }): Promise<ZoneHealth> {
    const { openFor, maxOpenFor, probes } = this.settings;
    const extra = [outcome, options.probe ? '1' : '0', openFor, maxOpenFor, probes];
    return this.parse(zone, await this.redis.vmpoolBreakerRecord(...this.args(zone, options.now), ...extra));
  }

  /** Reserves one probe launch into a half-open zone; at most `probes` per round, whichever process asks. */
  async reserveProbe(zone: string, now: number): Promise<boolean> {
    const reply = await this.redis.vmpoolBreakerReserve(...this.args(zone, now), this.settings.probes);
    return Number(reply[11]) === 1 && this.parse(zone, reply).state === 'half-open';
  }

  /** The manual override, effective for every process at its next decision. */
  async setMode(zone: string, mode: BreakerMode, options: { reason: string; by: string; until?: number; now: number }): Promise<ZoneHealth> {
    const reply = await this.redis.vmpoolBreakerSetMode(...this.args(zone, options.now), mode, options.reason, options.by, options.until ?? 0);
    return this.parse(zone, reply);
  }

  async read(zones: readonly string[], now: number): Promise<Map<string, ZoneHealth>> {
    const healths = await Promise.all(zones.map(async (zone) => this.parse(zone, await this.redis.vmpoolBreakerRead(...this.args(zone, now)))));
    return new Map(healths.map((h) => [h.zone, h]));
  }

  /** The newest transitions first, from the audit stream. */
  async audit(count = 50): Promise<(Transition & { at: number; by: string; failureRate: number; outcomes: number })[]> {
    const entries = await this.redis.xrevrange(`${this.prefix}:breaker-audit`, '+', '-', 'COUNT', count);
    return entries.map(([, flat]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
      return { zone: f.zone ?? '', from: f.from ?? '', to: f.to ?? '', why: f.why ?? '', by: f.by ?? '', at: Number(f.at), failureRate: Number(f.failureRate), outcomes: Number(f.outcomes) };
    });
  }

  /** What the store's CREATE needs to hold `zone` to this breaker's in-flight limit atomically. */
  guard(zone: string, otherPools: readonly string[]): ZoneGuard {
    const key = `${this.prefix}:breaker:${zone}`;
    const { window, recentOutcomes, minOutcomes, failureRate } = this.settings;
    return { breakerKeys: [key, `${key}:recent`], recentMax: recentOutcomes, windowMs: window, minOutcomes, failureRate, otherPools };
  }

  private args(zone: string, now: number): (string | number)[] {
    const key = `${this.prefix}:breaker:${zone}`;
    const { window, openFor, recentOutcomes, minOutcomes, failureRate } = this.settings;
    // A half-open round lasts long enough for its probes to boot or be judged slow.
    const round = Math.max(window, openFor);
    return [key, `${key}:recent`, `${this.prefix}:breaker-audit`, now, zone, recentOutcomes, window, round, minOutcomes, failureRate];
  }

  private parse(zone: string, reply: Reply): ZoneHealth {
    const [state, autoState, mode, failures, outcomes, openUntil, reopens, probesGranted, modeReason, modeBy, modeUntil, , failuresToOpen] = reply.map(String);
    const n = Number(outcomes);
    const toOpen = Number(failuresToOpen);
    const health: ZoneHealth = {
      zone,
      state: state as BreakerState,
      autoState: autoState as BreakerState,
      mode: mode as BreakerMode,
      modeReason: modeReason || undefined,
      modeBy: modeBy || undefined,
      modeUntil: Number(modeUntil) || undefined,
      failures: Number(failures),
      outcomes: n,
      failureRate: n > 0 ? Number(failures) / n : 0,
      openUntil: Number(openUntil) || undefined,
      reopens: Number(reopens),
      probesGranted: Number(probesGranted),
      failuresToOpen: toOpen,
      inFlightLimit: toOpen < this.settings.minOutcomes ? toOpen : undefined,
    };
    for (const move of reply.slice(13).map(String)) {
      const [from = '', to = '', why = ''] = move.split('>');
      const fields = { zone, from, to, why, failureRate: Number(health.failureRate.toFixed(3)), outcomes: n };
      // A manual move's why holds the operator's reason: a field only, so a newline in it cannot forge a log line.
      const cut = why.indexOf(':');
      const shown = why.startsWith('manual ') && cut > 0 ? why.slice(0, cut) : why;
      this.logger[to === 'open' ? 'warn' : 'info'](fields, `zone ${zone} breaker ${from} -> ${to}: ${shown}`);
    }
    return health;
  }
}
