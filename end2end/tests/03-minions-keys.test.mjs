// Minions and keys against the real Salt lab (connected by 02-settings): every lab minion shows
// up with the right status, the detail shows real grains, accepting a pending key in the UI
// accepts it on the real master, and a viewer can neither see nor call key actions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { BASE, launch, newPage, hydrated, shot, login } from './browser.mjs';

const LAB = 'end2end/salt-lab/lab.sh';
const saltKeys = () => execFileSync(LAB, ['salt-key', '-L', '--out=json'], { encoding: 'utf8' });

let browser;
before(async () => { browser = await launch(); });
after(async () => {
  await browser?.close();
  execFileSync(LAB, ['reset-keys'], { stdio: 'ignore' });
});

async function waitForRows(page, url, selector, count, seconds = 60) {
  for (let i = 0; i < seconds; i++) {
    await page.goto(url);
    await hydrated(page);
    if ((await page.locator(selector).count()) >= count) return;
    await page.waitForTimeout(1000);
  }
  assert.fail(`${selector} never reached ${count} rows at ${url}`);
}

test('every lab minion appears with its status within one poll cycle; search and filters work', async () => {
  const { context, page } = await newPage(browser);
  await login(page, 'admin2', 'admin2-password-1');
  await page.waitForURL(`${BASE}/`);
  // Keys poll first, then presence marks the accepted minions online.
  await waitForRows(page, `${BASE}/minions`, '[data-test=minions-table] tbody tr .status-online', 4);
  for (const id of ['web-01', 'web-02', 'db-01', 'broken-01']) {
    assert.match(await page.locator(`tr[data-minion="${id}"]`).textContent(), /Online/);
  }
  assert.match(await page.locator('tr[data-minion="new-01"]').textContent(), /Pending/);
  await shot(page, 'minions');
  // Search is server-side and lands in the URL.
  await page.fill('[data-test=minion-search]', 'web');
  await page.press('[data-test=minion-search]', 'Enter');
  await page.waitForURL(/q=web/);
  await page.waitForFunction(() => document.querySelectorAll('[data-test=minions-table] tbody tr').length === 2);
  // The export links carry the search (never the page), and the file holds what the table shows.
  await page.waitForSelector('[data-test=minions-export-csv][href*="q=web"]');
  assert.match(await page.locator('[data-test=minions-export]').textContent(), /Export the 2 matching minions/);
  const href = await page.getAttribute('[data-test=minions-export-csv]', 'href');
  assert.equal(href, '/api/minions/export.csv?q=web');
  const csv = await page.request.get(`${BASE}${href}`);
  assert.equal(csv.status(), 200);
  assert.match(csv.headers()['content-disposition'], /^attachment; filename="halite-minions-\d{8}T\d{6}Z\.csv"$/);
  const lines = (await csv.text()).trim().split('\n');
  assert.equal(lines[0], 'minion_id,status,ip,os,salt_version,cpus,mem_mb,virtual,stale');
  assert.deepEqual(lines.slice(1).map((l) => l.split(',')[0]), ['web-01', 'web-02']);
  const nd = await page.request.get(`${BASE}${await page.getAttribute('[data-test=minions-export-ndjson]', 'href')}`);
  assert.deepEqual((await nd.text()).trim().split('\n').map((l) => JSON.parse(l).id), ['web-01', 'web-02']);
  await shot(page, 'minions-export');
  // Status chip.
  await page.goto(`${BASE}/minions?status=pending`);
  await hydrated(page);
  assert.equal(await page.locator('[data-test=minions-table] tbody tr').count(), 1);
  // Detail with real grains, filterable.
  // Grains arrive with the grains poller (a few seconds after presence).
  await waitForRows(page, `${BASE}/minions/web-01`, '[data-test=grains] .tree-key:has-text("saltversion")', 1);
  await page.fill('[data-test=grain-filter]', 'halite_lab');
  await page.waitForFunction(() => document.querySelectorAll('[data-test=grains] .tree-leaf').length === 1);
  await shot(page, 'minion-detail');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('accepting a pending key in the UI accepts it on the real master', async () => {
  assert.ok(JSON.parse(saltKeys()).minions_pre.includes('new-01'), 'lab starts with new-01 pending');
  const { context, page } = await newPage(browser);
  await login(page, 'admin2', 'admin2-password-1');
  await page.waitForURL(`${BASE}/`);
  await page.goto(`${BASE}/keys`);
  await hydrated(page);
  await page.waitForSelector('[data-test=pending-badge]');
  const row = page.locator('[data-test=keys-pending] li[data-key="new-01"]');
  await row.locator('[data-test=fingerprint]').click();
  await row.locator('.key-fp:has-text(":")').waitFor();
  await row.locator('[data-test=accept]').click();
  const dialog = page.locator('[data-test=confirm-dialog]');
  assert.match(await dialog.textContent(), /Accept the key of new-01\?/);
  await shot(page, 'keys-confirm');
  await dialog.locator('[data-test=confirm]').click();
  await page.waitForSelector('[data-test=key-result]:has-text("new-01 accepted")');
  await page.waitForSelector('[data-test=keys-accepted] li[data-key="new-01"]');
  assert.ok(JSON.parse(saltKeys()).minions.includes('new-01'), 'salt-key -L lists new-01 as accepted');
  const audit = await page.evaluate(async () => (await fetch('/api/keys/pending-count', { method: 'POST' })).text());
  assert.equal(audit, '0');
  await context.close();
});

test('a viewer sees no key actions and a direct call is refused', async () => {
  const { context, page } = await newPage(browser);
  await login(page, 'viewer1', 'viewer-password-1');
  await page.waitForURL(`${BASE}/`);
  await page.goto(`${BASE}/keys`);
  await hydrated(page);
  await page.waitForSelector('[data-test=keys-accepted]');
  assert.equal(await page.locator('[data-test=accept], [data-test=reject], [data-test=delete]').count(), 0);
  const res = await page.evaluate(async () => {
    const r = await fetch('/api/keys/action', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=delete&ids=web-01' });
    return { status: r.status, body: await r.text() };
  });
  assert.equal(res.status, 403);
  assert.match(res.body, /permission/);
  assert.ok(JSON.parse(saltKeys()).minions.includes('web-01'), 'nothing changed on the master');
  await context.close();
});
