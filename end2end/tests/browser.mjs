// Shared Playwright helpers: Debian's Chromium, headless, no network chatter.
import { chromium } from 'playwright-core';
import path from 'node:path';

export const BASE = process.env.HALITE_URL ?? 'http://127.0.0.1:8080';
export const ART = process.env.HALITE_ARTIFACTS ?? '/tmp';

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

/** A page whose console errors and failed requests are collected for assertions. */
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, ...opts });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  return { context, page };
}

export async function hydrated(page) {
  try {
    await page.waitForSelector('body[data-hydrated]', { timeout: 30000, state: 'attached' });
  } catch (e) {
    await page.screenshot({ path: path.join(ART, 'not-hydrated.png'), fullPage: true }).catch(() => {});
    const html = await page.content().catch(() => '');
    throw new Error(`page ${page.url()} did not hydrate; errors: ${JSON.stringify(page.errors)}; html tail: ${html.slice(-600)}`);
  }
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(ART, `${name}.png`), fullPage: true });
}

export async function login(page, username, password) {
  await page.goto(`${BASE}/login`);
  await hydrated(page);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
}
