// Jobs and Run against the real Salt lab (connected by 02-settings): test.ping on * from the Run
// page with every accepted minion returning live; state.apply with the failing state of the
// failing minion in job detail; test.sleep 30 killed from job detail; the jobs poller indexing
// it all; a viewer without Run; a role allowed only execute:salt:test.* runs test.ping, not cmd.run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, newPage, hydrated, shot, login } from './browser.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const ACCEPTED = ['broken-01', 'db-01', 'web-01', 'web-02'];

async function signIn(user, pw) {
  const { context, page } = await newPage(browser);
  await login(page, user, pw);
  await page.waitForURL(`${BASE}/`);
  return { context, page };
}

async function runCommand(page, { target, fun, args = [], targetType }) {
  await page.goto(`${BASE}/run`);
  await hydrated(page);
  await page.fill('[data-test=run-target]', target);
  if (targetType) await page.selectOption('[data-test=run-target-type]', targetType);
  await page.fill('[data-test=run-fun]', fun);
  for (const a of args) {
    await page.click('[data-test=add-arg]');
    await page.locator('[data-test=run-arg]').last().fill(a);
  }
  await page.click('[data-test=run-submit]');
  await page.waitForSelector('[data-test=progress-jid]', { timeout: 30000 });
  return (await page.locator('[data-test=progress-jid]').textContent()).trim();
}

test('the jobs poller is switched on in Settings', async () => {
  const { context, page } = await signIn('admin2', 'admin2-password-1');
  await page.goto(`${BASE}/settings`);
  await hydrated(page);
  await page.fill('[data-test=settings-pollers] input[name=jobs_poll_interval_seconds]', '5');
  await page.click('[data-test=settings-pollers] button[type=submit]');
  await page.waitForSelector('[data-test=settings-pollers] >> text=Saved', { timeout: 20000 });
  await context.close();
});

test('Run: preview, then test.ping on * with every accepted minion returning live', async () => {
  const { context, page } = await signIn('admin2', 'admin2-password-1');
  await page.goto(`${BASE}/run`);
  await hydrated(page);
  await page.fill('[data-test=run-target]', 'web-*');
  await page.fill('[data-test=run-fun]', 'test.ping');
  await page.click('[data-test=preview]');
  await page.waitForSelector('[data-test=preview-result]');
  assert.match(await page.locator('[data-test=preview-result] h2').textContent(), /2 minions match/);
  // Validation is clear and loses nothing.
  await page.fill('[data-test=run-fun]', 'ping');
  await page.click('[data-test=run-submit]');
  await page.waitForSelector('.field-error');
  assert.match(await page.locator('.field-error').first().textContent(), /module\.function/);
  assert.equal(await page.inputValue('[data-test=run-target]'), 'web-*');

  const jid = await runCommand(page, { target: '*', fun: 'test.ping' });
  assert.match(jid, /^\d{20}$/);
  await page.waitForSelector('[data-test=progress-done]', { timeout: 60000 });
  assert.equal((await page.locator('[data-test=progress-count]').textContent()).trim(), '4 of 4 returned');
  for (const id of ACCEPTED) {
    assert.equal(await page.locator(`[data-test=progress-table] tr[data-minion="${id}"]`).getAttribute('data-state'), 'ok');
  }
  await shot(page, 'run-progress');
  // Job detail: every minion returned true.
  await page.click('[data-test=progress-jid]');
  await page.waitForURL(`${BASE}/jobs/${jid}`);
  await hydrated(page);
  await page.waitForSelector('[data-test=results-table]');
  assert.equal(await page.locator('[data-test=results-table] tbody tr').count(), 4);
  assert.equal(await page.locator('[data-test=results-table] [data-test=minion-state]:has-text("Succeeded")').count(), 4);
  await page.click('[data-test=raw-tab]');
  assert.match(await page.locator('[data-test=raw-json]').textContent(), /"Function": "test.ping"/);
  // The poller indexes it and the Jobs page lists it.
  let listed = false;
  for (let i = 0; i < 30 && !listed; i++) {
    await page.goto(`${BASE}/jobs`);
    await hydrated(page);
    listed = (await page.locator(`[data-test=jobs-table] tr[data-jid="${jid}"]`).count()) === 1;
    if (!listed) await page.waitForTimeout(1000);
  }
  assert.ok(listed, 'the jobs poller indexed the job');
  assert.equal(await page.locator('[data-test=jobs-table] td:has-text("runner.")').count(), 0, 'system jobs hidden');
  await shot(page, 'jobs');
  await page.click('[data-test=toggle-system]');
  await page.waitForURL(/system=true/);
  await page.waitForSelector('[data-test=jobs-table] td:has-text("runner.")');
  await page.goto(`${BASE}/jobs?live=true`);
  await hydrated(page);
  await page.waitForSelector('[data-test=live-notice]');
  assert.equal(await page.locator(`[data-test=jobs-table] tr[data-jid="${jid}"]`).count(), 1);
  await page.goto(`${BASE}/timeline?window=1h`);
  await hydrated(page);
  assert.match(await page.content(), /test\.ping/);
  await shot(page, 'timeline');
  // The deliberate validation error above is a 422 the browser logs; nothing else may fail.
  assert.deepEqual(page.errors.filter((e) => !/status of 422/.test(e)), []);
  await context.close();
});

test('state.apply: the failing state of the failing minion shows in job detail', async () => {
  const { context, page } = await signIn('admin2', 'admin2-password-1');
  const jid = await runCommand(page, { target: '*', fun: 'state.apply' });
  await page.waitForSelector('[data-test=progress-done]', { timeout: 90000 });
  assert.equal(await page.locator('[data-test=progress-table] tr[data-minion="broken-01"]').getAttribute('data-state'), 'failed');
  await page.goto(`${BASE}/jobs/${jid}`);
  await hydrated(page);
  const broken = page.locator('[data-test=state-runs] details[data-minion="broken-01"]');
  await broken.waitFor();
  assert.equal(await broken.getAttribute('open'), '', 'failing minion expanded');
  assert.ok((await broken.locator('tr[data-result=fail]').count()) >= 1);
  assert.equal(await page.locator('[data-test=state-runs] details').first().getAttribute('data-minion'), 'broken-01');
  assert.equal(await page.locator('[data-test=state-runs] details[data-minion="web-01"]').getAttribute('open'), null);
  await shot(page, 'job-highstate');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('test.sleep 30 is killed from job detail', async () => {
  const { context, page } = await signIn('admin2', 'admin2-password-1');
  const jid = await runCommand(page, { target: 'web-01', targetType: 'list', fun: 'test.sleep', args: ['30'] });
  const started = Date.now();
  let killable = false;
  for (let i = 0; i < 20 && !killable; i++) {
    await page.goto(`${BASE}/jobs/${jid}`);
    await hydrated(page);
    killable = (await page.locator('[data-test=kill-job]').count()) === 1;
    if (!killable) await page.waitForTimeout(500);
  }
  assert.ok(killable, 'kill button shown while the job runs');
  await page.click('[data-test=kill-job]');
  await page.waitForSelector('[data-test=confirm-dialog]');
  assert.match(await page.locator('[data-test=confirm-dialog]').textContent(), new RegExp(jid));
  await page.click('[data-test=confirm-dialog] [data-test=confirm]');
  await page.waitForSelector('[data-test=kill-result]', { timeout: 30000 });
  let stopped = false;
  for (let i = 0; i < 20 && !stopped; i++) {
    await page.goto(`${BASE}/jobs/${jid}`);
    await hydrated(page);
    stopped = (await page.locator('[data-test=job-status]').textContent()).includes('Complete');
    if (!stopped) await page.waitForTimeout(500);
  }
  assert.ok(stopped && Date.now() - started < 28000, 'the job stopped before its 30 s were up');
  assert.equal(await page.locator('[data-test=kill-job]').count(), 0, 'no kill button once complete');
  await context.close();
});

test('a viewer cannot see Run; a test.* role runs test.ping but not cmd.run', async () => {
  const v = await signIn('viewer1', 'viewer-password-1');
  assert.equal(await v.page.locator('nav a[href="/run"]').count(), 0);
  await v.page.goto(`${BASE}/run`);
  await hydrated(v.page);
  await v.page.waitForSelector('.state-error');
  assert.equal(await v.page.locator('[data-test=run-form]').count(), 0);
  const status = await v.page.evaluate(async () => (await fetch('/api/run/dispatch', {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'target=*&fun=test.ping' })).status);
  assert.equal(status, 403);
  await v.context.close();

  const t = await signIn('tester', 'tester-password-1');
  assert.equal(await t.page.locator('nav a[href="/run"]').count(), 1);
  // A role limited to some minions is told its target is resolved to those minions first.
  await t.page.goto(`${BASE}/run`);
  await hydrated(t.page);
  await t.page.waitForSelector('[data-test=run-scope-note]');
  await shot(t.page, 'run-scoped');
  await runCommand(t.page, { target: 'web-01', targetType: 'list', fun: 'test.ping' });
  await t.page.waitForSelector('[data-test=progress-done]', { timeout: 60000 });
  assert.equal(await t.page.locator('[data-test=progress-table] tr[data-minion="web-01"]').getAttribute('data-state'), 'ok');
  await t.page.goto(`${BASE}/run`);
  await hydrated(t.page);
  await t.page.fill('[data-test=run-target]', 'web-01');
  await t.page.fill('[data-test=run-fun]', 'cmd.run');
  await t.page.click('[data-test=add-arg]');
  await t.page.locator('[data-test=run-arg]').last().fill('id');
  await t.page.click('[data-test=run-submit]');
  await t.page.waitForSelector('[data-test=run-error]');
  assert.match(await t.page.locator('[data-test=run-error]').textContent(), /permission/i);
  assert.equal(await t.page.locator('[data-test=progress]').count(), 0);
  await t.context.close();
});
