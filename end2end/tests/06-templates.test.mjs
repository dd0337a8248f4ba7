// Command templates in real Chromium: a template saved through the server function shows up on
// /templates, its owner shares it, another user sees it read-only ("by admin2", Run but no
// Share/Delete, and the server refuses with 404), and the owner deletes it through the dialog.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, newPage, hydrated, shot, login } from './browser.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const STAMP = Date.now();
const SHARED = `E2E restart nginx ${STAMP}`;
const PRIVATE = `E2E private ${STAMP}`;

/** POST a server function from the page (same origin, the page's session cookie). */
async function call(page, endpoint, fields) {
  return page.evaluate(async ({ endpoint, fields }) => {
    const res = await fetch(`/api/${endpoint}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: res.status, body: await res.text() };
  }, { endpoint, fields });
}

async function signIn(username, password) {
  const { context, page } = await newPage(browser);
  await login(page, username, password);
  await page.waitForURL(`${BASE}/`);
  return { context, page };
}

test('owner creates, shares and deletes a template; another user sees it read-only', async () => {
  const owner = await signIn('admin2', 'admin2-password-1');
  const created = await call(owner.page, 'templates/create', {
    name: SHARED,
    description: 'Restart the web server on every web node',
    target: 'web-*',
    target_type: 'glob',
    fun: 'service.restart',
    args_json: JSON.stringify(['nginx']),
    kwargs_json: JSON.stringify({ no_block: 'True' }),
  });
  assert.equal(created.status, 200, created.body);
  const tpl = JSON.parse(created.body);
  assert.equal(tpl.is_shared, false);
  const priv = await call(owner.page, 'templates/create', {
    name: PRIVATE, target: 'db-01', target_type: 'list', fun: 'test.ping',
  });
  assert.equal(priv.status, 200, priv.body);
  const privId = JSON.parse(priv.body).id;

  // The owner's view: private, with Run, Share and Delete.
  await owner.page.goto(`${BASE}/templates`);
  await hydrated(owner.page);
  await owner.page.waitForSelector('h1:has-text("Templates")');
  const row = owner.page.locator(`[data-test=templates-table] tr[data-id="${tpl.id}"]`);
  await row.waitFor();
  const text = await row.textContent();
  assert.match(text, /Restart the web server/);
  assert.match(text, /web-\*/);
  assert.match(text, /service\.restart/);
  assert.match(text, /nginx no_block=True/);
  assert.match(text, /Private/);
  assert.equal(await row.locator('[data-test=run]').getAttribute('href'), `/run?template=${tpl.id}`);
  assert.equal(await row.locator('[data-test=delete]').count(), 1);
  assert.equal(await owner.page.locator('[data-test=new-command]').getAttribute('href'), '/run');
  await shot(owner.page, 'templates');

  // Share it from the table.
  await row.locator('[data-test=share]').click();
  await owner.page.waitForSelector('[data-test=template-result]:has-text("is now shared")');
  await row.locator('[data-test=unshare]').waitFor();
  assert.match(await row.textContent(), /Shared/);

  // Another user: the shared one, read-only and attributed; never the private one.
  const viewer = await signIn('viewer1', 'viewer-password-1');
  await viewer.page.goto(`${BASE}/templates`);
  await hydrated(viewer.page);
  const theirs = viewer.page.locator(`[data-test=templates-table] tr[data-id="${tpl.id}"]`);
  await theirs.waitFor();
  assert.equal((await theirs.locator('[data-test=owner]').textContent()).trim(), 'by admin2');
  assert.equal(await theirs.locator('[data-test=run]').count(), 1);
  assert.equal(await theirs.locator('[data-test=delete], [data-test=share], [data-test=unshare]').count(), 0);
  assert.equal(await viewer.page.locator(`tr[data-id="${privId}"]`).count(), 0, 'private template hidden');
  await shot(viewer.page, 'templates-viewer');
  // The server agrees: not found, not forbidden.
  const del = await call(viewer.page, 'templates/delete', { id: tpl.id });
  assert.equal(del.status, 404, del.body);
  const get = await call(viewer.page, 'templates/get', { id: privId });
  assert.equal(get.status, 404, get.body);
  viewer.page.errors = viewer.page.errors.filter((e) => !/404/.test(e)); // the refusals above were the point
  assert.deepEqual(viewer.page.errors, []);
  await viewer.context.close();

  // The owner deletes through the confirmation dialog.
  await row.locator('[data-test=delete]').click();
  const dialog = owner.page.locator('[data-test=confirm-dialog]');
  await dialog.waitFor();
  assert.match(await dialog.textContent(), new RegExp(`Delete the template “${SHARED}”\\?`));
  assert.match(await dialog.textContent(), /shared/);
  await shot(owner.page, 'templates-delete-confirm');
  // Cancel leaves it alone.
  await dialog.locator('button:has-text("Cancel")').click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await row.count(), 1);
  await row.locator('[data-test=delete]').click();
  await dialog.locator('[data-test=confirm]').click();
  await owner.page.waitForSelector(`[data-test=template-result]:has-text("Deleted “${SHARED}”")`);
  await row.waitFor({ state: 'detached' });
  const gone = await call(owner.page, 'templates/get', { id: tpl.id });
  assert.equal(gone.status, 404, gone.body);
  owner.page.errors = owner.page.errors.filter((e) => !/404/.test(e));

  // Clean up the private one so later runs start from the same state.
  const cleanup = await call(owner.page, 'templates/delete', { id: privId });
  assert.equal(cleanup.status, 200, cleanup.body);
  assert.deepEqual(owner.page.errors, []);
  await owner.context.close();
});

test('templates page has a designed empty state', async () => {
  // viewer1 owns no templates; once the shared one above is gone nothing is visible to them,
  // unless another suite shared one: then the table is the right answer and the check is moot.
  const { context, page } = await signIn('viewer1', 'viewer-password-1');
  await page.goto(`${BASE}/templates`);
  await hydrated(page);
  await page.waitForSelector('[data-test=templates-empty], [data-test=templates-table]');
  if (await page.locator('[data-test=templates-empty]').count()) {
    assert.match(await page.locator('[data-test=templates-empty]').textContent(), /No templates yet\. Save one from the Run page\./);
    await shot(page, 'templates-empty');
  }
  assert.deepEqual(page.errors, []);
  await context.close();
});
