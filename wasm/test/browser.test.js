// The example page (examples/browser) in a real headless Chromium (Debian's chromium,
// driven by playwright-core): the page is served from one origin, the real dtmx server
// runs on another with that origin allowed (CORS), and the page runs a saga that
// succeeds and one that rolls back, showing each step's result. Screenshots go to
// target/wasm-screenshots/. A dtmx without CORS refuses the page.

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO, startServer } from '../testkit/helpers.js';
import { startExample } from '../../examples/browser/server.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(REPO, 'target', 'wasm-screenshots');

let example;
let dtm;
let closed;
let browser;
let profile;

test.before(async () => {
  example = await startExample({ port: 0 });
  dtm = await startServer({ HTTP_CORS_ALLOWED_ORIGINS: example.url });
  closed = await startServer();
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dtmx-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  fs.mkdirSync(SHOTS, { recursive: true });
});

test.after(async () => {
  await browser?.close();
  await Promise.all([example?.close(), dtm?.stop(), closed?.stop()]);
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

/** Opens the page against `server`, runs the saga (TransIn failing when `fail`) and
 * returns the page once the outcome is final. */
async function runPage(server, fail) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const url = `${example.url}/examples/browser/index.html?dtm=${encodeURIComponent(server.url)}`;
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20000 });
  if (fail) await page.check('#fail');
  await page.click('#run');
  await page.waitForSelector('#outcome:not([data-status="running"]):not([data-status="ready"])', { timeout: 20000 });
  assert.deepEqual(errors, []);
  return page;
}

/** Each row of the steps table: `[branch, op, status]`. */
async function steps(page) {
  return page.$$eval('#steps tr', (rows) => rows.map((r) => [r.dataset.branch, r.dataset.op, r.dataset.status]));
}

test('browser: a saga succeeds across origins', async () => {
  const page = await runPage(dtm, false);
  assert.equal(await page.getAttribute('#outcome', 'data-status'), 'succeed', await page.textContent('#outcome'));
  assert.match(await page.textContent('#outcome'), /: succeed \(submitted\)$/);
  assert.deepEqual(await steps(page), [
    ['01', 'compensate', 'prepared'],
    ['01', 'action', 'succeed'],
    ['02', 'compensate', 'prepared'],
    ['02', 'action', 'succeed'],
  ]);
  await page.screenshot({ path: path.join(SHOTS, 'saga-succeed.png'), fullPage: true });
  const gid = (await page.textContent('#outcome')).split(' ')[1].replace(/:$/, '');
  assert.deepEqual(example.calls.filter((c) => c.gid === gid).map((c) => c.step), ['TransOut', 'TransIn']);
  await page.close();
});

test('browser: a saga rolls back', async () => {
  const page = await runPage(dtm, true);
  assert.equal(await page.getAttribute('#outcome', 'data-status'), 'failed', await page.textContent('#outcome'));
  assert.match(await page.textContent('#outcome'), /submit: FailureError \(failure\)/);
  assert.deepEqual(await steps(page), [
    ['01', 'compensate', 'succeed'],
    ['01', 'action', 'succeed'],
    ['02', 'compensate', 'succeed'],
    ['02', 'action', 'failed'],
  ]);
  await page.screenshot({ path: path.join(SHOTS, 'saga-rollback.png'), fullPage: true });
  await page.close();
});

test('browser: dtmx without CORS refuses the page', async () => {
  const page = await runPage(closed, false);
  assert.equal(await page.getAttribute('#outcome', 'data-status'), 'error');
  assert.match(await page.textContent('#outcome'), /^TransportError \(transport\)/);
  await page.close();
});

test('browser: a msg through the package on the page', async () => {
  const page = await browser.newPage();
  await page.goto(`${example.url}/examples/browser/index.html`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20000 });
  const result = await page.evaluate(
    async ([server, busi]) => {
      const dtmx = await import('/wasm/index.js');
      await dtmx.init();
      const client = new dtmx.Client(server);
      const msg = client.msg({ gid: await client.newGid() }).add(`${busi}/TransIn`, { amount: 3 });
      await msg.prepare(`${busi}/QueryPrepared`);
      await msg.submit();
      const status = await client.waitFinal(msg.gid);
      let refused;
      try {
        client.msg({ retryLimit: -1 });
      } catch (e) {
        refused = [e instanceof dtmx.InvalidArgumentError, e.name, e.kind];
      }
      return { gid: msg.gid, status, refused };
    },
    [dtm.url, `${example.url}/api/busi`],
  );
  assert.equal(result.status, 'succeed');
  assert.deepEqual(result.refused, [true, 'InvalidArgumentError', 'invalid_argument']);
  assert.deepEqual(example.calls.filter((c) => c.gid === result.gid).map((c) => [c.step, c.op]), [['TransIn', 'action']]);
  await page.close();
});
