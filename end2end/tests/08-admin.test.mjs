// Administration from the browser, against the real Salt lab (connected by 02-settings):
// an admin creates a role that may only see and accept `new-*` keys and a user holding it; the
// user signs in (forced password change), sees only the matching pending key, accepts it (the
// real master's `salt-key -L` shows it accepted) and has no Settings link; the admin deactivates
// the user and the user's open tab is signed out by the app itself; the audit page, filtered by
// that user, shows what they did in order, and filtered by the resource what was done to them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { BASE, launch, newPage, hydrated, shot, login } from './browser.mjs';

const LAB = 'end2end/salt-lab/lab.sh';
const saltKeys = () => JSON.parse(execFileSync(LAB, ['salt-key', '-L', '--out=json'], { encoding: 'utf8' }));

const ROLE = 'new-key-acceptors';
const USER = 'kara';
const FIRST_PW = 'initial-password-1';
const OWN_PW = 'karas-own-password-2';

let browser;
before(async () => {
  execFileSync(LAB, ['reset-keys'], { stdio: 'ignore' }); // new-01 pending, the others accepted
  browser = await launch();
});
after(async () => {
  await browser?.close();
  execFileSync(LAB, ['reset-keys'], { stdio: 'ignore' });
});

/** Rows of the audit table, oldest first, as `action` strings. */
async function auditActions(page, query) {
  await page.goto(`${BASE}/audit?${query}`);
  await hydrated(page);
  await page.waitForSelector('[data-test=audit-table]');
  const actions = await page.locator('[data-test=audit-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
  return actions.reverse();
}

/** `want` appears in `have` in this order (other rows may sit between them). */
function assertInOrder(have, want) {
  let i = 0;
  for (const a of have) if (a === want[i]) i += 1;
  assert.equal(i, want.length, `expected ${JSON.stringify(want)} in order within ${JSON.stringify(have)}`);
}

test('an admin runs access from the browser: role, user, sign-in, key accept, deactivation, audit', async () => {
  assert.ok(saltKeys().minions_pre.includes('new-01'), 'the lab starts with new-01 pending');
  const admin = await newPage(browser);
  const a = admin.page;
  await login(a, 'admin2', 'admin2-password-1');
  await a.waitForURL(`${BASE}/`);

  // Halite knows the pending key once its keys poller has run after the lab's reset (07 left
  // new-01 accepted). Saving the poller form unchanged reloads the runtime, which polls keys
  // after the initial delay, instead of at the next 5-minute poll.
  await a.goto(`${BASE}/settings`);
  await hydrated(a);
  const pollers = a.locator('[data-test=settings-pollers]');
  await pollers.locator('button[type=submit]').click();
  await pollers.locator('[data-test=saved]').waitFor();
  for (let i = 0; ; i++) {
    await a.goto(`${BASE}/keys`);
    await hydrated(a);
    if (await a.locator('[data-test=keys-pending] li[data-key="new-01"]').count()) break;
    assert.ok(i < 60, 'new-01 never showed up as pending');
    await a.waitForTimeout(1000);
  }

  // 1. The role, with a live preview of what each grant matches.
  await a.goto(`${BASE}/roles`);
  await hydrated(a);
  await a.click('[data-test=role-new]');
  await a.fill('input[name=name]', ROLE);
  await a.fill('input[name=description]', 'May see and accept the keys of new minions');
  await a.click('[data-test=role-create-submit]');
  await a.waitForURL(/\/roles\/[^/?]+$/);
  await hydrated(a);
  for (const verb of ['view', 'accept']) {
    await a.selectOption('select[name=verb]', verb);
    await a.fill('input[name=resource_glob]', 'key:new-*');
    await a.waitForSelector('[data-test=perm-preview]:has-text("new-01")');
    await a.click('[data-test=perm-add]');
    await a.waitForSelector(`[data-test=perm-row]:has-text("${verb}")`);
  }
  assert.equal(await a.locator('[data-test=perm-row]').count(), 2);
  await shot(a, 'role-detail');
  await a.goto(`${BASE}/roles`);
  await hydrated(a);
  assert.match(await a.locator(`[data-test=role-row][data-role-name="${ROLE}"]`).textContent(), /2/);
  // The roles export: the new role with its two grants.
  assert.equal(await a.getAttribute('[data-test=roles-export-json]', 'href'), '/api/roles/export.json');
  const roles = await a.evaluate(async () => (await fetch('/api/roles/export.json')).json());
  const mine = roles.find((r) => r.name === ROLE);
  assert.deepEqual(mine?.permissions?.sort(), ['accept:key:new-*', 'view:key:new-*']);
  await shot(a, 'roles');

  // 2. The user, holding that role, with "must change password" checked by default.
  await a.goto(`${BASE}/users`);
  await hydrated(a);
  await a.click('[data-test=user-new]');
  await a.fill('input[name=username]', USER);
  await a.fill('input[name=display_name]', 'Kara Keys');
  await a.fill('input[name=email]', 'kara@example.com');
  await a.fill('input[name=password]', FIRST_PW);
  assert.ok(await a.isChecked('input[name=must_change_pw]'), 'must change password is checked by default');
  await a.check(`input[name=role_ids][data-role-name="${ROLE}"]`);
  await a.click('[data-test=user-create-submit]');
  await a.waitForURL(/\/users\/[^/?]+$/);
  await hydrated(a);
  const userPath = new URL(a.url()).pathname;
  await a.waitForSelector(`[data-test=user-role]:has-text("${ROLE}")`);
  // Effective access: which grant decides, and a denial outside the glob.
  await a.waitForSelector(`[data-test=access-grants]:has-text("key:new-*")`);
  await a.selectOption('[data-test=access-verb]', 'accept');
  await a.fill('[data-test=access-resource]', 'key:new-01');
  await a.click('[data-test=access-check]');
  await a.waitForSelector(`[data-test=access-verdict][data-allowed=true]:has-text("${ROLE}")`);
  await a.fill('[data-test=access-resource]', 'key:web-01');
  await a.click('[data-test=access-check]');
  await a.waitForSelector('[data-test=access-verdict][data-allowed=false]');
  await shot(a, 'user-detail');
  await a.goto(`${BASE}/users?q=kar`);
  await hydrated(a);
  assert.equal(await a.locator('[data-test=user-row]').count(), 1);
  assert.match(await a.locator(`[data-test=user-row][data-username="${USER}"]`).textContent(), /Kara Keys/);
  await shot(a, 'users');
  await a.goto(`${BASE}${userPath}`);
  await hydrated(a);

  // 3. The user signs in, must change the password, sees only the matching key, accepts it.
  const kara = await newPage(browser);
  const k = kara.page;
  await login(k, USER, FIRST_PW);
  await k.waitForURL(/\/change-password/);
  await hydrated(k);
  await k.waitForSelector('[data-test=forced-notice]');
  await k.fill('input[name=current_password]', FIRST_PW);
  await k.fill('input[name=new_password]', OWN_PW);
  await k.fill('input[name=confirm_password]', OWN_PW);
  await k.click('[data-test=change-password-form] button[type=submit]');
  await k.waitForURL(`${BASE}/`);
  await hydrated(k);
  assert.equal(await k.locator('nav a[href="/settings"]').count(), 0, 'no Settings link');
  assert.equal(await k.locator('nav a[href="/users"]').count(), 0, 'no Users link');
  await k.goto(`${BASE}/keys`);
  await hydrated(k);
  const row = k.locator('[data-test=keys-pending] li[data-key="new-01"]');
  await row.waitFor();
  assert.deepEqual(
    await k.locator('li[data-key]').evaluateAll((li) => li.map((e) => e.getAttribute('data-key'))),
    ['new-01'],
    'only the matching pending key is visible',
  );
  await row.locator('[data-test=accept]').click();
  await k.locator('[data-test=confirm-dialog] [data-test=confirm]').click();
  await k.waitForSelector('[data-test=key-result]:has-text("new-01 accepted")');
  assert.ok(saltKeys().minions.includes('new-01'), 'salt-key -L lists new-01 as accepted');

  // 4. The admin deactivates the user; the user's open tab is signed out by the app.
  await a.goto(`${BASE}${userPath}`);
  await hydrated(a);
  await a.click('[data-test=user-deactivate]');
  await a.waitForSelector('[data-test=user-status]:has-text("Inactive")');
  await k.waitForURL(/\/login\?ended=1/, { timeout: 20000 });
  await hydrated(k);
  await shot(k, 'signed-out');
  const after = await k.evaluate(async () => (await fetch('/api/keys/pending-count', { method: 'POST' })).status);
  assert.equal(after, 401, 'the old session is gone');

  // 5. The audit log, filtered by that user (what they did) and by the resource (what was done to them).
  assertInOrder(await auditActions(a, `user=${USER}`), ['auth.login', 'auth.change_password', 'key.accept']);
  await shot(a, 'audit-user');
  assertInOrder(await auditActions(a, `resource=${encodeURIComponent(`user:${USER}`)}`), ['user.create', 'user.update']);
  await a.locator('[data-test=audit-row]').first().click();
  await a.waitForSelector('[data-test=audit-drawer]');
  assert.doesNotMatch(await a.locator('[data-test=audit-drawer]').textContent(), new RegExp(FIRST_PW));
  await shot(a, 'audit-drawer');

  assert.deepEqual(a.errors, []);
  await kara.context.close();
  await admin.context.close();
});
