// Foundation flows in real Chromium: forced password change, RBAC in the sidebar and on the
// server, logout ending the session, error states, theme toggle, phone layout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, newPage, hydrated, shot, login } from './browser.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const NEW_ADMIN_PW = 'e2e-admin-password-42';

test('sign-in page renders and rejects a wrong password with a clear message', async () => {
  const { context, page } = await newPage(browser);
  await page.goto(`${BASE}/`);
  assert.equal(new URL(page.url()).pathname, '/login', 'anonymous visitors land on /login');
  await hydrated(page);
  await shot(page, 'login');
  await login(page, 'admin', 'not-the-password');
  const err = await page.waitForSelector('[data-test=login-error]');
  assert.equal((await err.textContent()).trim(), 'Invalid username or password.');
  assert.equal(new URL(page.url()).pathname, '/login');
  await context.close();
});

test('bootstrap admin: login -> forced password change -> overview', async () => {
  const { context, page } = await newPage(browser);
  await login(page, 'admin', 'changeme');
  await page.waitForURL('**/change-password');
  await hydrated(page);
  await page.waitForSelector('[data-test=forced-notice]');
  assert.equal(await page.locator('.sidebar').count(), 0, 'no sidebar before the change');
  // Other pages send us back here.
  await page.goto(`${BASE}/settings`);
  assert.equal(new URL(page.url()).pathname, '/change-password');
  await hydrated(page);
  // A too-short password gets a field error, nothing is lost.
  await page.fill('input[name=current_password]', 'changeme');
  await page.fill('input[name=new_password]', NEW_ADMIN_PW);
  await page.fill('input[name=confirm_password]', 'different-password');
  await page.click('button[type=submit]');
  await page.waitForSelector('.field-error');
  assert.match(await page.locator('.field-error').first().textContent(), /do not match/);
  await shot(page, 'change-password-error');
  page.errors.length = 0; // the 422 above was the point of the step
  await page.fill('input[name=confirm_password]', NEW_ADMIN_PW);
  await page.click('button[type=submit]');
  await page.waitForURL(`${BASE}/`);
  await hydrated(page);
  await page.waitForSelector('h1:has-text("Overview")');
  await page.waitForSelector('[data-test=connect-prompt]');
  await page.waitForSelector('[data-test=salt-banner]');
  assert.equal(await page.locator('a[data-nav="/settings"]').count(), 1, 'admin sees Settings');
  await shot(page, 'overview-admin');
  // The settings page loads for an admin.
  await page.click('a[data-nav="/settings"]');
  await page.waitForSelector('[data-test=settings-salt]');
  await shot(page, 'settings');
  // Diagnostics before Salt is configured: that check fails with the fix, the Salt checks
  // after it are skipped, the database passes.
  await page.click('a[data-nav="/diagnostics"]');
  await page.waitForSelector('[data-check="salt.configured"][data-verdict=fail]');
  assert.match(await page.locator('[data-check="salt.configured"] pre').innerText(), /Settings → Salt API/);
  assert.equal(await page.locator('[data-check="salt_api.login"][data-verdict=skip]').count(), 1);
  assert.equal(await page.locator('[data-check="database"][data-verdict=pass]').count(), 1);
  await shot(page, 'diagnostics-unconfigured');
  assert.deepEqual(page.errors, [], 'no console errors');
  await context.close();
});

test('viewer: no Settings in the sidebar, and the settings server function answers 403', async () => {
  const { context, page } = await newPage(browser);
  await login(page, 'viewer1', 'viewer-password-1');
  await page.waitForURL(`${BASE}/`);
  await hydrated(page);
  await page.waitForSelector('a[data-nav="/minions"]');
  assert.equal(await page.locator('a[data-nav="/settings"]').count(), 0);
  assert.equal(await page.locator('a[data-nav="/audit"]').count(), 0, 'viewer has no audit:*');
  assert.equal(await page.locator('[data-test=connect-prompt]').count(), 0, 'no setup prompt for viewers');
  const res = await page.evaluate(async () => {
    const r = await fetch('/api/settings/get', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    return { status: r.status, body: await r.text() };
  });
  assert.equal(res.status, 403);
  assert.match(res.body, /permission/);
  // Visiting the page directly shows a clear "not allowed" panel.
  await page.goto(`${BASE}/settings`);
  await page.waitForSelector('.state-error');
  await shot(page, 'settings-viewer-denied');
  await context.close();
});

test('logout ends the session: the old cookie is refused afterwards', async () => {
  const { context, page } = await newPage(browser);
  await login(page, 'admin', NEW_ADMIN_PW);
  await page.waitForURL(`${BASE}/`);
  await hydrated(page);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'halite_session');
  assert.ok(session, 'session cookie set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');
  await page.click('[data-test=user-menu]');
  await page.click('[data-test=logout]');
  await page.waitForURL('**/login');
  // Replay the old cookie in a fresh context.
  const { context: c2, page: p2 } = await newPage(browser);
  await c2.addCookies([{ ...session }]);
  await p2.goto(`${BASE}/about`);
  assert.equal(new URL(p2.url()).pathname, '/login');
  const me = await p2.evaluate(async () => (await fetch('/api/auth/me', { method: 'POST' })).text());
  assert.equal(me, 'null');
  await c2.close();
  await context.close();
});

test('theme toggle persists per user, and the layout works on a phone', async () => {
  const { context, page } = await newPage(browser, { viewport: { width: 390, height: 844 } });
  await login(page, 'viewer1', 'viewer-password-1');
  await page.waitForURL(`${BASE}/`);
  await hydrated(page);
  assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
  await page.click('[data-test=theme-toggle]');
  await page.waitForFunction(() => document.documentElement.dataset.theme === 'light');
  await page.waitForTimeout(300);
  await page.reload();
  await hydrated(page);
  assert.equal(await page.getAttribute('html', 'data-theme'), 'light', 'remembered after reload');
  // The sidebar is off-canvas on a phone and opens from the menu button.
  const box = await page.locator('.sidebar').boundingBox();
  assert.ok(box.x + box.width <= 1, 'sidebar hidden off-canvas');
  await page.click('.nav-toggle-button');
  await page.waitForTimeout(300);
  const open = await page.locator('.sidebar').boundingBox();
  assert.ok(open.x >= 0, 'sidebar slides in');
  await shot(page, 'phone-light-nav');
  await page.click('[data-test=theme-toggle]', { force: true }).catch(() => {});
  await context.close();
});

test('about page and security headers', async () => {
  const { context, page } = await newPage(browser);
  await login(page, 'viewer1', 'viewer-password-1');
  await page.waitForURL(`${BASE}/`);
  const resp = await page.goto(`${BASE}/about`);
  const h = resp.headers();
  assert.match(h['content-security-policy'], /script-src 'self' 'nonce-/);
  assert.equal(h['x-frame-options'], 'DENY');
  await hydrated(page);
  await page.waitForSelector('text=NaCl');
  assert.deepEqual(page.errors, [], 'no CSP violations or console errors');
  await shot(page, 'about');
  // The bundle's names carry a content hash: cached for good, precompressed.
  const assets = await page.evaluate(() => [...document.querySelectorAll('link[href^="/pkg/"]')].map((l) => l.getAttribute('href')));
  for (const ext of ['js', 'wasm', 'css']) {
    const href = assets.find((a) => a.endsWith(`.${ext}`));
    assert.match(href ?? '', new RegExp(`^/pkg/halite\\.[A-Za-z0-9_-]+\\.${ext}$`), `hashed ${ext} in ${assets}`);
    const r = await page.request.get(`${BASE}${href}`, { headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(r.status(), 200, href);
    assert.equal(r.headers()['cache-control'], 'public, max-age=31536000, immutable', href);
  }
  const plain = await page.request.get(`${BASE}/favicon.svg`);
  assert.notEqual(plain.headers()['cache-control'] ?? '', 'public, max-age=31536000, immutable');
  await context.close();
});
