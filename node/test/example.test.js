// examples/node (the quick start) against a fresh server: both sagas end as described.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { REPO, freePort, startServer } = require('../testkit/helpers');

test('the quick start succeeds, then compensates', async () => {
  const server = await startServer();
  let modules;
  try {
    // `require('dtmx')` of the example resolves to this package; express to its node_modules.
    modules = fs.mkdtempSync(path.join(os.tmpdir(), 'dtmx-node-example-'));
    fs.symlinkSync(path.join(REPO, 'node'), path.join(modules, 'dtmx'), 'dir');
    const env = {
      ...process.env,
      NODE_PATH: [modules, path.join(REPO, 'node', 'node_modules')].join(path.delimiter),
      DTMX_SERVER: server.url,
      BUSI_PORT: String(await freePort()),
    };
    const r = spawnSync(process.execPath, [path.join(REPO, 'examples', 'node', 'quick_start.js')], { env, encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /quick start OK/);
  } finally {
    await server.stop();
    if (modules) fs.rmSync(modules, { recursive: true, force: true });
  }
});
