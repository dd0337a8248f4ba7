// 10,000 minions: a second Halite connected to the salt-api simulator (whose reply shapes are
// checked against the real lab's fixtures by tests/sim_shapes.rs). The minions page pages on
// the server, the overview draws one heatmap tile per minion, and both hydrate.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launch, newPage, hydrated, shot, ART } from './browser.mjs';

const BIN = process.env.HALITE_BIN_PATH;
const SIM = process.env.HALITE_SIM_BIN;
const N = 10000;
let sim, halite, dir, base, browser;

function freePort() {
  return Number(execFileSync('python3', ['-c', 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'], { encoding: 'utf8' }).trim());
}

async function waitHttp(url, seconds) {
  for (let i = 0; i < seconds * 5; i++) {
    try { const r = await fetch(url); if (r.status < 500) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

before(async () => {
  assert.ok(BIN && SIM, 'HALITE_BIN_PATH and HALITE_SIM_BIN are set by end2end/run.sh');
  dir = mkdtempSync(path.join(tmpdir(), 'halite-scale-'));
  const simPort = freePort();
  const port = freePort();
  base = `http://127.0.0.1:${port}`;
  sim = spawn(SIM, ['--minions', String(N), '--port', String(simPort)], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHttp(`http://127.0.0.1:${simPort}/`, 120);
  const env = { ...process.env, HALITE_DATA_DIR: dir, LISTEN_PORT: String(port), LISTEN_HOST: '127.0.0.1', COOKIE_SECURE: 'false', LOG_FORMAT: 'text' };
  execFileSync(BIN, ['admin', 'create-user', '--username', 'scale', '--role', 'admin', '--password-stdin', '--no-force-change'], { env, input: 'scale-password-1\n' });
  execFileSync(BIN, ['admin', 'set-salt', '--url', `http://127.0.0.1:${simPort}`, '--username', 'halite', '--eauth', 'file', '--password-stdin'], { env, input: 'sim-pw\n' });
  halite = spawn(BIN, [], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHttp(`${base}/healthz`, 60);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  halite?.kill('SIGTERM');
  sim?.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function signIn(page) {
  await page.goto(`${base}/login`);
  await hydrated(page);
  await page.fill('input[name=username]', 'scale');
  await page.fill('input[name=password]', 'scale-password-1');
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/`);
}

test(`${N} simulated minions: paged list, counts, heatmap`, { timeout: 600000 }, async () => {
  const { context, page } = await newPage(browser);
  await signIn(page);
  // Wait for the pollers (keys, presence, grains) to ingest the fleet.
  let total = 0;
  for (let i = 0; i < 240 && total < N; i++) {
    total = await page.evaluate(async () => {
      const r = await fetch('/api/minions/list', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'per_page=50' });
      return r.ok ? (await r.json()).total : 0;
    });
    if (total < N) await page.waitForTimeout(1000);
  }
  assert.equal(total, N, 'every simulated minion ingested');
  const t0 = Date.now();
  await page.goto(`${base}/minions`);
  await page.waitForSelector('[data-test=minions-table] tbody tr');
  const firstRowsMs = Date.now() - t0;
  await hydrated(page);
  const hydratedMs = Date.now() - t0;
  assert.equal(await page.locator('[data-test=minions-table] tbody tr').count(), 50, 'one page, not the whole fleet');
  assert.match(await page.locator('.chip[data-status=""]').textContent(), new RegExp(`All\\s*${N}`));
  await page.goto(`${base}/minions?per_page=500&page=20`);
  await hydrated(page);
  assert.equal(await page.locator('[data-test=minions-table] tbody tr').count(), 500);
  await shot(page, 'minions-10k');
  // Offline minions keep the facts the master last cached for them (issue 17), marked as such.
  let offlineOs = null;
  for (let i = 0; i < 180 && !offlineOs; i++) {
    offlineOs = await page.evaluate(async () => {
      const r = await fetch('/api/minions/list', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'status=offline&per_page=50' });
      return r.ok ? ((await r.json()).rows[0] ?? {}).os ?? null : null;
    });
    if (!offlineOs) await page.waitForTimeout(1000);
  }
  assert.ok(offlineOs, 'an offline minion shows its last-known OS');
  await page.goto(`${base}/minions?status=offline`);
  await hydrated(page);
  const offline = page.locator('[data-test=minions-table] tbody tr');
  assert.ok(await offline.count() > 0);
  assert.match(await offline.first().getAttribute('class'), /last-known/);
  assert.match(await offline.first().getAttribute('title'), /Last known/);
  await shot(page, 'minions-offline-10k');
  const t1 = Date.now();
  await page.goto(`${base}/`);
  await page.waitForSelector('[data-test=heatmap] svg');
  const heatmapMs = Date.now() - t1;
  await hydrated(page);
  assert.equal(await page.locator('[data-test=heatmap] rect').count(), N);
  await shot(page, 'overview-10k');
  assert.deepEqual(page.errors, []);
  const line = `10k Chromium: minions first rows ${firstRowsMs} ms, hydrated ${hydratedMs} ms; overview heatmap ${heatmapMs} ms`;
  console.log(line);
  writeFileSync(path.join(ART, 'scale-timings.txt'), `${line}\n`);
  await context.close();
});
