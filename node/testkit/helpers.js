// Shared by the test files: the vectors, free ports, the real dtmx server, HTTP services.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const REPO = path.resolve(__dirname, '..', '..');
const VECTORS = path.join(REPO, 'tests', 'vectors');

/** A vectors file of tests/vectors. */
function loadVectors(name) {
  return JSON.parse(fs.readFileSync(path.join(VECTORS, name), 'utf8'));
}

/** A free loopback port. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The dtmx server binary: $DTMX_BIN, else target/debug/dtmx (built once with cargo). */
function serverBinary() {
  if (process.env.DTMX_BIN) return process.env.DTMX_BIN;
  const bin = path.join(REPO, 'target', 'debug', 'dtmx');
  if (!fs.existsSync(bin)) {
    const r = spawnSync('cargo', ['build', '-j2', '-p', 'dtmx-server'], { cwd: REPO, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('cannot build the dtmx server');
  }
  return bin;
}

/** Starts a real dtmx server on free ports with a fresh store and `extraEnv` (e.g.
 * `AUTH_SUBMIT_TOKENS`): `{url, stop}`. */
async function startServer(extraEnv = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtmx-node-'));
  const port = await freePort();
  const env = {
    ...process.env,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    GRPC_PORT: String(await freePort()),
    STORE_PATH: path.join(dir, 'dtmx.db'),
    LOG_LEVEL: 'warn',
    TRANS_CRON_INTERVAL: '1',
    ...extraEnv,
  };
  const log = fs.openSync(path.join(dir, 'server.log'), 'w');
  const proc = spawn(serverBinary(), [], { env, stdio: ['ignore', log, log] });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    if (proc.exitCode !== null) throw new Error(`dtmx server exited: ${fs.readFileSync(path.join(dir, 'server.log'), 'utf8')}`);
    try {
      const r = await fetch(`${base}/api/ping`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `${base}/api/dtmsvr`,
    stop: () =>
      new Promise((resolve) => {
        proc.once('exit', () => {
          fs.closeSync(log);
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  };
}

/** An HTTP server on a free loopback port running `handler(req, body)` → `{status, body}`:
 * `{url, close}`. */
async function serve(handler) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      try {
        const r = await handler(req, Buffer.concat(chunks));
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(r.body);
      } catch (e) {
        res.writeHead(500);
        res.end(String(e));
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

/** Resolves after `ms` milliseconds. */
function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

module.exports = { REPO, VECTORS, loadVectors, freePort, startServer, serve, sleep };
