import type { Config } from '../config.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PreflightCheck } from '../providers/preflight-check.js';
import { TAGS, ownTags, type Provider } from '../providers/provider.js';
import { splitZoneId, zoneId } from '../providers/zone-id.js';

/** One check of one pool, as `vmpool doctor` prints it and the producer logs it. */
export interface PreflightRow {
  pool: string;
  /** Zone id (`sim/zone-a`); null for a check of the provider's whole region. */
  zone: string | null;
  check: string;
  ok: boolean;
  /** Why it failed, in words; on a passed check, what could not be verified. */
  detail?: string;
}

/**
 * Asks each pool's provider whether its launches and vmpool's other calls
 * would be accepted, pool by pool (one provider's calls at a time: they
 * share the account's rate budget). Never throws: a provider that cannot be
 * asked at all is a failed row.
 */
export async function preflightPools(config: Pick<Config, 'pools' | 'deployment'>, providers: ReadonlyMap<string, Provider>, signal?: AbortSignal): Promise<PreflightRow[]> {
  const rows: PreflightRow[] = [];
  for (const pool of config.pools) {
    const provider = providers.get(pool.provider);
    const row = (check: PreflightCheck): PreflightRow => ({ pool: pool.name, zone: check.zone === undefined ? null : zoneId(pool.provider, check.zone), check: check.check, ok: check.ok, ...(check.detail ? { detail: check.detail } : {}) });
    if (!provider) {
      rows.push(row({ check: 'provider', ok: false, detail: `no provider named "${pool.provider}"` }));
      continue;
    }
    try {
      const checks =
        (await provider.preflight?.(
          {
            name: pool.name,
            zones: pool.zones.map((z) => splitZoneId(z).zone),
            imageId: pool.imageId,
            instanceTypes: pool.instanceTypes,
            ...(pool.keyName ? { keyName: pool.keyName } : {}),
            tags: { ...ownTags(config.deployment), [TAGS.pool]: pool.name },
          },
          { signal },
        )) ?? [];
      rows.push(...(checks.length > 0 ? checks.map(row) : [row({ check: 'preflight', ok: true, detail: `provider ${pool.provider} has no preflight checks` })]));
    } catch (err) {
      rows.push(row({ check: 'preflight', ok: false, detail: describeError(err) }));
    }
  }
  return rows;
}

/**
 * The producer's check at start: a warning per failed check, an info line
 * when all passed. Runs beside the start, never blocking it: a pool whose
 * check fails may still launch (the check can be wrong, e.g. an IAM
 * condition it cannot reproduce), and its launch errors say the rest.
 */
export function warnOnPreflight(deps: { config: Pick<Config, 'pools' | 'deployment'>; providers: ReadonlyMap<string, Provider>; logger: Logger }): { stop(): void } {
  const stopped = new AbortController();
  void preflightPools(deps.config, deps.providers, stopped.signal).then((rows) => {
    if (stopped.signal.aborted) return;
    const failed = rows.filter((r) => !r.ok);
    for (const r of failed) {
      deps.logger.warn({ pool: r.pool, zone: r.zone, check: r.check, detail: r.detail }, `preflight: ${r.check} failed for pool ${r.pool}${r.zone ? ` in ${r.zone}` : ''}: ${r.detail ?? 'refused'} (npx vmpool doctor shows every check)`);
    }
    if (failed.length === 0) deps.logger.info({ checks: rows.length }, 'preflight: every pool passed its checks against its provider');
  }, (err: unknown) => deps.logger.warn({ err }, 'preflight could not run'));
  return { stop: () => stopped.abort() };
}
