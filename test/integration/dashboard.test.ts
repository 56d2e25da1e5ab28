import { execFileSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';
import { screenshotDifference } from '../helpers/screenshots.js';
import type { StatusSample } from '../../src/status-history.js';

// The dashboard as an operator's browser shows it: a real headless Chromium
// (Debian's, installed by scripts/ensure-chromium.sh) loads `/` from the web role.
let browser: Browser;
let system: TestSystem | undefined;
beforeAll(async () => {
  const executablePath = execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  // Root in a container has no user namespace for Chromium's sandbox; the page is our own, on loopback.
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser.close();
});
afterEach(async () => {
  await system?.close();
  system = undefined;
});

const RED = 'rgb(207, 34, 46)';
/** A reader in New York with an American locale: the one that used to get AM/PM. */
const newPage = async (): Promise<Page> => (await browser.newContext({ locale: 'en-US', timezoneId: 'America/New_York', viewport: { width: 1000, height: 800 } })).newPage();
const closePage = (page: Page) => page.context().close();
const style = (page: Page, selector: string, property: string) => page.evaluate<string>(`getComputedStyle(document.querySelector(${JSON.stringify(selector)})).${property}`);

async function override(url: string, zone: string, body: Record<string, unknown>): Promise<void> {
  const put = await fetch(`${url}/v1/zones/${encodeURIComponent(zone)}/breaker`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(put.status).toBe(200);
}

async function failZone(s: TestSystem, zone: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await s.app.breaker.record(zone, 'bad', { probe: false, now: Date.now() });
}

/** Replaces the status samples with a fixed hour (and keeps the sampler out of it), so the chart draws the same every run. */
async function fixedHistory(s: TestSystem): Promise<void> {
  const prefix = s.config.redis.prefix;
  // The web role samples once at start: that one lands first, then goes.
  await waitFor(async () => (await s.app.redis.llen(`${prefix}:status-samples`)) > 0, { what: 'the sample taken at start' });
  await s.app.redis.set(`${prefix}:status-sample-lock`, '1', 'PX', 600_000);
  await s.app.redis.del(`${prefix}:status-samples`);
  const end = Date.now();
  for (let i = 0; i < 12; i++) {
    const sample: StatusSample = { at: new Date(end - (11 - i) * 300_000).toISOString(), readyByPool: { small: [2, 2, 1, 0, 0, 1, 2, 2, 2, 1, 2, 2][i]! }, leaseWaitP95ByPool: { small: i === 0 ? null : [0, 0.01, 0.02, 1.5, 3, 0.8, 0.05, 0.01, 0.01, 0.2, 0.01, 0.01][i]! }, leasesByPool: { small: i } };
    await s.app.redis.lpush(`${prefix}:status-samples`, JSON.stringify(sample));
  }
}

async function expectLooksLike(page: Page, name: string): Promise<void> {
  const png = await page.screenshot({ fullPage: true, animations: 'disabled', mask: [page.locator('time'), page.locator('#updated')], maskColor: '#888888' });
  const diff = await screenshotDifference(browser, name, png);
  expect(diff.share, `${name}: ${diff.why}; actual at ${diff.actualPath}`).toBeLessThan(0.01);
}

describe('the dashboard at /', () => {
  it('shows each pool by state and zone, each zone’s breaker, and an alert for a zone an operator opened, updating as things change', async () => {
    system = await startSystem(onePool({ warm: 2, max: 3 }));
    const page = await newPage();
    try {
      const response = await page.goto(system.app.url!);
      expect(response?.status()).toBe(200);
      expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
      const pool = page.locator('[data-pool="small"]');
      await pool.getByText('pool small: 2/2 ready').waitFor();
      await expect.poll(() => page.locator('#zones tbody tr').count()).toBe(3);
      expect(await page.locator('#all-clear').textContent()).toContain('No alerts');

      // An operator opens zone b, with a reason that tries to inject markup: it must show as text.
      await override(system.app.url!, 'sim/zone-b', { mode: 'open', reason: '<img src=x onerror=alert(1)> maintenance', for: '10m', by: 'alice' });
      const zoneB = page.locator('#zones [data-zone="sim/zone-b"]');
      await zoneB.locator('.pill.open').waitFor();
      expect(await zoneB.textContent()).toMatch(/forced-open by alice: <img src=x onerror=alert\(1\)> maintenance, until /);
      await page.locator('.alert', { hasText: 'zone sim/zone-b open' }).waitFor();
      expect(await page.locator('img').count()).toBe(0);

      // A lease shows up as it happens.
      const lease = await fetch(`${system.app.url!}/v1/pools/small/leases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"wait":"10s"}' });
      expect(lease.status).toBe(200);
      await pool.locator('h3', { hasText: /, 1 leased$/ }).waitFor();
    } finally {
      await closePage(page);
    }
  });

  it('shows open zones in red with the reason from the audit (an operator and theirs, or the failures) and the last breaker transitions', async () => {
    system = await startSystem(onePool({ warm: 2, max: 3 }), ['web']);
    await fixedHistory(system);
    const page = await newPage();
    try {
      await page.goto(system.app.url!);
      await page.locator('#all-clear').waitFor();
      await expectLooksLike(page, 'all-clear');

      await override(system.app.url!, 'sim/zone-b', { mode: 'open', reason: 'AWS incident 1234', for: '30m', by: 'alice' });
      await failZone(system, 'sim/zone-c', 5);
      const byOperator = page.locator('.alert[data-subject="sim/zone-b"]');
      const byFailures = page.locator('.alert[data-subject="sim/zone-c"]');
      await byOperator.waitFor();
      await byFailures.waitFor();
      expect(await byOperator.textContent()).toMatch(/^zone sim\/zone-b open: forced open by alice: AWS incident 1234; until \d{4}-/);
      expect(await byFailures.textContent()).toMatch(/^zone sim\/zone-c open: failure rate reached \(100% of 5 recent outcomes\); until \d{4}-/);
      for (const subject of ['sim/zone-b', 'sim/zone-c']) {
        expect(await style(page, `.alert[data-subject="${subject}"]`, 'color')).toBe(RED);
        expect(await style(page, `.alert[data-subject="${subject}"]`, 'borderLeftColor')).toBe(RED);
      }
      // Newest first: zone c's failures came after zone b's override.
      const transitions = page.locator('#transitions tbody tr');
      await expect.poll(() => transitions.count()).toBe(2);
      expect(await transitions.nth(0).textContent()).toMatch(/sim\/zone-c\s*closed → open\s*failure rate reached \(100% of 5\)vmpool$/);
      expect(await transitions.nth(1).textContent()).toMatch(/sim\/zone-b\s*closed → open\s*manual forced-open: AWS incident 1234alice$/);
      expect(await page.locator('#all-clear').count()).toBe(0);
      await expectLooksLike(page, 'zones-open');

      // A zone whose machines hang, rather than die, says so: its failures were slow boots.
      for (let i = 0; i < 5; i++) await system.app.breaker.record('sim/zone-a', 'slow', { probe: false, now: Date.now() });
      const bySlowBoots = page.locator('.alert[data-subject="sim/zone-a"]');
      await bySlowBoots.waitFor();
      expect(await bySlowBoots.textContent()).toMatch(/^zone sim\/zone-a open: failure rate reached, all slow boots \(100% of 5 recent outcomes\); until \d{4}-/);
    } finally {
      await closePage(page);
    }
  });

  it('keeps only the last ten breaker transitions', async () => {
    system = await startSystem(onePool({ warm: 1, max: 1 }), ['web']);
    for (let i = 0; i < 6; i++) {
      await override(system.app.url!, 'sim/zone-a', { mode: 'open', reason: `drill ${i}`, by: 'bob' });
      await override(system.app.url!, 'sim/zone-a', { mode: 'closed', reason: `drill ${i} over`, by: 'bob' });
    }
    const page = await newPage();
    try {
      await page.goto(system.app.url!);
      await page.locator('#transitions', { hasText: 'drill 5 over' }).waitFor();
      expect(await page.locator('#transitions tbody tr').count()).toBe(10);
      expect(await page.locator('#transitions').textContent()).not.toContain('drill 0');
    } finally {
      await closePage(page);
    }
  });

  it('writes times as ISO 8601 UTC with the local time beside them, never AM/PM', async () => {
    system = await startSystem(onePool({ warm: 1, max: 1 }), ['web']);
    await override(system.app.url!, 'sim/zone-b', { mode: 'open', reason: 'maintenance', for: '30m', by: 'alice' });
    const page = await newPage();
    try {
      await page.goto(system.app.url!);
      await page.locator('.alert[data-subject="sim/zone-b"] time').waitFor();
      await page.locator('#updated time').waitFor();
      const times = await page.locator('time').allTextContents();
      expect(times.length).toBeGreaterThanOrEqual(4); // updated, the alert, the zone's until and open until, the transition
      for (const text of times) expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z \(\d{2}:\d{2}:\d{2} local\)$/);
      // New York is 4 or 5 hours behind UTC: the local time beside is the reader's own.
      const [, utcHour, localHour] = /T(\d{2}):\d{2}:\d{2}Z \((\d{2}):/.exec(times[0]!)!;
      expect([4, 5]).toContain((Number(utcHour) - Number(localHour) + 24) % 24);
      expect(await page.locator('body').textContent()).not.toMatch(/\b[AP]M\b/);
    } finally {
      await closePage(page);
    }
  });

  it('draws each pool\'s ready machines and lease wait p95 over the last hour from the status samples', async () => {
    system = await startSystem(onePool({ warm: 2, max: 3 }), ['web']);
    await fixedHistory(system);
    const page = await newPage();
    try {
      await page.goto(system.app.url!);
      const chart = page.locator('[data-chart="small"]');
      await chart.locator('svg').waitFor();
      expect(await chart.locator('.legend').textContent()).toContain('ready 2');
      expect(await chart.locator('.legend').textContent()).toContain('lease wait p95 10 ms');
      const ready = await chart.locator('path.line.ready').getAttribute('d');
      const wait = await chart.locator('path.line.wait').getAttribute('d');
      expect(ready?.match(/[ML]/g)).toHaveLength(12);
      expect(wait?.match(/[ML]/g)).toHaveLength(11); // the first sample had no lease: a gap, not a zero
      expect(await page.locator('svg').count()).toBe(1);
    } finally {
      await closePage(page);
    }
  });

  it('says so when vmpool stops answering: the banner replaces the alerts, never a stale "No alerts", and the last figures stay', async () => {
    system = await startSystem(onePool({ warm: 1, max: 1 }), ['web']);
    await fixedHistory(system);
    const page = await newPage();
    try {
      await page.goto(system.app.url!);
      await page.locator('#all-clear').waitFor();
      await system.close();
      system = undefined;
      const offline = page.locator('#offline');
      await waitFor(() => offline.isVisible(), { what: 'the offline banner' });
      // The first refresh may meet the server closing (503); from then on nothing answers.
      await waitFor(async () => (await offline.textContent())?.includes('Failed to fetch'), { what: 'a refresh that found nobody' });
      expect(await offline.textContent()).toMatch(/^Cannot reach vmpool \(.*\); alerts unknown; the figures below are from \d{4}-/);
      expect(await style(page, '#offline', 'backgroundColor')).toBe(RED);
      expect(await page.locator('#alerts').isVisible()).toBe(false);
      expect(await page.getByText('No alerts').isVisible()).toBe(false);
      expect(await page.locator('[data-pool="small"]').count()).toBe(1);
      await expectLooksLike(page, 'disconnected');
    } finally {
      await closePage(page);
    }
  });
});
