// The web app in Debian's headless Chromium (playwright-core), against a hub that
// tests/tests/web_app.rs started and filled with real records. Every step is checked against
// the API itself. Environment: CAVS_URL, CAVS_TEACHER(_PASSWORD), CAVS_ADMIN(_PASSWORD),
// CAVS_CAPTURE_DEVICE / CAVS_CAPTURE_SECRET / CAVS_CAPTURE_IMAGE (a live capture),
// CAVS_SCREENSHOTS (optional dir), CHROMIUM (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (tests/tests/web_app.rs sets it)`);
  return value;
};
const base = env('CAVS_URL');
const teacher = { username: env('CAVS_TEACHER'), password: env('CAVS_TEACHER_PASSWORD') };
const admin = { username: env('CAVS_ADMIN'), password: env('CAVS_ADMIN_PASSWORD') };
const shots = process.env.CAVS_SCREENSHOTS;
const WAIT = 30000;

/** The API as `who`. */
async function apiAs(who) {
  const response = await fetch(`${base}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(who),
  });
  assert.equal(response.status, 200, `API sign-in of ${who.username}`);
  const { access } = await response.json();
  return async (path) => {
    const answer = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${access}` } });
    assert.ok(answer.ok, `GET ${path}: ${answer.status}`);
    return answer.json();
  };
}

let stepNo = 0;
function step(text) {
  stepNo += 1;
  console.log(`step ${stepNo}: ${text}`);
}

async function shot(page, name) {
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}

async function signIn(page, who) {
  await page.fill('input[name=username]', who.username);
  await page.fill('input[name=password]', who.password);
  await page.click('button[type=submit]');
}

const pendingNamed = (page) => page.locator('[data-record-id][data-status=pending]').filter({ hasNot: page.locator('h3:text-is("Unknown face")') });

async function main() {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  const errors = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    // Every failed request is named (the console only says "failed to load resource").
    page.on('response', (r) => { if (r.status() >= 400) console.log(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
    page.on('dialog', (d) => d.accept());
    const api = await apiAs(teacher);
    const today = new Date().toISOString().slice(0, 10);

    step('a wrong password shows the API problem');
    await page.goto(`${base}/`);
    await shot(page, 'signin');
    const wrong = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: teacher.username, password: 'wrong-password' }) });
    const problem = await wrong.json();
    await signIn(page, { username: teacher.username, password: 'not-the-password' });
    await page.waitForFunction((title) => document.querySelector('[role=alert]')?.textContent.includes(title), problem.title);
    // The failed attempts count toward the lockout; two stay well below it.

    step('the teacher signs in and sees room-1 pending records');
    await signIn(page, teacher);
    await page.waitForSelector('[data-record-id]');
    await page.goto(`${base}/#/lesson?classroom=room-1&date=${today}&status=pending`);
    await page.waitForSelector('[data-record-id][data-status=pending]');
    assert.ok(await pendingNamed(page).count() >= 5, 'at least 5 named pending records');

    step("a pending record's crop is shown");
    await page.waitForFunction(() => [...document.querySelectorAll('[data-record-id] img.crop')].some((i) => i.complete && i.naturalWidth > 0));
    await shot(page, 'lesson');

    step('approve one record');
    const first = pendingNamed(page).first();
    const approvedId = await first.getAttribute('data-record-id');
    await first.locator('[data-action=approve]').click();
    await page.waitForSelector(`[data-record-id="${approvedId}"][data-status=approved]`);
    assert.equal((await api(`/api/attendance/${approvedId}`)).review_status, 'approved');

    step('reassign another record to a candidate');
    const second = pendingNamed(page).first();
    const reassignId = await second.getAttribute('data-record-id');
    const before = await api(`/api/attendance/${reassignId}`);
    await second.locator('[data-action=reassign]').click();
    await page.waitForSelector('dialog [data-candidate-id]');
    await shot(page, 'reassign');
    const candidates = page.locator('dialog [data-candidate-id]');
    let chosen = null;
    for (let i = 0; i < await candidates.count(); i += 1) {
      const id = await candidates.nth(i).getAttribute('data-candidate-id');
      if (id !== before.predicted_student_id) { chosen = candidates.nth(i); break; }
    }
    chosen = chosen || candidates.first();
    const chosenId = await chosen.getAttribute('data-candidate-id');
    await chosen.click();
    await page.waitForSelector(`[data-record-id="${reassignId}"][data-status=approved]`);
    const reassigned = await api(`/api/attendance/${reassignId}`);
    assert.equal(reassigned.review_status, 'approved');
    assert.equal(reassigned.predicted_student_id, chosenId);

    step('reject by keyboard');
    const third = pendingNamed(page).first();
    const rejectId = await third.getAttribute('data-record-id');
    await third.focus();
    await page.keyboard.press('r');
    await page.waitForSelector(`[data-record-id="${rejectId}"][data-status=rejected]`);
    assert.equal((await api(`/api/attendance/${rejectId}`)).review_status, 'rejected');

    step('bulk-approve two records');
    const bulk = pendingNamed(page);
    const bulkIds = [await bulk.nth(0).getAttribute('data-record-id'), await bulk.nth(1).getAttribute('data-record-id')];
    for (const id of bulkIds) await page.locator(`[data-record-id="${id}"] [data-select]`).check();
    await page.click('[data-bulk=approve]');
    for (const id of bulkIds) await page.waitForSelector(`[data-record-id="${id}"][data-status=approved]`);
    for (const id of bulkIds) assert.equal((await api(`/api/attendance/${id}`)).review_status, 'approved');

    step('label an unknown group');
    await page.goto(`${base}/#/unknowns`);
    const group = page.locator('[data-group-id]').filter({ has: page.locator('h2:text-matches("^[2-9]")') }).first();
    await group.waitFor();
    const groups = await api('/api/attendance/unknown-groups');
    const groupId = await group.getAttribute('data-group-id');
    const recordIds = groups.groups.find((g) => g.group_id === groupId).record_ids;
    assert.ok(recordIds.length >= 2, 'a group of two or more');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-group-id] img.crop')].some((i) => i.complete && i.naturalWidth > 0));
    await shot(page, 'unknowns');
    await group.locator('[data-action=label]').click();
    await page.fill('dialog input[name=student-search]', 'Kit');
    // The group's picker lists the students nearest its first face, as well as the search.
    await page.waitForSelector('dialog ul[aria-label="Nearest students"] li');
    const result = page.locator('dialog ul[aria-label="Search results"] [data-student-id]').first();
    await result.waitFor();
    const studentId = await result.getAttribute('data-student-id');
    await result.click();
    await page.waitForSelector(`[data-group-id="${groupId}"]`, { state: 'detached' });
    for (const id of recordIds) {
      const record = await api(`/api/attendance/${id}`);
      assert.equal(record.review_status, 'approved');
      assert.equal(record.predicted_student_id, studentId);
    }

    step('filter by session');
    await page.goto(`${base}/#/lesson?classroom=room-1&date=${today}`);
    await page.waitForSelector('[data-record-id]');
    const sessionOption = page.locator('select[name=session] option').nth(1);
    const sessionStart = await sessionOption.getAttribute('value');
    assert.ok(sessionStart, 'the day has at least one session');
    const dayRecords = await api(`/api/attendance?classroom_id=room-1&date_from=${today}&date_to=${today}&page_size=500`);
    const inSession = dayRecords.items.filter((r) => r.session_start === sessionStart).map((r) => r.id).sort();
    assert.ok(inSession.length > 0, 'records in that session');
    await page.selectOption('select[name=session]', sessionStart);
    await page.waitForFunction((start) => location.hash.includes(`session=${encodeURIComponent(start)}`), sessionStart);
    await page.waitForFunction((n) => document.querySelectorAll('[data-record-id]').length === n, inSession.length);
    const shownIds = (await page.locator('[data-record-id]').evaluateAll((cards) => cards.map((c) => c.dataset.recordId))).sort();
    assert.deepEqual(shownIds, inSession, 'the cards are exactly the session\'s records');

    step('a new record arrives live');
    await page.goto(`${base}/#/lesson?classroom=room-1&date=${today}`);
    await page.waitForSelector('[data-record-id]');
    await page.waitForTimeout(1000); // the event stream connects
    const form = new FormData();
    form.append('image', new Blob([await readFile(env('CAVS_CAPTURE_IMAGE'))], { type: 'image/jpeg' }), 'live.jpg');
    form.append('device_id', env('CAVS_CAPTURE_DEVICE'));
    form.append('classroom_id', 'room-1');
    const basic = Buffer.from(`${env('CAVS_CAPTURE_DEVICE')}:${env('CAVS_CAPTURE_SECRET')}`).toString('base64');
    const captured = await fetch(`${base}/api/capture`, { method: 'POST', headers: { authorization: `Basic ${basic}` }, body: form });
    assert.equal(captured.status, 200, `capture: ${await captured.clone().text()}`);
    const { record_id: liveId } = await captured.json();
    assert.ok(liveId, 'the capture made a record');
    await page.waitForSelector(`[data-record-id="${liveId}"]`);

    step('phone layout');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/#/lesson?classroom=room-1&date=${today}`);
    await page.waitForSelector('[data-record-id] [data-action=approve]');
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    assert.ok(fits, 'no horizontal scroll at 390 px');
    const box = await page.locator('[data-record-id] [data-action=approve]').first().boundingBox();
    assert.ok(box && box.height >= 40, `touch target ${box && box.height} px`);
    await shot(page, 'lesson-phone');
    await page.setViewportSize({ width: 1280, height: 800 });

    step('sign-out revokes the sign-in on the hub');
    const stored = await page.evaluate(() => Object.values(sessionStorage));
    assert.equal(stored.length, 1, 'one refresh token kept in this tab');
    const loggedOut = page.waitForResponse((r) => r.url().endsWith('/api/auth/logout'));
    await page.click('#signout');
    await page.waitForSelector('input[name=username]');
    assert.equal((await loggedOut).status(), 204, 'POST /api/auth/logout');
    assert.deepEqual(await page.evaluate(() => Object.values(sessionStorage)), [], 'tokens forgotten');
    const revoked = await fetch(`${base}/api/auth/refresh`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: stored[0] }),
    });
    assert.equal(revoked.status, 401, 'the signed-out refresh token is refused');
    assert.match((await revoked.json()).type || '', /token-revoked/);

    step('markup in a student\'s name stays text');
    const adminToken = (await (await fetch(`${base}/api/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(admin),
    })).json()).access;
    const hostile = '<img src=x onerror="window.__cavsXss=1">Mallory';
    const createdStudent = await fetch(`${base}/api/students`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ student_number: 'S-XSS', full_name: hostile }),
    });
    assert.equal(createdStudent.status, 201, `create the student: ${await createdStudent.clone().text()}`);

    step('the admin views render');
    await signIn(page, admin);
    await page.waitForSelector('#nav a[href="#/students"]');
    for (const [view, selector] of [['students', '[data-student-id]'], ['devices', '[data-device-id]'], ['users', 'tbody tr'], ['import', 'input[name=csv]'], ['audit', '[data-audit-id]']]) {
      await page.goto(`${base}/#/${view}`);
      await page.waitForSelector(selector);
      await page.waitForFunction((v) => document.querySelector('h1')?.textContent.length > 0 && location.hash.includes(v), view);
      await shot(page, view);
    }
    await page.goto(`${base}/#/students?search=S-XSS`);
    const row = page.locator('[data-student-id]').filter({ hasText: 'Mallory' });
    await row.waitFor();
    assert.ok((await row.textContent()).includes(hostile), 'the name is shown as typed');
    assert.equal(await row.locator('img[src=x]').count(), 0, 'no element made from the name');
    assert.equal(await page.evaluate(() => window.__cavsXss), undefined, 'no script ran');

    step('record a student\'s consent');
    const malloryId = await row.getAttribute('data-student-id');
    assert.equal(await row.locator('[data-consent]').getAttribute('data-consent'), 'none', 'no decision yet');
    await row.locator('[data-action=consent]').click();
    await page.fill('dialog input[name=given_by]', 'her mother');
    await page.fill('dialog input[name=notice_version]', 'notice-2026');
    const consented = page.waitForResponse((r) => r.url().endsWith(`/api/students/${malloryId}/consent`));
    await page.click('dialog button[type=submit]');
    assert.equal((await consented).status(), 200, 'POST /api/students/{id}/consent');
    await page.waitForSelector(`[data-student-id="${malloryId}"] [data-consent="true"]`);
    const withConsent = await (await fetch(`${base}/api/students/${malloryId}`, { headers: { authorization: `Bearer ${adminToken}` } })).json();
    assert.equal(withConsent.consent.granted, true);
    assert.equal(withConsent.consent.given_by, 'her mother');

    step('export and erase a student');
    const download = page.waitForEvent('download');
    await row.locator('[data-action=export]').click();
    const exported = JSON.parse(await readFile(await (await download).path(), 'utf8'));
    assert.equal(exported.student.id, malloryId, 'the export is of that student');
    assert.equal(exported.student.full_name, hostile, 'with their profile');
    assert.equal(exported.consent_history.length, 1, 'and their consent decision');
    const erased = page.waitForResponse((r) => r.url().endsWith(`/api/students/${malloryId}/erase`));
    await row.locator('[data-action=erase]').click();
    assert.equal((await erased).status(), 200, 'POST /api/students/{id}/erase');
    await page.waitForSelector(`[data-student-id="${malloryId}"]`, { state: 'detached' });
    const gone = await fetch(`${base}/api/students/${malloryId}`, { headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal(gone.status, 404, 'the erased student is gone from the API');
    // The audit log names the teacher's review of the first approved record.
    await page.goto(`${base}/#/audit`);
    await page.waitForSelector('[data-audit-id]');
    const audited = await page.locator('[data-audit-id]').filter({ hasText: approvedId }).count();
    assert.ok(audited >= 1, `the audit view lists the review of ${approvedId}`);
  } finally {
    await browser.close();
  }
  // The one expected console error is the browser's own note on the 401 of the wrong password.
  const unexpected = errors.filter((e) => !/status of 401/.test(e));
  assert.deepEqual(unexpected, [], 'no console errors');
  console.log('web app: every step passed');
}

main().catch((error) => {
  console.error(`web app test failed: ${error.stack || error}`);
  process.exit(1);
});
