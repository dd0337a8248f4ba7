// Settings against the real Salt lab: test the connection (right and wrong password), save,
// and watch the runtime reconnect and the banner clear, in real Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, newPage, hydrated, shot, login } from './browser.mjs';

const SALT = {
  url: process.env.SALT_API_URL,
  user: process.env.SALT_API_USER,
  password: process.env.SALT_API_PASSWORD,
  eauth: process.env.SALT_API_EAUTH,
};

let browser;
before(async () => {
  assert.ok(SALT.url, 'SALT_API_URL is set: run through `make test`, which starts the Salt lab');
  browser = await launch();
});
after(async () => { await browser?.close(); });

test('configure Salt in the Settings page: test connection, save, banner clears', async () => {
  const { context, page } = await newPage(browser);
  await login(page, 'admin2', 'admin2-password-1');
  await page.waitForURL(`${BASE}/`);
  await hydrated(page);
  await page.waitForSelector('[data-test=salt-banner]');
  await page.goto(`${BASE}/settings`);
  await hydrated(page);
  await page.waitForSelector('[data-test=salt-form]');
  await page.fill('[data-test=salt-form] input[name=url]', SALT.url);
  await page.fill('[data-test=salt-form] input[name=username]', SALT.user);
  await page.selectOption('[data-test=salt-form] select[name=eauth]', SALT.eauth);
  await page.uncheck('[data-test=salt-form] input[name=verify]');

  // A wrong password is reported clearly, nothing saved.
  await page.fill('[data-test=salt-form] input[name=password]', 'wrong-password');
  await page.click('[data-test=test-connection]');
  const bad = await page.waitForSelector('[data-test=test-result].bad');
  assert.match(await bad.textContent(), /refused the username or password/);

  // The right one: OK with the lab's four connected minions.
  await page.fill('[data-test=salt-form] input[name=password]', SALT.password);
  await page.click('[data-test=test-connection]');
  const ok = await page.waitForSelector('[data-test=test-result].ok');
  assert.match(await ok.textContent(), /4 minions connected/);
  await shot(page, 'settings-test-ok');

  // Save: the runtime reloads; the status card says Connected.
  await page.click('[data-test=salt-form] button[type=submit]');
  await page.waitForSelector('[data-test=salt-form] [data-test=saved]');
  await page.waitForSelector('[data-test=connection-state]:has-text("Connected")');
  const pw = await page.inputValue('[data-test=salt-form] input[name=password]');
  assert.ok(pw === '' || pw === SALT.password, 'password field is not filled from the server');
  assert.equal(await page.getAttribute('[data-test=salt-form] input[name=password]', 'placeholder'), '(set) leave empty to keep');
  await page.waitForSelector('[data-test=salt-banner]', { state: 'detached' });
  await shot(page, 'settings-connected');

  // The banner is gone on every page.
  await page.goto(`${BASE}/`);
  await hydrated(page);
  await page.waitForSelector('h1:has-text("Overview")');
  assert.equal(await page.locator('[data-test=salt-banner]').count(), 0);
  assert.equal(await page.locator('[data-test=connect-prompt]').count(), 0);

  // A bad value gets a field error and keeps the form.
  await page.goto(`${BASE}/settings`);
  await hydrated(page);
  await page.fill('[data-test=salt-form] input[name=url]', 'ftp://salt.example');
  await page.click('[data-test=salt-form] button[type=submit]');
  const err = await page.waitForSelector('[data-test=salt-form] [data-test=field-error]');
  assert.match(await err.textContent(), /http:\/\/ or https:\/\//);
  assert.equal(await page.inputValue('[data-test=salt-form] input[name=url]'), 'ftp://salt.example');
  await context.close();
});

test('diagnostics against the connected lab: the Salt checks pass; run again; copy the report', async () => {
  const { context, page } = await newPage(browser);
  await login(page, 'admin2', 'admin2-password-1');
  await page.waitForURL(`${BASE}/`);
  await page.goto(`${BASE}/diagnostics`);
  await hydrated(page);
  await page.waitForSelector('[data-test=diag-list]');
  for (const id of ['salt.configured', 'salt_api.reachable', 'salt_api.login', 'salt.version',
    'netapi.clients', 'eauth.rights', 'salt_api.events', 'database']) {
    const verdict = await page.getAttribute(`[data-check="${id}"]`, 'data-verdict');
    assert.equal(verdict, 'pass', `${id}: ${await page.locator(`[data-check="${id}"]`).innerText()}`);
  }
  assert.match(await page.locator('[data-check="netapi.clients"]').innerText(),
    /enabled: local, local_async, local_batch, runner, wheel/);
  assert.match(await page.locator('[data-check="salt.version"]').innerText(), /salt-master 300\d/);
  await shot(page, 'diagnostics');
  // Run again: the button says so while the checks run, and the report comes back.
  const before = await page.locator('[data-test=diag-summary] time').getAttribute('datetime');
  await page.click('[data-test=diag-rerun]');
  await page.waitForFunction((b) => {
    const t = document.querySelector('[data-test=diag-summary] time');
    return t && t.getAttribute('datetime') !== b;
  }, before, { timeout: 30000 });
  await page.waitForSelector('[data-test=diag-rerun]:has-text("Run again")');
  await page.click('[data-test=diag-copy]');
  await page.waitForSelector('[data-test=diag-copy]:has-text("Copied")');
  assert.deepEqual(page.errors, [], 'no console errors');
  await context.close();
});
