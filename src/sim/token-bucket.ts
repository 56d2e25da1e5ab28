/**
 * EC2's throttling algorithm: a bucket of `size` tokens, refilled at
 * `refill` tokens per second up to `size`; a call takes its cost or is
 * refused. Pure: time comes in as an argument, so tests drive it exactly.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly size: number,
    /** Tokens per second. */
    readonly refill: number,
    now: number,
  ) {
    if (!(size > 0) || !(refill >= 0)) throw new RangeError(`a token bucket needs size > 0 and refill >= 0, got ${size} and ${refill}`);
    this.tokens = size;
    this.at = now;
  }

  /** Tokens available at `now` (fractions included: a refill of 2/s holds 0.5 after 250 ms). */
  level(now: number): number {
    this.advance(now);
    return this.tokens;
  }

  /** Takes `cost` tokens when the bucket holds them all; false (and nothing taken) otherwise. */
  take(cost: number, now: number): boolean {
    this.advance(now);
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  // A clock that steps back (tests, NTP) neither refills nor drains.
  private advance(now: number): void {
    if (now <= this.at) return;
    this.tokens = Math.min(this.size, this.tokens + ((now - this.at) / 1000) * this.refill);
    this.at = now;
  }
}
