// Browser timings of the release build at 10,000 simulated minions (issue 17, target 4): for
// Overview, Minions, Jobs and Run, a cold load (empty cache) and a warm one (second visit, same
// browser profile) in Debian's headless Chromium: first contentful paint, the page's rows (or
// form) in the DOM, hydrated (interactive), and the bytes that went over the wire. Writes the
// `bench_browser` section of BENCHMARKS.md.
//
// Needs `make build-release` and `cargo build --release -p salt-sim` first (`make bench` does
// both). Run: `node scripts/bench-browser.mjs`.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const BIN = process.env.HALITE_BIN ?? 'target/release/halite';
const SIM = process.env.HALITE_SIM ?? 'target/release/salt-sim';
const SITE = process.env.LEPTOS_SITE_ROOT ?? 'target/site';
const N = 10000;
const RUNS = 5;
// What "rows visible" means on each page: the first thing an operator came for.
const PAGES = [
  { name: 'Overview', path: '/', ready: '[data-test=heatmap] svg', what: 'heatmap drawn' },
  { name: 'Minions', path: '/minions', ready: '[data-test=minions-table] tbody tr', what: 'first row' },
  { name: 'Jobs', path: '/jobs', ready: '[data-test=jobs-table] tbody tr', what: 'first row' },
  { name: 'Run', path: '/run', ready: '[data-test=run-form]', what: 'form' },
];

function freePort() {
  return Number(execFileSync('python3', ['-c', 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'], { encoding: 'utf8' }).trim());
}

async function waitFor(what, seconds, probe) {
  for (let i = 0; i < seconds * 5; i++) {
    try { if (await probe()) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not after ${seconds} s`);
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/** One navigation: in-page times from navigation start, and the bytes received (CDP). */
async function measure(context, base, p) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  let bytes = 0;
  const files = new Map();
  const urls = new Map();
  cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
  cdp.on('Network.loadingFinished', (e) => {
    bytes += e.encodedDataLength;
    const u = urls.get(e.requestId) ?? '';
    const name = u.includes('/pkg/') ? u.split('/pkg/')[1].split('?')[0] : (u.startsWith(base) ? 'document and data' : u);
    files.set(name, (files.get(name) ?? 0) + e.encodedDataLength);
  });
  await page.goto(`${base}${p.path}`, { waitUntil: 'commit' });
  const at = async (sel) => (await page.waitForFunction(
    (s) => (document.querySelector(s) ? performance.now() : false), sel, { polling: 'raf', timeout: 60000 })).jsonValue();
  const ready = await at(p.ready);
  const hydrated = await at('body[data-hydrated]');
  const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null);
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.close();
  return { fcp, ready, hydrated, bytes, files };
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'halite-bench-browser-'));
  const simPort = freePort();
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const sim = spawn(SIM, ['--minions', String(N), '--port', String(simPort)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const env = { ...process.env, HALITE_DATA_DIR: dir, LEPTOS_SITE_ROOT: SITE, LISTEN_PORT: String(port), LISTEN_HOST: '127.0.0.1', COOKIE_SECURE: 'false', LOG_LEVEL: 'warn' };
  let halite, browser;
  try {
    await waitFor('salt-sim', 120, async () => (await fetch(`http://127.0.0.1:${simPort}/`)).status < 500);
    execFileSync(BIN, ['admin', 'create-user', '--username', 'bench', '--role', 'admin', '--password-stdin', '--no-force-change'], { env, input: 'bench-password-1\n' });
    execFileSync(BIN, ['admin', 'set-salt', '--url', `http://127.0.0.1:${simPort}`, '--username', 'halite', '--eauth', 'file', '--password-stdin'], { env, input: 'sim-pw\n' });
    halite = spawn(BIN, [], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    await waitFor('halite', 60, async () => (await fetch(`${base}/healthz`)).ok);
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    // Sign in once; every cold load starts from a fresh profile holding only that session.
    const signIn = await browser.newContext();
    const page = await signIn.newPage();
    await page.goto(`${base}/login`);
    await page.waitForSelector('body[data-hydrated]', { state: 'attached' });
    await page.fill('input[name=username]', 'bench');
    await page.fill('input[name=password]', 'bench-password-1');
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/`);
    await waitFor('the fleet ingested', 600, async () => page.evaluate(async (n) => {
      const r = await fetch('/api/minions/list', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'per_page=50' });
      return r.ok && (await r.json()).total >= n;
    }, N));
    await waitFor('jobs ingested', 600, async () => page.evaluate(async () => {
      const r = await fetch('/api/jobs/list', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'per_page=50' });
      return r.ok && (await r.json()).rows.length > 0;
    }));
    const storageState = await signIn.storageState();
    await signIn.close();

    const rows = [];
    let firstFiles = null;
    for (const p of PAGES) {
      const cold = [];
      const warm = [];
      for (let i = 0; i < RUNS; i++) {
        const context = await browser.newContext({ storageState, viewport: { width: 1360, height: 860 } });
        cold.push(await measure(context, base, p));
        warm.push(await measure(context, base, p));
        await context.close();
      }
      if (!firstFiles) firstFiles = cold[0].files;
      const pick = (xs, k) => median(xs.map((x) => x[k]));
      const row = { ...p, cold: {}, warm: {} };
      for (const k of ['fcp', 'ready', 'hydrated', 'bytes']) {
        row.cold[k] = pick(cold, k);
        row.warm[k] = pick(warm, k);
      }
      console.error(`bench-browser: ${p.name}: cold FCP ${row.cold.fcp?.toFixed(0)} ms, ${p.what} ${row.cold.ready.toFixed(0)} ms, hydrated ${row.cold.hydrated.toFixed(0)} ms, ${(row.cold.bytes / 1024).toFixed(0)} KB; warm ${row.warm.hydrated.toFixed(0)} ms, ${(row.warm.bytes / 1024).toFixed(0)} KB`);
      rows.push(row);
    }
    write(rows, firstFiles);
  } finally {
    await browser?.close();
    halite?.kill('SIGTERM');
    sim.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

function write(rows, files) {
  const ms = (v) => (v == null ? '—' : `${v.toFixed(0)} ms`);
  const kb = (v) => `${(v / 1024).toLocaleString('en-US', { maximumFractionDigits: 0 })} KB`;
  const chromium = execFileSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const now = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const lines = [
    '<!-- bench_browser:start -->',
    '## Browser timings, release build (`node scripts/bench-browser.mjs`, after `make build-release`)',
    '',
    `Measured ${now} UTC: release Halite on SQLite beside the salt-api simulator with ${N.toLocaleString('en-US')} minions, ${chromium}`,
    `headless on the same 2-core machine, viewport 1360x860, no network throttling (loopback). Median of ${RUNS} runs;`,
    'times are from navigation start, in the page. *Cold*: a fresh browser profile holding only the session',
    'cookie. *Warm*: the same page again in that profile. Bytes are what crossed the wire (compressed).',
    'The rows are in the server\'s HTML, so they can be in the DOM before the first paint, which waits',
    'for the stylesheet.',
    '',
    '| page | cold: first paint | cold: rows/form in the DOM | cold: hydrated | cold: bytes | warm: hydrated | warm: bytes |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} (\`${r.path}\`, ${r.what}) | ${ms(r.cold.fcp)} | ${ms(r.cold.ready)} | ${ms(r.cold.hydrated)} | ${kb(r.cold.bytes)} | ${ms(r.warm.hydrated)} | ${kb(r.warm.bytes)} |`),
    '',
    `A cold ${rows[0].name} load, by file: ${[...files].sort((a, b) => b[1] - a[1]).map(([n, b]) => `${n} ${kb(b)}`).join(', ')}.`,
    '',
    '<!-- bench_browser:end -->',
  ];
  const section = lines.join('\n');
  const file = 'BENCHMARKS.md';
  const old = readFileSync(file, 'utf8');
  const a = old.indexOf('<!-- bench_browser:start -->');
  const b = old.indexOf('<!-- bench_browser:end -->');
  let out;
  if (a >= 0 && b >= 0) out = old.slice(0, a) + section + old.slice(b + '<!-- bench_browser:end -->'.length);
  else {
    const at = old.indexOf('<!-- bench_payload:end -->');
    out = at >= 0 ? `${old.slice(0, at + 26)}\n\n${section}${old.slice(at + 26)}` : `${old.trimEnd()}\n\n${section}\n`;
  }
  writeFileSync(file, out);
  console.log(section);
}

main().catch((e) => { console.error(e); process.exit(1); });
