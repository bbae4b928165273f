// The admin console (server/admin/index.html) in a real headless Chromium (Debian's
// chromium, driven by playwright-core) against the real dtmx server: it lists the
// transactions the test made, filters them, opens one with its branches and timeline,
// force-stops a stuck one, subscribes to a topic, and asks for an admin token when the
// server requires one. Screenshots: target/console-screenshots.

import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.DTMX_BIN || path.join(REPO, 'target', 'debug', 'dtmx');
const SHOTS = path.join(REPO, 'target', 'console-screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** The business service: TransInFail refuses, TransInStuck answers ONGOING forever. */
function startBusi() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const name = new URL(req.url, 'http://x').pathname.split('/').pop();
      const [status, result] = name === 'TransInFail' ? [409, 'FAILURE'] : name === 'TransInStuck' ? [425, 'ONGOING'] : [200, 'SUCCESS'];
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ dtm_result: result }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let dtm;
let busi;
let browser;
let profile;
let base;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtmx-console-'));

async function submit(gid, steps, wait) {
  const busiUrl = `http://127.0.0.1:${busi.address().port}/api/busi`;
  const body = {
    gid, trans_type: 'saga', wait_result: wait,
    steps: steps.map(([a, c]) => ({ action: `${busiUrl}/${a}`, compensate: `${busiUrl}/${c}` })),
    payloads: steps.map(() => '{"amount":30}'),
  };
  const r = await fetch(`${base}/api/dtmsvr/submit`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  return r.status;
}

async function status(gid) {
  const r = await fetch(`${base}/api/dtmsvr/query?gid=${encodeURIComponent(gid)}`);
  return (await r.json()).transaction?.status;
}

/** Starts dtmx on a new store in `dir` with extra environment; its base URL and process. */
async function startDtm(storeDir, env = {}) {
  const port = await freePort();
  const grpc = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(BIN, [], {
    env: { ...process.env, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), GRPC_PORT: String(grpc), STORE_PATH: path.join(storeDir, 'dtmx.db'), TRANS_CRON_INTERVAL: '1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/api/ping`)).ok) break;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child };
}

test.before(async () => {
  ({ url: base, child: dtm } = await startDtm(dir));
  busi = await startBusi();
  assert.equal(await submit('console-ok', [['TransOut', 'TransOutRevert'], ['TransIn', 'TransInRevert']], true), 200);
  assert.equal(await submit('console-failed', [['TransOut', 'TransOutRevert'], ['TransInFail', 'TransInRevert']], true), 409);
  assert.equal(await submit('console-stuck', [['TransOut', 'TransOutRevert'], ['TransInStuck', 'TransInRevert']], false), 200);
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dtmx-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  fs.mkdirSync(SHOTS, { recursive: true });
});

test.after(async () => {
  await browser?.close();
  busi?.close();
  dtm?.kill();
  for (const d of [dir, profile]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

async function openPage() {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => d.accept());
  return { page, errors };
}

function gidsOf(page) {
  return page.$$eval('tbody tr[data-gid]', (rows) => rows.map((r) => r.getAttribute('data-gid')));
}

test('lists the transactions and filters them', async () => {
  const { page, errors } = await openPage();
  await page.goto(`${base}/`);
  await page.waitForSelector('tbody tr[data-gid]');
  assert.deepEqual(await gidsOf(page), ['console-stuck', 'console-failed', 'console-ok']);
  assert.match(await page.textContent('#version'), /^dtmx v\d/);
  await page.screenshot({ path: path.join(SHOTS, 'list.png'), fullPage: true });

  await page.selectOption('select[name=status]', 'succeed');
  await page.click('#apply');
  await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-gid]').length === 1);
  assert.deepEqual(await gidsOf(page), ['console-ok']);

  await page.goto(`${base}/#/?limit=2`);
  await page.waitForSelector('#next-page');
  assert.deepEqual(await gidsOf(page), ['console-stuck', 'console-failed']);
  await page.click('#next-page');
  await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-gid]').length === 1);
  assert.deepEqual(await gidsOf(page), ['console-ok']);
  assert.deepEqual(errors, []);
  await page.close();
});

test('opens a transaction with its branches and timeline', async () => {
  const { page, errors } = await openPage();
  await page.goto(`${base}/`);
  await page.click('a[href="#/trans/console-failed"]');
  await page.waitForSelector('#timeline');
  assert.equal(await page.textContent('[data-field=status]'), 'failed');
  const branches = await page.$$eval('table tbody tr', (rows) => rows.map((r) => [...r.cells].slice(0, 3).map((c) => c.textContent)));
  assert.equal(branches.length, 4);
  assert.ok(branches.some(([id, op, st]) => id === '02' && op === 'action' && st === 'failed'), JSON.stringify(branches));
  const timeline = await page.textContent('#timeline');
  assert.match(timeline, /created/);
  assert.match(timeline, /rolled back \(failed\)/);
  assert.equal(await page.$('#force-stop'), null, 'no force-stop on a finished transaction');
  await page.screenshot({ path: path.join(SHOTS, 'detail.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('force-stops a stuck transaction', async () => {
  assert.equal(await status('console-stuck'), 'submitted');
  const { page, errors } = await openPage();
  await page.goto(`${base}/admin/#/trans/console-stuck`);
  await page.waitForSelector('#force-stop');
  await page.click('#force-stop');
  await page.waitForFunction(() => document.querySelector('[data-field=status]')?.textContent === 'failed');
  assert.match(await page.textContent('#message'), /force-stopped/);
  assert.equal(await status('console-stuck'), 'failed');
  await page.screenshot({ path: path.join(SHOTS, 'force-stopped.png'), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('manages topics', async () => {
  const { page, errors } = await openPage();
  await page.goto(`${base}/#/topics`);
  await page.waitForSelector('#subscribe');
  await page.fill('input[name=topic]', 'orders');
  await page.fill('input[name=url]', 'http://127.0.0.1:9/api/busi/Sub');
  await page.fill('input[name=remark]', 'billing');
  await page.click('#subscribe button[type=submit]');
  await page.waitForSelector('tr[data-topic=orders]');
  assert.match(await page.textContent('tr[data-topic=orders]'), /http:\/\/127\.0\.0\.1:9\/api\/busi\/Sub.*billing/);
  await page.screenshot({ path: path.join(SHOTS, 'topics.png'), fullPage: true });
  await page.click('tr[data-topic=orders] button');
  await page.waitForSelector('tr[data-topic=orders]', { state: 'detached' });
  assert.match(await page.textContent('#view'), /0 subscriber\(s\) of orders/);
  await page.click('button[data-delete=orders]');
  await page.waitForSelector('#no-topics');
  assert.deepEqual(errors, []);
  await page.close();
});

test('asks for an admin token when the server requires one', async () => {
  const SUBMIT = 'console-submit-token-0001';
  const ADMIN = 'console-admin-token-00001';
  const authDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtmx-console-auth-'));
  const authed = await startDtm(authDir, { AUTH_SUBMIT_TOKENS: SUBMIT, AUTH_ADMIN_TOKENS: ADMIN });
  try {
    const r = await fetch(`${authed.url}/api/dtmsvr/submit`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${SUBMIT}` },
      body: JSON.stringify({ gid: 'console-authed', trans_type: 'saga', steps: [], payloads: [] }),
    });
    assert.equal(r.status, 200);
    const { page, errors } = await openPage();
    await page.goto(`${authed.url}/`);
    await page.waitForSelector('#token-form');
    assert.match(await page.textContent('#message'), /requires an admin token/);
    for (const [token, why] of [['wrong-token-000000000000', /invalid bearer token/], [SUBMIT, /lacks the "admin" scope/]]) {
      await page.fill('#token', token);
      await page.click('#use-token');
      await page.waitForFunction((re) => new RegExp(re).test(document.getElementById('message').textContent), why.source);
      await page.waitForSelector('#token-form');
    }
    await page.fill('#token', ADMIN);
    await page.click('#use-token');
    await page.waitForSelector('tbody tr[data-gid]');
    assert.deepEqual(await gidsOf(page), ['console-authed']);
    assert.equal(await page.isVisible('#sign-out'), true);
    await page.screenshot({ path: path.join(SHOTS, 'authenticated.png'), fullPage: true });
    await page.click('#sign-out');
    await page.waitForSelector('#token-form');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    authed.child.kill();
    fs.rmSync(authDir, { recursive: true, force: true });
  }
});
