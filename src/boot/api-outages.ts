/** How long an ended outage is remembered: longer than any boot's clock. */
const KEEP_MS = 3_600_000;

interface Outage {
  from: number;
  /** Undefined while it lasts. */
  to?: number;
}

/**
 * When each provider's DescribeInstances was failing, as this process saw it
 * (throttled, refused, its guard open, no answer). A boot cannot be seen
 * running while describe fails, so that time is the API's, not the zone's:
 * boot deadlines and slow judgements leave it out. Pure but for `now`.
 */
export class ApiOutages {
  private readonly byProvider = new Map<string, Outage[]>();

  constructor(private readonly now: () => number) {}

  /** A describe sent at `at` failed: an outage starts then, unless one is on already. */
  failed(provider: string, at: number): void {
    const outages = this.byProvider.get(provider) ?? [];
    const last = outages.at(-1);
    if (!last || last.to !== undefined) outages.push({ from: at });
    this.byProvider.set(provider, outages.filter((o) => o.to === undefined || o.to > this.now() - KEEP_MS));
  }

  /** A describe answered: the outage, if any, ended now. */
  answered(provider: string): void {
    const last = this.byProvider.get(provider)?.at(-1);
    if (last && last.to === undefined) last.to = this.now();
  }

  /** True while the provider's describe is failing. */
  failing(provider: string): boolean {
    const last = this.byProvider.get(provider)?.at(-1);
    return last !== undefined && last.to === undefined;
  }

  /** Milliseconds of outage between `since` and now: what a clock started at `since` must not count. */
  pausedSince(provider: string, since: number): number {
    const now = this.now();
    let paused = 0;
    for (const { from, to = now } of this.byProvider.get(provider) ?? []) paused += Math.max(0, Math.min(to, now) - Math.max(from, since));
    return paused;
  }
}
