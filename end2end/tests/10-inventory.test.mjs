// Package inventory against the real Salt lab (connected by 02-settings): an admin refreshes
// every minion from /inventory and follows the progress to the summary; the search finds bash
// older than 99 on every accepted minion; the drift page shows that version on the four of them
// and lists them; the minion page has a Packages section; the viewer (view:inventory:* but not
// collect:inventory:*) sees the inventory but no Refresh panel, and a direct refresh is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, newPage, hydrated, shot, login } from './browser.mjs';

const ACCEPTED = ['broken-01', 'db-01', 'web-01', 'web-02'];

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function signIn(user, password) {
  const s = await newPage(browser);
  await login(s.page, user, password);
  await s.page.waitForURL(`${BASE}/`);
  await hydrated(s.page);
  return s;
}

/** The bash version the search found (shared by the tests below). */
let bashVersion;

test('an admin refreshes the inventory and follows it to the summary', async () => {
  const { page: a, context } = await signIn('admin2', 'admin2-password-1');
  await a.goto(`${BASE}/inventory`);
  await hydrated(a);
  await a.waitForSelector('[data-test=inventory-status]');
  const panel = a.locator('[data-test=inventory-refresh]');
  await panel.waitFor();
  if (await a.locator('[data-test=inventory-empty]').count()) await shot(a, 'inventory-empty');
  assert.equal(await a.inputValue('[data-test=inventory-refresh-target]'), '*');
  const types = await a.locator('[data-test=inventory-refresh-type] option').evaluateAll((o) => o.map((x) => x.value));
  assert.deepEqual(types, ['glob', 'list', 'pcre', 'grain', 'nodegroup', 'compound']);

  // A target that matches nothing is refused next to the field.
  await a.fill('[data-test=inventory-refresh-target]', 'no-such-minion-*');
  await a.click('[data-test=inventory-refresh-submit]');
  const err = await a.waitForSelector('[data-test=inventory-refresh] [data-test=field-error]', { timeout: 60000 });
  assert.match(await err.textContent(), /No accepted minion/);
  a.errors.length = 0; // the browser logs the 422 it was meant to get

  await a.fill('[data-test=inventory-refresh-target]', '*');
  const summary = a.locator('[data-test=inventory-refresh-summary]');
  // The inventory poller (on by default) may be collecting at this moment: a refresh is then
  // refused with 409 "already running", and the operator tries again.
  for (let attempt = 1; ; attempt++) {
    await a.click('[data-test=inventory-refresh-submit]');
    // The progress shows while it runs (the button is disabled meanwhile).
    await a.waitForSelector('[data-test=inventory-refresh-progress]', { state: 'attached' });
    await a.screenshot({ path: `${process.env.HALITE_ARTIFACTS ?? '/tmp'}/inventory-progress.png` }).catch(() => {});
    await a.waitForSelector('[data-test=inventory-refresh-summary], [data-test=inventory-refresh-error]', { timeout: 180000 });
    if (await summary.count()) break;
    const msg = await a.textContent('[data-test=inventory-refresh-error]');
    assert.ok(attempt < 30 && /already running/.test(msg), msg);
    a.errors.length = 0;
    await a.locator('[data-test=inventory-refresh-submit]:not([disabled])').waitFor();
    await a.waitForTimeout(1000); // back off: the other collection takes a second or two on the lab
  }
  assert.equal(await summary.getAttribute('data-refreshed'), '4', await summary.textContent());
  assert.match(await summary.textContent(), /Refreshed 4 minions of 4/);
  // The table was fetched again: bash is there, on the four minions.
  const bash = a.locator('[data-test=inventory-row][data-package=bash]');
  if ((await bash.count()) === 0) {
    await a.fill('[data-test=inventory-q]', 'bash');
    await a.press('[data-test=inventory-q]', 'Enter');
    await a.waitForURL(/q=bash/);
  }
  await bash.waitFor();
  assert.equal(await bash.locator('td.num').first().textContent(), '4');
  assert.equal(await a.textContent('[data-test=inventory-minions]'), '4');
  // The per-minion counts are folded away.
  assert.equal(await a.locator('.inv-counts[open]').count(), 0);
  await a.locator('[data-test=inventory-refresh-submit]').waitFor();
  await shot(a, 'inventory');

  // Search: a source chip and a sort header keep the URL state.
  await a.goto(`${BASE}/inventory?q=bash&source=apt&sort=minions&dir=desc`);
  await hydrated(a);
  await a.waitForSelector('[data-test=inventory-row][data-package=bash]');
  assert.equal(await a.locator('.chip-active').textContent(), 'apt');
  // The packages export keeps the query and holds the rows the table shows.
  assert.equal(await a.getAttribute('[data-test=inventory-export-csv]', 'href'),
    '/api/inventory/export.csv?q=bash&source=apt&sort=minions&dir=desc');
  const csv = await a.evaluate(async () => (await fetch('/api/inventory/export.csv?q=bash&source=apt')).text());
  const lines = csv.trim().split('\n');
  assert.equal(lines[0], 'name,minions,versions,sources');
  assert.ok(lines.some((l) => l.startsWith('bash,4,')), csv);
  await shot(a, 'inventory-export');
  assert.deepEqual(a.errors, []);
  await context.close();
});

test('search: bash older than 99 is on every accepted minion; export keeps the query', async () => {
  const { page: a, context } = await signIn('admin2', 'admin2-password-1');
  await a.goto(`${BASE}/inventory/search`);
  await hydrated(a);
  await a.waitForSelector('[data-test=search-intro]');
  await a.fill('[data-test=search-name]', 'bash');
  await a.selectOption('[data-test=search-version-op]', 'lt');
  await a.fill('[data-test=search-version]', '99');
  await a.click('[data-test=search-submit]');
  await a.waitForURL(/\/inventory\/search\?name=bash&version=99&version_op=lt/);
  await a.waitForSelector('[data-test=search-hit]');
  const hits = await a.locator('[data-test=search-hit]').evaluateAll((rows) => rows.map((r) => ({
    minion: r.getAttribute('data-minion'), name: r.getAttribute('data-package'), version: r.getAttribute('data-version'),
  })));
  assert.deepEqual(hits.map((h) => h.minion).sort(), ACCEPTED);
  assert.ok(hits.every((h) => h.name === 'bash'), JSON.stringify(hits));
  bashVersion = hits[0].version;
  assert.ok(hits.every((h) => h.version === bashVersion), 'the lab minions share the host, so one version');
  assert.match(await a.textContent('[data-test=search-total]'), /^4 hits/);
  assert.equal(await a.getAttribute('[data-test=search-export-csv]', 'href'),
    '/api/inventory/search.csv?name=bash&version=99&version_op=lt');
  const csv = await a.evaluate(async () => (await fetch('/api/inventory/search.csv?name=bash&version=99&version_op=lt')).text());
  assert.match(csv.split('\n')[0], /^minion_id,name,version,arch,source,collected_at/);
  assert.equal(csv.trim().split('\n').length, 5, csv);
  await shot(a, 'inventory-search');

  // Greater than 99: nothing, with the designed no-match panel.
  await a.goto(`${BASE}/inventory/search?name=bash&version=99&version_op=gt`);
  await hydrated(a);
  await a.waitForSelector('[data-test=search-no-match]');

  // A comparison without a version: the server's message under the version field.
  await a.goto(`${BASE}/inventory/search?name=bash&version_op=lt`);
  await hydrated(a);
  const err = await a.waitForSelector('[data-test=field-error][data-field=version]');
  assert.match(await err.textContent(), /Enter the version/);
  assert.deepEqual(a.errors, []);
  await context.close();
});

test('drift: /inventory/bash shows the version on four minions and lists them', async () => {
  assert.ok(bashVersion, 'the search test found the bash version');
  const { page: a, context } = await signIn('admin2', 'admin2-password-1');
  await a.goto(`${BASE}/inventory/bash`);
  await hydrated(a);
  const row = a.locator(`[data-test=drift-row][data-version="${bashVersion}"]`);
  await row.waitFor();
  assert.equal(await row.locator('[data-test=drift-count]').textContent(), '4');
  assert.equal(await row.locator('[data-test=drift-newest]').count(), 1);
  const older = await row.locator('[data-test=drift-older]').getAttribute('href');
  assert.ok(older.startsWith('/inventory/search?name=bash&version=') && older.includes('version_op=lt'), older);

  await row.locator('[data-test=drift-version]').click();
  await a.waitForURL(/\/inventory\/bash\?version=\d+/);
  await a.waitForSelector('[data-test=drift-minion]');
  const minions = await a.locator('[data-test=drift-minion]').evaluateAll((r) => r.map((x) => x.getAttribute('data-minion')));
  assert.deepEqual(minions.sort(), ACCEPTED);
  assert.equal(await a.locator('[data-test=drift-minion] a').first().getAttribute('href'), '/minions/broken-01');
  assert.equal(await row.getAttribute('aria-selected'), 'true');
  await shot(a, 'inventory-drift');

  // An unknown package: the designed "no minion has it" state.
  await a.goto(`${BASE}/inventory/no-such-package-xyz`);
  await hydrated(a);
  const nf = await a.waitForSelector('[data-test=drift-not-found]');
  assert.match(await nf.textContent(), /No minion has package no-such-package-xyz/);

  // The minion page's Packages section, filtered by name.
  await a.goto(`${BASE}/minions/web-01`);
  await hydrated(a);
  await a.waitForSelector('[data-test=tab-packages] [data-test=minion-package]');
  await a.fill('[data-test=minion-packages-filter]', 'bash');
  await a.press('[data-test=minion-packages-filter]', 'Enter');
  await a.waitForURL(/\/minions\/web-01\?pkg=bash/);
  await a.waitForSelector('[data-test=minion-package][data-package=bash]');
  await shot(a, 'minion-packages');
  const names = await a.locator('[data-test=minion-package]').evaluateAll((r) => r.map((x) => x.getAttribute('data-package')));
  assert.ok(names.every((n) => n.includes('bash')), names.join(','));
  assert.deepEqual(a.errors, []);
  await context.close();
});

test('the viewer sees the inventory but cannot refresh it', async () => {
  const { page: v, context } = await signIn('viewer1', 'viewer-password-1');
  await v.goto(`${BASE}/inventory`);
  await hydrated(v);
  await v.waitForSelector('[data-test=inventory-status]');
  await v.waitForSelector('[data-test=inventory-table]');
  assert.equal(await v.locator('[data-test=inventory-refresh]').count(), 0);
  await v.goto(`${BASE}/minions/db-01`);
  await hydrated(v);
  await v.waitForSelector('[data-test=tab-packages]');
  assert.deepEqual(v.errors, []);
  const status = await v.evaluate(async () => (await fetch('/api/inventory/refresh', {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'target=*&target_type=glob',
  })).status);
  assert.equal(status, 403);
  await context.close();

  // A user without view:inventory:* gets no Packages section on a minion page.
  const { page: t, context: c2 } = await signIn('tester', 'tester-password-1');
  await t.goto(`${BASE}/minions/web-01`);
  await hydrated(t);
  await t.waitForSelector('[data-test=minion-facts]');
  assert.equal(await t.locator('[data-test=tab-packages]').count(), 0);
  await c2.close();
});
