// Two replicas on one Postgres (end2end/failover.sh starts them): A leads, B follows. A browser
// on B watches Activity while a test.ping is dispatched through A: B shows it live. A is killed
// with SIGKILL: B leads within 10 s, its pollers run, a second ping dispatched through B shows
// up live on the same page (no reload), no row is stored twice, and no request to B failed
// meanwhile.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPage, hydrated, shot } from '../tests/browser.mjs';

const A = process.env.HALITE_A_URL;
const B = process.env.HALITE_B_URL;
const USER = 'ops';
const PASSWORD = 'failover-admin-pw-1';

let browser;
let load;
after(async () => {
  await load?.stop();
  await browser?.close();
});

const readyz = async (base) => (await fetch(`${base}/readyz`)).json();

async function until(what, timeoutMs, fn, everyMs = 200) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return { value: v, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function signIn(base) {
  const s = await newPage(browser);
  await s.page.goto(`${base}/login`);
  await hydrated(s.page);
  await s.page.fill('input[name=username]', USER);
  await s.page.fill('input[name=password]', PASSWORD);
  await s.page.click('button[type=submit]');
  await s.page.waitForURL(`${base}/`);
  await hydrated(s.page);
  return s;
}

/** A server function called from a page (its session), form-encoded as the app does. */
async function call(page, endpoint, body = '') {
  return page.evaluate(async ([e, b]) => {
    const r = await fetch(`/api/${e}`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: b,
    });
    return { status: r.status, json: await r.json().catch(() => null) };
  }, [endpoint, body]);
}

async function dispatchPing(page) {
  const r = await call(page, 'run/dispatch', 'target=web-01&target_type=list&fun=test.ping');
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.match(r.json.jid, /^\d{20}$/);
  return r.json.jid;
}

/** Requests to B, one after another until stopped: a page, a server function, /readyz. */
function hammer(cookie) {
  const tally = { sent: 0, failed: [] };
  let running = true;
  const headers = { Cookie: cookie };
  const reqs = [
    () => fetch(`${B}/activity`, { headers }),
    () => fetch(`${B}/api/activity/list`, {
      method: 'POST', body: 'per_page=5',
      headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' },
    }),
    () => fetch(`${B}/readyz`),
  ];
  const done = (async () => {
    for (let i = 0; running; i++) {
      const which = i % reqs.length;
      tally.sent++;
      try {
        const r = await reqs[which]();
        await r.arrayBuffer();
        if (r.status >= 400) tally.failed.push(`${which}: HTTP ${r.status}`);
      } catch (e) {
        tally.failed.push(`${which}: ${e.message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { tally, stop: async () => { running = false; await done; return tally; } };
}

test('a follower shows the leader\'s events live and takes over within 10 s of a kill -9', async () => {
  const [ra, rb] = [await readyz(A), await readyz(B)];
  assert.equal(ra.replica.role, 'leader', JSON.stringify(ra));
  assert.equal(rb.replica.role, 'follower', JSON.stringify(rb));
  assert.equal(rb.replica.leader, ra.replica.id, 'B knows who leads');
  assert.equal(rb.replicas.length, 2, JSON.stringify(rb.replicas));

  browser = await launch();
  const a = await signIn(A);
  const b = await signIn(B);

  // A turns the event stream on; the save reloads B too (NOTIFY).
  await a.page.goto(`${A}/settings`);
  await hydrated(a.page);
  const form = a.page.locator('[data-test=settings-pollers]');
  await form.locator('input[name=event_stream_enabled]').check();
  await form.locator('button[type=submit]').click();
  await form.locator('[data-test=saved]').waitFor();
  await until('A\'s event stream connects', 30000, async () =>
    (await call(a.page, 'activity/list', 'per_page=1')).json?.stream_state === 'connected');
  await until('B serves the relayed stream', 15000, async () =>
    (await call(b.page, 'activity/list', 'per_page=1')).json?.stream_enabled === true);

  // B's Settings names its role and both replicas.
  await b.page.goto(`${B}/settings`);
  await hydrated(b.page);
  await b.page.waitForSelector('[data-test=replica-role]:has-text("Follower")');
  assert.equal(await b.page.locator('[data-test=replica-row]').count(), 2);
  await shot(b.page, 'settings-replicas-follower');

  // B follows Activity, live.
  const act = b.page;
  await act.goto(`${B}/activity`);
  await hydrated(act);
  await act.waitForSelector('.main[data-live-stream=on]');
  await act.waitForSelector('[data-test=live-status][data-state=live]');
  await act.evaluate(() => { window.__noReload = true; });
  const cookie = (await b.context.cookies(B)).map((c) => `${c.name}=${c.value}`).join('; ');
  load = hammer(cookie);

  const row = (jid, type) =>
    act.locator(`[data-test=activity-table] tr[data-event-type="${type}"]:has(a[href="/jobs/${jid}"])`);
  const jid1 = await dispatchPing(a.page);
  try {
    await row(jid1, 'job.new').waitFor({ timeout: 20000 });
    await row(jid1, 'job.ret').waitFor({ timeout: 20000 });
  } catch (e) {
    // What was stored, what each replica serves, what the page holds.
    const onA = await call(a.page, 'activity/list', `q=${jid1}`);
    const onB = await call(act, 'activity/list', 'per_page=10');
    const shown = await act.locator('[data-test=activity-table] tbody tr').evaluateAll(
      (rs) => rs.map((r) => `${r.dataset.eventType} ${r.textContent.slice(0, 80)}`));
    const live = await act.locator('[data-test=live-status]').getAttribute('data-state');
    await shot(act, 'activity-first-ping-missing');
    console.log(JSON.stringify({ jid1, storedOnA: onA.json, newestOnB: onB.json, shown, live }, null, 1));
    throw e;
  }

  // The leader dies without a word.
  process.kill(Number(process.env.HALITE_A_PID), 'SIGKILL');
  const takeover = await until('B leads', 10000, async () => (await readyz(B)).replica.role === 'leader', 100);
  console.log(`takeover: B leads ${takeover.ms} ms after the kill`);

  // Its pollers run (the new generation's first runs) and its event stream connects.
  const polled = await until('B\'s pollers run', 60000, async () => {
    const r = await call(act, 'settings/runtime');
    return (r.json?.pollers ?? []).some((p) => p.name !== 'salt.health' && p.last_run_at);
  }, 500);
  console.log(`B's first poller run ${polled.ms} ms after it led`);
  await until('B\'s own event stream connects', 30000, async () =>
    (await call(act, 'activity/list', 'per_page=1')).json?.stream_state === 'connected', 500);

  // A second ping, through B now: the same page shows it, with the takeover's gap row.
  const jid2 = await dispatchPing(act);
  await row(jid2, 'job.new').waitFor({ timeout: 20000 });
  await row(jid2, 'job.ret').waitFor({ timeout: 20000 });
  await act.locator('[data-test=activity-table] tr[data-event-type="stream.gap"]').first().waitFor({ timeout: 10000 });
  assert.equal(await act.evaluate(() => window.__noReload), true, 'the Activity page was not reloaded');
  await shot(act, 'activity-after-takeover');

  const tally = await load.stop();
  console.log(`requests to B during the test: ${tally.sent} sent, ${tally.failed.length} failed`);
  assert.deepEqual(tally.failed, [], 'no request to B failed');

  // Each event stored once, and shown once.
  for (const jid of [jid1, jid2]) {
    for (const type of ['job.new', 'job.ret']) {
      const r = await call(act, 'activity/list', `event_type=${type}&q=${jid}`);
      assert.equal(r.json.total, 1, `${type} of ${jid} stored once: ${JSON.stringify(r.json.rows?.map((x) => x.id))}`);
      assert.equal(await row(jid, type).count(), 1, `${type} of ${jid} shown once`);
    }
  }

  // B's Settings: B leads; A, silent since the kill, is listed as gone.
  await until('A shows as gone on B\'s Settings', 20000, async () => {
    await act.goto(`${B}/settings`);
    await hydrated(act);
    await act.waitForSelector('[data-test=replica-role]:has-text("Leader")');
    return (await act.locator('[data-test=replica-row][data-silent=true]').count()) === 1;
  }, 1000);
  assert.equal(await act.locator('[data-test=replica-row]').count(), 2);
  await shot(act, 'settings-replicas-leader');
  assert.deepEqual(act.errors, [], 'no console errors on B');
});
