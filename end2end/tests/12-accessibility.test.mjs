// axe-core (npm `axe-core`) on every page, in the dark and the light theme, against the real lab
// data: no serious or critical violation. Also: tables have headers, the heatmap's tiles carry
// text, and status is never colour alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BASE, launch, newPage, hydrated, login } from './browser.mjs';

const AXE = readFileSync('node_modules/axe-core/axe.min.js', 'utf8');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** The serious and critical violations axe finds on the page as it is now. */
async function audit(page) {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
}

async function checkPages(page, paths, found) {
  for (const path of paths) {
    await page.goto(`${BASE}${path}`);
    await hydrated(page);
    // Let the page's data arrive (loading panels say aria-busy).
    await page.waitForFunction(() => !document.querySelector('[aria-busy=true]'), null, { timeout: 15000 }).catch(() => {});
    for (const theme of ['dark', 'light']) {
      await page.evaluate((t) => { document.documentElement.dataset.theme = t; }, theme);
      for (const v of await audit(page)) found.push({ path, theme, ...v });
    }
  }
}

test('axe finds no serious or critical violation on any page, dark or light', async () => {
  const found = [];
  const anon = await newPage(browser);
  await checkPages(anon.page, ['/login'], found);
  await anon.context.close();

  const { context, page } = await newPage(browser);
  await login(page, 'admin2', 'admin2-password-1');
  await page.waitForURL(`${BASE}/`);
  await hydrated(page);
  // A real job and user to open.
  await page.goto(`${BASE}/jobs`);
  await hydrated(page);
  const jid = await page.locator('[data-test=jobs-table] tbody tr').first().getAttribute('data-jid').catch(() => null);
  const paths = [
    '/', '/activity', '/minions', '/minions/web-01', '/keys', '/jobs', '/timeline', '/run',
    '/templates', '/inventory', '/inventory/search?name=bash', '/fleet', '/users', '/roles',
    '/audit', '/settings', '/diagnostics', '/about', '/change-password',
  ];
  if (jid) paths.push(`/jobs/${jid}`);
  await checkPages(page, paths, found);
  // The palette and the shortcut help are dialogs too.
  await page.goto(`${BASE}/minions`);
  await hydrated(page);
  await page.keyboard.press('Control+k');
  await page.waitForSelector('[data-test=palette]');
  for (const v of await audit(page)) found.push({ path: 'palette', ...v });
  await page.keyboard.press('Escape');
  await page.keyboard.press('?');
  await page.waitForSelector('[data-test=shortcut-help]');
  for (const v of await audit(page)) found.push({ path: 'shortcut help', ...v });
  await context.close();
  assert.deepEqual(found, [], JSON.stringify(found, null, 1));
});

test('status is text as well as colour: heatmap tiles, badges and tables', async () => {
  const { context, page } = await newPage(browser);
  await login(page, 'admin2', 'admin2-password-1');
  await page.waitForURL(`${BASE}/`);
  await hydrated(page);
  // Every heatmap tile names its minion and status for a screen reader.
  const tiles = await page.locator('[data-test=heatmap] [data-minion]').evaluateAll((l) =>
    l.map((t) => t.getAttribute('aria-label') || t.getAttribute('title') || t.textContent.trim()));
  assert.ok(tiles.length >= 4, `${tiles.length} tiles`);
  assert.ok(tiles.every((t) => /\S+ .*(online|offline|pending|unknown|rejected|denied)/i.test(t)), JSON.stringify(tiles));
  // Every table has a header row with text.
  for (const path of ['/minions', '/jobs', '/keys', '/users', '/audit']) {
    await page.goto(`${BASE}${path}`);
    await hydrated(page);
    const bad = await page.evaluate(() => [...document.querySelectorAll('#content table')]
      .filter((t) => ![...t.querySelectorAll('thead th')].some((th) => th.textContent.trim())).length);
    assert.equal(bad, 0, `${path}: a table without header cells`);
  }
  await context.close();
});
