import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { testConfig } from '../helpers/test-config.js';
import { ALL_ZONES_OPEN } from '../../src/pool/pool-flags.js';

const root = join(import.meta.dirname, '..', '..');
const read = (...path: string[]) => readFileSync(join(root, ...path), 'utf8');

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/** The metric names a PromQL expression selects: what is left once strings, matchers, ranges, groupings and function names are gone. */
export function metricsIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/([A-Za-z_:][\w:]*)(\s*\()?/g)]
    .filter((m) => m[2] === undefined)
    .map((m) => m[1]!)
    .filter((word) => !PROMQL_WORDS.has(word.toLowerCase()));
}

interface Rules { groups: { name: string; rules: { alert: string; expr: string }[] }[] }
interface Grafana { panels: { title: string; targets: { expr: string }[] }[] }

let app: App;
let prefix: string;
let exposed: Set<string>;
beforeAll(async () => {
  const config = testConfig();
  prefix = config.redis.prefix;
  app = await createApp({ config, logger: createLogger(config.log), roles: ['web'] });
  // Some activity first: a lease request that times out (the histogram's series), a zone outcome.
  await app.http!.inject({ method: 'POST', url: '/v1/pools/small/leases', payload: { wait: '10ms' } });
  await app.breaker.record('sim/zone-a', 'bad', { probe: false, now: Date.now() });
  const text = (await app.http!.inject({ method: 'GET', url: '/metrics' })).body;
  exposed = new Set();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exposed.add(name!);
    if (type === 'histogram' || type === 'summary') for (const suffix of ['_bucket', '_count', '_sum']) exposed.add(`${name!}${suffix}`);
  }
});
afterAll(() => app.close());

describe('the monitoring kit in docs/monitoring', () => {
  it('reads PromQL metric names the way Prometheus would', () => {
    expect(metricsIn('histogram_quantile(0.95, sum by (pool, le) (rate(vmpool_lease_wait_seconds_bucket{result="x"}[5m]))) > 1')).toEqual(['vmpool_lease_wait_seconds_bucket']);
    expect(metricsIn('time() - up > 300 unless on (pool) foo')).toEqual(['up', 'foo']);
  });

  it('alert rules cover the issue\'s cases and name only metrics a web role exposes', () => {
    const rules = yaml.load(read('docs', 'monitoring', 'vmpool-alerts.yaml')) as Rules;
    const all = rules.groups.flatMap((g) => g.rules);
    const names = all.map((r) => r.alert);
    for (const expected of ['VmpoolZoneOpenTooLong', 'VmpoolEveryZoneOfPoolOpen', 'VmpoolLeaseWaitAboveObjective', 'VmpoolMachinesStuck', 'VmpoolInstancesLeaked', 'VmpoolCanaryHalted']) expect(names).toContain(expected);
    for (const rule of all) {
      const used = metricsIn(rule.expr);
      expect(used.length, rule.alert).toBeGreaterThan(0);
      for (const metric of used) {
        expect(metric, rule.alert).toMatch(/^vmpool_/);
        expect(metric, rule.alert).not.toMatch(/^vmpool_process_/); // process metrics may be renamed
        expect(exposed.has(metric), `${rule.alert}: ${metric} is not in /metrics`).toBe(true);
      }
    }
  });

  it('the Grafana dashboard queries only vmpool_ metrics a web role exposes', () => {
    const dashboard = JSON.parse(read('docs', 'monitoring', 'vmpool-grafana.json')) as Grafana;
    expect(dashboard.panels.length).toBeGreaterThan(5);
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        for (const metric of metricsIn(expr)) {
          expect(metric, panel.title).toMatch(/^vmpool_/);
          expect(exposed.has(metric), `${panel.title}: ${metric} is not in /metrics`).toBe(true);
        }
      }
    }
  });

  it('exposes the pool flags, target and the reaper\'s last run that the alerts read', async () => {
    const now = Date.now();
    await app.flags.halt('small', 'bad image id', now, 60_000);
    await app.flags.raise('large', ALL_ZONES_OPEN, now);
    const summary = { orphansMarked: 0, orphansTerminated: 1, stuckFailed: 2, recordsClosed: 0, recycled: 0, overdueLeases: 0, terminationsRetried: 0, bootsResumed: 0, unansweredLeases: 0, leaseTagsRepaired: 0 };
    await app.redis.set(`${prefix}:reaper:last`, JSON.stringify({ at: now, summary }));
    const text = (await app.http!.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('vmpool_pool_halted{pool="small"} 1');
    expect(text).toContain('vmpool_pool_halted{pool="large"} 0');
    expect(text).toContain('vmpool_pool_all_zones_open{pool="large"} 1');
    expect(text).toMatch(/vmpool_pool_target\{pool="small"\} \d+/);
    expect(text).toContain('vmpool_reaper_last_run_actions{action="stuck_failed"} 2');
    expect(text).toContain('vmpool_reaper_last_run_actions{action="orphans_terminated"} 1');
    expect(text).toContain(`vmpool_reaper_last_run_timestamp_seconds ${now / 1000}`);
  });

  it('docs/metrics.md describes every vmpool metric (the process and nodejs ones as families)', () => {
    const doc = read('docs', 'metrics.md');
    for (const name of exposed) {
      if (name.startsWith('vmpool_process_') || name.startsWith('vmpool_nodejs_') || /_(bucket|count|sum)$/.test(name)) continue;
      expect(doc, name).toContain(`\`${name}`);
    }
  });
});
