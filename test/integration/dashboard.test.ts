import { execFileSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { onePool, startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

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

describe('the dashboard at /', () => {
  it('shows each pool by state and zone, each zone’s breaker, and an alert for a zone an operator opened, updating as things change', async () => {
    system = await startSystem(onePool({ warm: 2, max: 3 }));
    const page = await browser.newPage();
    try {
      const response = await page.goto(system.app.url!);
      expect(response?.status()).toBe(200);
      expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
      const pool = page.locator('[data-pool="small"]');
      await pool.getByText('pool small: 2/2 ready').waitFor();
      await expect.poll(() => page.locator('#zones tbody tr').count()).toBe(3);
      expect(await page.locator('#all-clear').textContent()).toContain('No alerts');

      // An operator opens zone b, with a reason that tries to inject markup: it must show as text.
      const put = await fetch(`${system.app.url!}/v1/zones/sim%2Fzone-b/breaker`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ mode: 'open', reason: '<img src=x onerror=alert(1)> maintenance', for: '10m', by: 'alice' }),
      });
      expect(put.status).toBe(200);
      const zoneB = page.locator('[data-zone="sim/zone-b"]');
      await zoneB.locator('.pill.open').waitFor();
      expect(await zoneB.textContent()).toMatch(/forced-open by alice until .*: <img src=x onerror=alert\(1\)> maintenance/);
      const alert = page.locator('.alert', { hasText: 'zone sim/zone-b is open' });
      await alert.waitFor();
      expect(await page.locator('img').count()).toBe(0);

      // A lease shows up as it happens.
      const lease = await fetch(`${system.app.url!}/v1/pools/small/leases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"wait":"10s"}' });
      expect(lease.status).toBe(200);
      await pool.locator('h3', { hasText: /, 1 leased$/ }).waitFor();
    } finally {
      await page.close();
    }
  });

  it('says so when vmpool stops answering, and keeps the last figures', async () => {
    system = await startSystem(onePool({ warm: 1, max: 1 }), ['web']);
    const page = await browser.newPage();
    try {
      await page.goto(system.app.url!);
      await page.locator('[data-pool="small"]').waitFor();
      await system.close();
      system = undefined;
      const offline = page.locator('#offline');
      await waitFor(() => offline.isVisible(), { what: 'the offline banner' });
      expect(await offline.textContent()).toContain('Cannot reach vmpool');
      expect(await page.locator('[data-pool="small"]').count()).toBe(1);
    } finally {
      await page.close();
    }
  });
});
