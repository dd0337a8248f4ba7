// Activity and the live event stream against the real Salt lab (connected by 02-settings): an
// admin turns the stream on; a second browser sees a key accept and a test.ping appear on its
// Activity page and its Keys page without reloading; a role without view:key never sees key
// events, neither on the page nor on the raw stream; turning the stream off is explained.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { BASE, ART, launch, newPage, hydrated, shot, login } from './browser.mjs';

const LAB = 'end2end/salt-lab/lab.sh';
const saltKeys = () => JSON.parse(execFileSync(LAB, ['salt-key', '-L', '--out=json'], { encoding: 'utf8' }));

let browser;
before(async () => {
  execFileSync(LAB, ['reset-keys'], { stdio: 'ignore' });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  execFileSync(LAB, ['reset-keys'], { stdio: 'ignore' });
});

async function signIn(user, password) {
  const s = await newPage(browser);
  await login(s.page, user, password);
  await s.page.waitForURL(`${BASE}/`);
  await hydrated(s.page);
  return s;
}

/** A second tab in the same context, with the same error collection as newPage. */
async function newTab(context) {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  return page;
}

/** The activity list as the server fn returns it (same session as the page). */
async function listActivity(page, body = '') {
  return page.evaluate(async (b) => {
    const r = await fetch('/api/activity/list', {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: b,
    });
    return { status: r.status, json: await r.json().catch(() => null) };
  }, body);
}

async function setStream(page, on) {
  await page.goto(`${BASE}/settings`);
  await hydrated(page);
  const form = page.locator('[data-test=settings-pollers]');
  const box = form.locator('input[name=event_stream_enabled]');
  if (on) await box.check(); else await box.uncheck();
  await form.locator('button[type=submit]').click();
  await form.locator('[data-test=saved]').waitFor();
}

async function dispatchPing(page, target = 'web-01') {
  const r = await page.evaluate(async (t) => {
    const res = await fetch('/api/run/dispatch', {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `target=${t}&target_type=list&fun=test.ping`,
    });
    return { status: res.status, json: await res.json().catch(() => null) };
  }, target);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.match(r.json.jid, /^\d{20}$/);
  return r.json.jid;
}

test('with the stream on, a second browser sees a key accept and a test.ping live on Activity and Keys', async () => {
  assert.ok(saltKeys().minions_pre.includes('new-01'), 'the lab starts with new-01 pending');
  const a = await signIn('admin2', 'admin2-password-1');
  await setStream(a.page, true);
  // The consumer connects to salt-api /events within a few seconds.
  let state = '';
  for (let i = 0; i < 60 && state !== 'connected'; i++) {
    const r = await listActivity(a.page, 'per_page=1');
    state = r.json?.stream_state;
    if (state !== 'connected') await a.page.waitForTimeout(500);
  }
  assert.equal(state, 'connected', 'the event stream consumer connected');

  // B: the same admin in another browser context, on Activity and (another tab) Keys.
  const b = await signIn('admin2', 'admin2-password-1');
  const act = b.page;
  await act.goto(`${BASE}/activity`);
  await hydrated(act);
  await act.waitForSelector('.main[data-live-stream=on]');
  await act.waitForSelector('[data-test=live-status][data-state=live]');
  const keys = await newTab(b.context);
  await keys.goto(`${BASE}/keys`);
  await hydrated(keys);
  const keysLoadedAt = Date.now();
  await keys.waitForSelector('[data-test=keys-pending] li[data-key="new-01"]');
  await keys.waitForSelector('.main[data-live-stream=on]');
  // Anything that reloads a page would drop these.
  await act.evaluate(() => { window.__noReload = true; });
  await keys.evaluate(() => { window.__noReload = true; });

  // A accepts new-01 in the UI.
  await a.page.goto(`${BASE}/keys`);
  await hydrated(a.page);
  const row = a.page.locator('[data-test=keys-pending] li[data-key="new-01"]');
  await row.locator('[data-test=accept]').click();
  const dialog = a.page.locator('[data-test=confirm-dialog]');
  await dialog.locator('[data-test=confirm]').click();
  await a.page.waitForSelector('[data-test=key-result]:has-text("new-01 accepted")');

  // B's Activity shows the key.accept row, B's Keys shows new-01 accepted: no reload, and
  // sooner than the Keys page's 30 s auto-refresh.
  await act.waitForSelector('[data-test=activity-table] tr[data-event-type="key.accept"]:has-text("new-01")', { timeout: 15000 });
  await keys.waitForSelector('[data-test=keys-accepted] li[data-key="new-01"]', { timeout: 15000 });
  assert.ok(Date.now() - keysLoadedAt < 29000, `Keys updated live (${Date.now() - keysLoadedAt} ms after load)`);
  assert.equal(await keys.locator('[data-test=keys-pending] li[data-key="new-01"]').count(), 0);
  assert.equal(await keys.evaluate(() => window.__noReload), true, 'the Keys page was not reloaded');

  // A runs test.ping on web-01: the dispatch and the return appear on B's Activity.
  const jid = await dispatchPing(a.page);
  const newRow = act.locator(`[data-test=activity-table] tr[data-event-type="job.new"]:has(a[href="/jobs/${jid}"])`);
  const retRow = act.locator(`[data-test=activity-table] tr[data-event-type="job.ret"]:has(a[href="/jobs/${jid}"])`);
  await newRow.waitFor({ timeout: 20000 });
  await retRow.waitFor({ timeout: 20000 });
  assert.equal(await retRow.getAttribute('data-outcome'), 'ok');
  assert.match(await retRow.textContent(), /web-01/);
  assert.match(await retRow.locator('[data-test=event-badge]').textContent(), /OK/);
  assert.match(await newRow.textContent(), /test\.ping/);
  assert.equal(await act.evaluate(() => window.__noReload), true, 'the Activity page was not reloaded');
  await shot(act, 'activity');

  // Filters land in the URL: hide dispatch drops job.new rows; the Keys chip shows key rows only.
  await act.check('[data-test=hide-dispatch]');
  await act.waitForURL(/hide_dispatch=true/);
  await retRow.waitFor();
  await act.waitForFunction(() => !document.querySelector('[data-test=activity-table] tr[data-event-type="job.new"]'));
  await act.click('a.chip[data-category=key]');
  await act.waitForURL(/category=key/);
  await act.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-test=activity-table] tbody tr')];
    return rows.length > 0 && rows.every((r) => r.dataset.category === 'key');
  });

  // Paused: new events wait behind an "N new events" pill; a click shows them.
  await act.goto(`${BASE}/activity?hide_dispatch=true&live=off`);
  await hydrated(act);
  await act.waitForSelector('.main[data-live-stream=on]');
  await act.waitForSelector('[data-test=live-status][data-state=paused]');
  const jid2 = await dispatchPing(a.page);
  // Wait until the return is stored (the shared lab may bring other events first).
  let stored = 0;
  for (let i = 0; i < 40 && !stored; i++) {
    stored = (await listActivity(a.page, `event_type=job.ret&q=${jid2}`)).json?.total ?? 0;
    if (!stored) await a.page.waitForTimeout(500);
  }
  assert.ok(stored, 'the return of the second ping was stored');
  const pill = act.locator('[data-test=new-events]');
  await pill.waitFor({ timeout: 20000 });
  assert.match(await pill.textContent(), /new event/);
  assert.equal(await act.locator(`tr:has(a[href="/jobs/${jid2}"])`).count(), 0, 'paused: not shown yet');
  await act.waitForTimeout(1000); // the stream's next flush has counted it
  await shot(act, 'activity-paused');
  await pill.click();
  const ret2 = act.locator(`[data-test=activity-table] tr[data-event-type="job.ret"]:has(a[href="/jobs/${jid2}"])`);
  await ret2.waitFor({ timeout: 10000 });

  // A row opens the drawer with the raw Salt event; Escape closes it. (Paused, so no live
  // refetch moves the rows under the click.)
  await ret2.locator('td').first().click();
  const drawer = act.locator('[data-test=event-drawer]');
  await drawer.waitFor();
  await drawer.locator('[data-test=raw-event]').waitFor();
  const raw = await drawer.locator('[data-test=raw-event]').textContent();
  assert.match(raw, new RegExp(`salt/job/${jid2}/ret/web-01`));
  // The drawer is fixed to the viewport: a viewport screenshot, not a full-page one.
  await act.screenshot({ path: path.join(ART, 'activity-drawer.png'), animations: 'disabled' });
  await act.keyboard.press('Escape');
  await drawer.waitFor({ state: 'detached' });


  // The Overview widget, once mounted there: heartbeat and the newest events.
  await act.goto(`${BASE}/`);
  await hydrated(act);
  if (await act.locator('[data-test=activity-widget]').count()) {
    assert.match(await act.locator('[data-test=heartbeat]').textContent(), /\d+ events? · last \d+ min/);
    await act.locator('[data-test=widget-events] li').first().waitFor();
    await shot(act, 'overview-activity-widget');
  }

  for (const p of [a.page, act, keys]) assert.deepEqual(p.errors, [], `console errors on ${p.url()}`);
  await b.context.close();
  await a.context.close();
});

test('a role without view:key sees no key events on the page or on the stream', async () => {
  const t = await signIn('tester', 'tester-password-1');
  await t.page.goto(`${BASE}/activity`);
  await hydrated(t.page);
  await t.page.waitForSelector('[data-test=activity-table] tr[data-event-type="job.ret"]');
  await t.page.waitForSelector('.main[data-live-stream=on]');
  assert.equal(await t.page.locator('[data-test=activity-table] tr[data-category=key]').count(), 0);
  assert.equal(await t.page.locator('a.chip[data-category=key]').count(), 0, 'no Keys chip');
  assert.equal(await t.page.locator('a.chip[data-category=job]').count(), 1);
  // Asking the server for key events directly gives none.
  const r = await listActivity(t.page, 'category=key');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.rows, []);
  // The raw stream (ring replay + live) carries job events but never a key event.
  const seen = await t.page.evaluate(() => new Promise((resolve) => {
    const got = [];
    const es = new EventSource('/api/activity/stream');
    es.onmessage = (e) => got.push(JSON.parse(e.data));
    setTimeout(() => { es.close(); resolve(got.map((e) => e.category)); }, 4000);
  }));
  assert.ok(seen.includes('job'), `job events on the stream: ${JSON.stringify(seen.slice(0, 10))}`);
  assert.ok(!seen.includes('key'), 'no key events on the stream');
  await shot(t.page, 'activity-tester');
  assert.deepEqual(t.page.errors, []);
  await t.context.close();
});

test('with the stream off, Activity says how to turn it on and the browser does not try to connect', async () => {
  const a = await signIn('admin2', 'admin2-password-1');
  await setStream(a.page, false);
  await a.page.goto(`${BASE}/activity`);
  await hydrated(a.page);
  await a.page.waitForSelector('[data-test=stream-off-notice]');
  assert.match(await a.page.locator('[data-test=stream-off-notice]').textContent(), /Settings → Pollers/);
  assert.match(await a.page.locator('[data-test=live-status]').textContent(), /Stream off/);
  await a.page.waitForTimeout(1500);
  assert.equal(await a.page.getAttribute('.main', 'data-live-stream'), 'off');
  // Filtering to nothing explains itself too.
  await a.page.goto(`${BASE}/activity?q=no-such-thing-anywhere`);
  await hydrated(a.page);
  await a.page.waitForSelector('[data-test=activity-no-match]');
  assert.deepEqual(a.page.errors, []);
  await a.context.close();
});
