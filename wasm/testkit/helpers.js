// Shared by the test files: the vectors, free ports, the real dtmx server, HTTP services.

import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VECTORS = path.join(REPO, 'tests', 'vectors');

/** A vectors file of tests/vectors. */
export function loadVectors(name) {
  return JSON.parse(fs.readFileSync(path.join(VECTORS, name), 'utf8'));
}

/** A free loopback port. */
export function freePort() {
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
export function serverBinary() {
  if (process.env.DTMX_BIN) return process.env.DTMX_BIN;
  const target = path.resolve(REPO, process.env.CARGO_TARGET_DIR || 'target');
  const bin = path.join(target, 'debug', 'dtmx');
  if (!fs.existsSync(bin)) {
    const r = spawnSync('cargo', ['build', '-j2', '-p', 'dtmx-server', '--bin', 'dtmx'], { cwd: REPO, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('cannot build the dtmx server');
  }
  return bin;
}

/** Starts a real dtmx server on free ports with a fresh store and `env` added:
 * `{url, base, stop}`. */
export async function startServer(env = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtmx-wasm-'));
  const port = await freePort();
  const fullEnv = {
    ...process.env,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(port),
    GRPC_PORT: String(await freePort()),
    STORE_PATH: path.join(dir, 'dtmx.db'),
    LOG_LEVEL: 'warn',
    TRANS_CRON_INTERVAL: '1',
    ...env,
  };
  const logPath = path.join(dir, 'server.log');
  const log = fs.openSync(logPath, 'w');
  const proc = spawn(serverBinary(), [], { env: fullEnv, stdio: ['ignore', log, log] });
  const base = `http://127.0.0.1:${port}`;
  let up = false;
  for (let i = 0; i < 150 && !up; i++) {
    if (proc.exitCode !== null) break;
    try {
      up = (await fetch(`${base}/api/ping`)).ok;
    } catch {
      // not up yet
    }
    if (!up) await sleep(100);
  }
  if (!up) {
    proc.kill('SIGKILL');
    throw new Error(`dtmx server did not start: ${fs.readFileSync(logPath, 'utf8')}`);
  }
  return {
    base,
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

/** An HTTP server on a free loopback port running `handler(req, body)` → `{status, body,
 * headers?}`: `{url, close}`. */
export async function serve(handler) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      try {
        const r = await handler(req, Buffer.concat(chunks));
        res.writeHead(r.status, r.headers || { 'content-type': 'application/json' });
        res.end(r.body);
      } catch (e) {
        res.writeHead(500);
        res.end(String(e));
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
