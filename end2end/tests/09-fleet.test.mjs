// Fleet health against the real Salt lab (connected by 02-settings): the master runs a
// state.apply (the lab's own salt CLI, not Halite); with the event stream on, the open Fleet page
// shows the new run without a reload, broken-01 is unhealthy and its run detail shows the failing
// state's comment; the Overview, the minion's Runs tab and the Timeline tell the same story; a
// viewer limited to web-* sees only the web minions; with the stream off, the fleet poller picks
// the next run up within one poll.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { BASE, launch, newPage, hydrated, shot, login } from './browser.mjs';

const LAB = 'end2end/salt-lab/lab.sh';

/** Start `state.apply` on every minion through the master's CLI; returns the JID. */
function applyAsync() {
  const out = execFileSync(LAB, ['salt', '--async', '*', 'state.apply'], { encoding: 'utf8' });
  const m = out.match(/(\d{20})/);
  assert.ok(m, `no JID in: ${out}`);
  return m[1];
}

let browser;
before(async () => {
  execFileSync(LAB, ['reset-keys'], { stdio: 'ignore' });
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

async function savePollers(page, values, stream) {
  await page.goto(`${BASE}/settings`);
  await hydrated(page);
  const form = page.locator('[data-test=settings-pollers]');
  for (const [name, v] of Object.entries(values)) await form.locator(`input[name=${name}]`).fill(String(v));
  const box = form.locator('input[name=event_stream_enabled]');
  if (stream) await box.check(); else await box.uncheck();
  await form.locator('button[type=submit]').click();
  await form.locator('[data-test=saved]').waitFor();
}

/**
 * Wait until Halite's key poll has seen new-01 pending again: 08-admin accepted it and the lab's
 * reset-keys put it back, but Halite learns that only at its next key poll (a runtime reload
 * polls keys after the initial delay). Until then new-01 is an accepted minion with no run.
 */
async function newKeyPending(page) {
  for (let i = 0; i < 120; i += 1) {
    await page.goto(`${BASE}/keys`);
    await hydrated(page);
    if (await page.locator('[data-test=keys-pending] li[data-key="new-01"]').count()) return;
    await page.waitForTimeout(500);
  }
  assert.fail('Halite never saw the key of new-01 pending again');
}

/** Wait until the runtime says the event stream is connected. */
async function streamConnected(page) {
  for (let i = 0; i < 60; i++) {
    const state = await page.evaluate(async () => {
      const r = await fetch('/api/activity/list', {
        method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'per_page=1',
      });
      return (await r.json().catch(() => null))?.stream_state;
    });
    if (state === 'connected') return;
    await page.waitForTimeout(500);
  }
  assert.fail('the event stream never connected');
}

test('a state.apply shows up live on Fleet, with the failing state and its comment', async () => {
  const { page: a, context } = await signIn('admin2', 'admin2-password-1');
  // 07-activity left the stream off; the fresh-install default is on.
  await savePollers(a, { fleet_poll_interval_seconds: 120, jobs_poll_interval_seconds: 60 }, true);
  await streamConnected(a);
  await newKeyPending(a);

  await a.goto(`${BASE}/fleet`);
  await hydrated(a);
  await a.waitForSelector('.main[data-live-stream=on]');
  const jid = applyAsync();
  // No reload: the run arrives from the job.ret events and the page refetches.
  await a.waitForSelector(`[data-test=fleet-compliance] [data-test=compliance-bar][data-jid="${jid}"]`, { timeout: 90000 });
  await a.waitForSelector('[data-test=fleet-row][data-minion=broken-01][data-status=unhealthy]', { timeout: 30000 });
  for (const m of ['web-01', 'web-02', 'db-01']) {
    await a.waitForSelector(`[data-test=fleet-row][data-minion=${m}][data-status=changed]`, { timeout: 30000 });
  }
  assert.match(await a.locator('[data-test=fleet-chip-unhealthy]').textContent(), /1/);
  assert.equal(await a.locator('[data-test=fleet-tile]').count(), 4);
  assert.equal(await a.locator('[data-test=fleet-tile][data-minion=broken-01]').getAttribute('data-status'), 'unhealthy');
  const top = a.locator('[data-test=top-failures] [data-test=top-failure][data-state=lab-broken-command]');
  await top.waitFor();
  await shot(a, 'fleet');

  // Top failure -> the minions failing it.
  await top.click();
  await a.waitForURL(/failing=lab-broken-command/);
  // The filtered list replaces the whole one (broken-01 is in both: wait for the count).
  await a.waitForFunction(() => document.querySelectorAll('[data-test=fleet-row]').length === 1, null, { timeout: 30000 })
    .catch(() => {});
  await a.waitForSelector('[data-test=fleet-row][data-minion=broken-01]');
  assert.equal(await a.locator('[data-test=fleet-row]').count(), 1);

  // Run detail: failing states first, with Salt's comment.
  await a.locator('[data-test=fleet-row][data-minion=broken-01] [data-test=fleet-run-link]').click();
  await a.waitForURL(/\/fleet\/runs\/[0-9a-f-]{36}$/);
  await hydrated(a);
  await a.waitForSelector('[data-test=run-detail]');
  const results = await a.locator('[data-test=run-state]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-result')));
  assert.deepEqual(results.slice(0, 2), ['fail', 'fail'], `failing first: ${results}`);
  const comments = await a.locator('[data-test=run-state][data-result=fail] [data-test=run-state-comment]').allTextContents();
  assert.ok(comments.some((c) => /broken on purpose|Failure!/.test(c)), `Salt's comment shown: ${comments}`);
  assert.equal(await a.locator('[data-test=run-minion-link]').getAttribute('href'), '/minions/broken-01');
  await shot(a, 'fleet-run');

  // CSV export of the table.
  const csv = await a.evaluate(async () => (await fetch('/api/fleet/export.csv?status=unhealthy')).text());
  assert.match(csv.split('\n')[0], /^minion_id,online,status/);
  assert.ok(csv.includes('broken-01,true,unhealthy'), csv);

  // Overview: the same run in the compliance sparkline, the same top failure.
  await a.goto(`${BASE}/`);
  await hydrated(a);
  await a.waitForSelector(`[data-test=overview-compliance] [data-test=compliance-point][data-jid="${jid}"]`);
  await a.waitForSelector('[data-test=overview-top-failures] [data-test=overview-top-failure][data-state=lab-broken-command]');
  // A heatmap tile opens the minion's side panel: its health, its latest run, and a command run
  // on this one minion (a list target), followed live.
  await a.locator('[data-test=heatmap] rect[data-minion="broken-01"]').click();
  await a.waitForSelector('[data-test=minion-panel][data-minion="broken-01"]');
  assert.equal(await a.locator('[data-test=minion-panel-status]').textContent(), 'unhealthy');
  await a.waitForSelector('[data-test=minion-panel-latest][data-status=unhealthy]');
  await a.fill('[data-test=minion-panel-run] input[name=fun]', 'test.ping');
  await a.click('[data-test=minion-panel-submit]');
  await a.waitForSelector('[data-test=minion-panel-result][data-state=dispatched]');
  await a.waitForSelector('[data-test=minion-panel-result] >> text=broken-01', { timeout: 30000 });
  await shot(a, 'overview-panel');
  await a.keyboard.press('Escape');
  await a.waitForSelector('[data-test=minion-panel]', { state: 'detached' });
  assert.equal(new URL(a.url()).pathname, '/', 'the tile opened a panel, not the minion page');

  // The minion's Runs tab.
  await a.goto(`${BASE}/minions/broken-01`);
  await hydrated(a);
  await a.locator('[data-test=tab-runs]').click();
  await a.waitForSelector('[data-test=minion-runs] [data-test=minion-run][data-status=unhealthy]');
  await shot(a, 'minion-runs');

  // The Timeline: the state bar has its width, colour and minion counts. "Running" comes from
  // the jobs poller's `jobs.active` (every 60 s here): a poll taken while the run was on keeps
  // the bar running until the next one, so wait for one poll interval at most.
  const timelineBar = (j) => a.evaluate(async (jj) => {
    const r = await fetch('/api/timeline/get', {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'window=1h',
    });
    const t = await r.json();
    return t.groups.flatMap((g) => g.bars).find((b) => b.jid === jj);
  }, j);
  let bar = await timelineBar(jid);
  for (let i = 0; bar?.status === 'running' && i < 150; i += 1) {
    await a.waitForTimeout(500);
    bar = await timelineBar(jid);
  }
  assert.ok(bar, 'the state job is on the timeline');
  assert.equal(bar.status, 'failed');
  assert.equal(bar.minion_count, 4);
  assert.equal(bar.failed_minion_count, 1);
  assert.ok(bar.completed_at, 'a completion time gives the bar its width');

  assert.deepEqual(a.errors, []);
  await context.close();
});

test('a viewer limited to web-* sees only the web minions, and no run of db-01', async () => {
  const { page: t, context } = await signIn('tester', 'tester-password-1');
  await t.goto(`${BASE}/fleet`);
  await hydrated(t);
  await t.waitForSelector('[data-test=fleet-row]');
  const minions = await t.locator('[data-test=fleet-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-minion')));
  assert.deepEqual(minions.sort(), ['web-01', 'web-02']);
  const csv = await t.evaluate(async () => (await fetch('/api/fleet/export.csv')).text());
  assert.ok(!csv.includes('db-01') && !csv.includes('broken-01'), csv);
  assert.deepEqual(t.errors, []);
  await context.close();
});

test('with the stream off, the fleet poller picks the next run up within one poll', async () => {
  const { page: a, context } = await signIn('admin2', 'admin2-password-1');
  await savePollers(a, { fleet_poll_interval_seconds: 5, jobs_poll_interval_seconds: 5 }, false);
  const jid = applyAsync();
  let seen = false;
  for (let i = 0; i < 90 && !seen; i++) {
    await a.goto(`${BASE}/fleet`);
    await hydrated(a);
    seen = (await a.locator(`[data-test=compliance-bar][data-jid="${jid}"]`).count()) > 0;
    if (!seen) await a.waitForTimeout(1000);
  }
  assert.ok(seen, 'the poller ingested the state job');
  assert.equal(await a.locator('[data-test=fleet-row][data-minion=broken-01]').getAttribute('data-status'), 'unhealthy');
  // Back to the defaults for later tests.
  await savePollers(a, { fleet_poll_interval_seconds: 120, jobs_poll_interval_seconds: 60 }, true);
  assert.deepEqual(a.errors, []);
  await context.close();
});
