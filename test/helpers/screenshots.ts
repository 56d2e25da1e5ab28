import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';

/** Reference screenshots, committed; `UPDATE_SCREENSHOTS=1` rewrites them (look at them before committing). */
export const SCREENSHOT_DIR = join(import.meta.dirname, '..', 'integration', 'dashboard-screenshots');

// Runs in a blank page: both PNGs decoded by the browser itself (no PNG library here), compared pixel by pixel.
// A pixel differs when its channels differ by more than 48 in total (anti-aliasing of text stays below).
const DIFFERING_SHARE = `async ([actual, expected]) => {
  const load = async (b64) => { const img = new Image(); img.src = 'data:image/png;base64,' + b64; await img.decode(); return img; };
  const [a, b] = await Promise.all([load(actual), load(expected)]);
  if (a.width !== b.width || a.height !== b.height) return { share: 1, why: a.width + 'x' + a.height + ' against ' + b.width + 'x' + b.height };
  const pixels = (img) => { const c = document.createElement('canvas'); c.width = img.width; c.height = img.height; const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0); return ctx.getImageData(0, 0, img.width, img.height).data; };
  const pa = pixels(a), pb = pixels(b);
  let differing = 0;
  for (let i = 0; i < pa.length; i += 4) if (Math.abs(pa[i] - pb[i]) + Math.abs(pa[i + 1] - pb[i + 1]) + Math.abs(pa[i + 2] - pb[i + 2]) > 48) differing++;
  return { share: differing / (pa.length / 4), why: differing + ' pixels differ' };
}`;

/**
 * Compares a screenshot with its committed reference: the share of pixels
 * that differ (0 to 1). Writes the actual one beside the system temp folder's
 * copy for a human to look at when it differs.
 */
export async function screenshotDifference(browser: Browser, name: string, actual: Buffer): Promise<{ share: number; why: string; actualPath: string }> {
  const referencePath = join(SCREENSHOT_DIR, `${name}.png`);
  const actualDir = join(tmpdir(), 'vmpool-dashboard-screenshots');
  mkdirSync(actualDir, { recursive: true });
  const actualPath = join(actualDir, `${name}.png`);
  writeFileSync(actualPath, actual);
  if (process.env.UPDATE_SCREENSHOTS === '1' || !existsSync(referencePath)) {
    if (process.env.UPDATE_SCREENSHOTS !== '1') throw new Error(`no reference screenshot ${referencePath}: run with UPDATE_SCREENSHOTS=1, look at it, commit it`);
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    writeFileSync(referencePath, actual);
  }
  const page = await browser.newPage();
  try {
    const result = await page.evaluate<{ share: number; why: string }>(`(${DIFFERING_SHARE})(${JSON.stringify([actual.toString('base64'), readFileSync(referencePath).toString('base64')])})`);
    return { ...result, actualPath };
  } finally {
    await page.close();
  }
}
