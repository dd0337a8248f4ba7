// Working from the keyboard against the real lab (connected by 02-settings): the shortcuts
// (g m, /, j / k, Enter, ?), the command palette (pages, the server's minion suggestions, RBAC,
// actions), and the two common flows done without the mouse: accepting a pending key and
// running a command.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { BASE, launch, newPage, hydrated, shot, login } from './browser.mjs';

const LAB = 'end2end/salt-lab/lab.sh';

let browser;
before(async () => { browser = await launch(); });
after(async () => {
  await browser?.close();
  execFileSync(LAB, ['reset-keys'], { stdio: 'ignore' });
});

/** Wait until the focused element is `want` (dialogs take the focus on the next frame). */
async function focusIs(page, want) {
  await page.waitForFunction((w) => {
    const a = document.activeElement;
    return a && `${a.tagName}${a.dataset.test ? `[${a.dataset.test}]` : ''}${a.dataset.minion ? `#${a.dataset.minion}` : ''}` === w;
  }, want, { timeout: 5000 }).catch(async () => assert.equal(await focused(page), want));
}

const focused = (page) => page.evaluate(() => {
  const a = document.activeElement;
  return a ? `${a.tagName}${a.dataset.test ? `[${a.dataset.test}]` : ''}${a.dataset.minion ? `#${a.dataset.minion}` : ''}` : '';
});

/** Ctrl-K, and wait until the palette's field has the focus (it takes it on the next frame). */
async function openPalette(page) {
  await page.keyboard.press('Control+k');
  await page.waitForSelector('[data-test=palette]');
  await page.waitForFunction(() => document.activeElement?.dataset?.test === 'palette-input');
}

/** The palette's list, once it shows exactly `want` (the server's hits arrive as you type). */
async function paletteShows(page, want) {
  await page.waitForFunction((w) => JSON.stringify([...document.querySelectorAll('[data-test=palette-item]')]
    .map((e) => e.dataset.href)) === JSON.stringify(w), want).catch(async () => {
    const got = await page.locator('[data-test=palette-item]').evaluateAll((l) => l.map((e) => e.dataset.href));
    assert.deepEqual(got, want);
  });
}

async function signedIn(user, password) {
  const { context, page } = await newPage(browser);
  await login(page, user, password);
  await page.waitForURL(`${BASE}/`);
  await hydrated(page);
  return { context, page };
}

test('shortcuts go to pages, focus the search, walk the rows and open one; never while typing', async () => {
  const { context, page } = await signedIn('admin2', 'admin2-password-1');
  // The header says how fresh the page's data is (the keys poller feeds Keys).
  await page.keyboard.press('g');
  await page.keyboard.press('k');
  await page.waitForURL(`${BASE}/keys`);
  await page.waitForSelector('[data-test=freshness]');
  assert.match(await page.locator('[data-test=freshness]').textContent(), /^Updated \d+ (s|min) ago$/);
  assert.equal(await page.getAttribute('[data-test=freshness]', 'data-stale'), 'false');
  assert.match(await page.getAttribute('[data-test=freshness]', 'title'), /keys poller, every/);
  await page.keyboard.press('g');
  await page.keyboard.press('m');
  await page.waitForURL(`${BASE}/minions`);
  await page.waitForSelector('[data-test=minions-table] tbody tr');
  // `/` focuses the page's search; letters typed there stay text.
  await page.keyboard.press('/');
  assert.equal(await focused(page), 'INPUT[minion-search]');
  await page.keyboard.type('gk');
  assert.equal(await page.inputValue('[data-test=minion-search]'), 'gk');
  assert.equal(page.url(), `${BASE}/minions`);
  await page.fill('[data-test=minion-search]', '');
  await page.keyboard.press('Escape');
  await page.evaluate(() => document.activeElement?.blur());
  // j / k move a visible cursor through the rows; Enter opens the row.
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  await page.keyboard.press('k');
  const first = await page.locator('[data-test=minions-table] tbody tr').first().getAttribute('data-minion');
  assert.equal(await focused(page), `TR#${first}`);
  await shot(page, 'keyboard-row-cursor');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${BASE}/minions/${first}`);
  // ? lists the shortcuts in a dialog that holds the focus and gives it back.
  await page.keyboard.press('?');
  await page.waitForSelector('[data-test=shortcut-help]');
  await focusIs(page, 'BUTTON[shortcut-close]');
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'BUTTON[shortcut-close]', 'Tab stays in the dialog');
  assert.match(await page.locator('[data-test=shortcut-help]').textContent(), /Minions.*Keys.*Jobs/s);
  await shot(page, 'keyboard-help');
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-test=shortcut-help]', { state: 'detached' });
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('the palette finds pages and minions from the server, within the caller\'s grants', async () => {
  const { context, page } = await signedIn('admin2', 'admin2-password-1');
  await openPalette(page);
  await page.keyboard.type('web-0');
  await paletteShows(page, ['/minions/web-01', '/minions/web-02']);
  await shot(page, 'palette');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${BASE}/minions/web-02`);
  await page.waitForSelector('[data-test=palette]', { state: 'detached' });
  // A page by name.
  await openPalette(page);
  await page.keyboard.type('jobs');
  await page.waitForSelector('[data-test=palette-item][data-href="/jobs"]');
  await page.keyboard.press('Enter');
  await page.waitForURL(`${BASE}/jobs`);
  await context.close();

  // The tester may view only web-* minions and may not accept keys or see Users.
  const t = await signedIn('tester', 'tester-password-1');
  await openPalette(t.page);
  // The server's answer for "db" (not the empty list shown while it is asked).
  const answer = t.page.waitForResponse((r) => r.url().endsWith('/api/palette/search'));
  await t.page.keyboard.type('db');
  const hits = await (await answer).json();
  assert.deepEqual(hits, { minions: [], jobs: [] });
  await t.page.waitForSelector('[data-test=palette-list] .palette-empty');
  await t.page.fill('[data-test=palette-input]', 'accept key new-01');
  await t.page.waitForSelector('[data-test=palette-list] .palette-empty');
  await t.page.fill('[data-test=palette-input]', 'users');
  await t.page.waitForSelector('[data-test=palette-list] .palette-empty');
  await t.page.fill('[data-test=palette-input]', 'w');
  await t.page.waitForSelector('[data-test=palette-item][data-href="/minions/web-01"]');
  const theirs = await t.page.locator('[data-test=palette-item]').evaluateAll((l) => l.map((e) => e.dataset.href));
  assert.ok(theirs.every((h) => !h.startsWith('/minions/') || h.startsWith('/minions/web-')), JSON.stringify(theirs));
  await t.context.close();
});

test('accepting a pending key without the mouse', async () => {
  execFileSync(LAB, ['reset-keys'], { stdio: 'ignore' });
  const { context, page } = await signedIn('admin2', 'admin2-password-1');
  // Halite learns of the pending key on its next keys poll.
  for (let i = 0; ; i++) {
    await openPalette(page);
    await page.keyboard.type('accept key new-01');
    await page.waitForSelector('[data-test=palette-item][data-href="/keys?q=new-01&accept=new-01"]');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/keys\?q=new-01/);
    await hydrated(page);
    if (await page.locator('[data-test=confirm-dialog]').waitFor({ timeout: 3000 }).then(() => true, () => false)) break;
    assert.ok(i < 30, 'the accept dialog never opened');
    await page.goto(`${BASE}/`);
    await hydrated(page);
  }
  assert.match(await page.locator('[data-test=confirm-dialog]').textContent(), /Accept the key of new-01\?/);
  await focusIs(page, 'BUTTON[confirm]');
  // The URL drops `accept` (a reload does not ask again).
  await page.waitForURL(`${BASE}/keys?q=new-01`);
  await shot(page, 'keyboard-accept');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-test=key-result]');
  assert.match(await page.locator('[data-test=key-result]').textContent(), /new-01/);
  const keys = JSON.parse(execFileSync(LAB, ['salt-key', '-L', '--out=json'], { encoding: 'utf8' }));
  assert.ok(keys.minions.includes('new-01'), JSON.stringify(keys));
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('running a command without the mouse', async () => {
  const { context, page } = await signedIn('admin2', 'admin2-password-1');
  await openPalette(page);
  await page.keyboard.type('run test.ping on web-*');
  await page.waitForSelector('[data-test=palette-item][data-href="/run?fun=test.ping&target=web-%2A"]');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/run\?fun=test\.ping/);
  await hydrated(page);
  await page.waitForFunction(() => document.activeElement?.dataset?.test === 'run-target');
  assert.equal(await page.inputValue('[data-test=run-target]'), 'web-*');
  await page.keyboard.press('Enter');
  // Both web minions return, shown as they come.
  await page.waitForSelector('[data-test=progress-done]', { timeout: 60000 });
  assert.equal((await page.locator('[data-test=progress-count]').textContent()).trim(), '2 of 2 returned');
  for (const id of ['web-01', 'web-02']) {
    assert.equal(await page.locator(`[data-test=progress-table] tr[data-minion="${id}"]`).getAttribute('data-state'), 'ok');
  }
  await shot(page, 'keyboard-run');
  assert.deepEqual(page.errors, []);
  await context.close();
});
