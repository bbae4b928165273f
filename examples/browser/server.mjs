// The example's own server: the page and the dtmx-wasm package as static files, and the
// business service whose steps dtmx calls (TransOut, TransIn and their compensations;
// a step answers 409 FAILURE when the payload's `fail` names it).
//
//   node examples/browser/server.mjs [port]      (default 8080, on 127.0.0.1)

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Only these trees are served. */
const SERVED = ['examples/browser/', 'wasm/index.js', 'wasm/errors.js', 'wasm/barrier.js', 'wasm/pkg/'];
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.ts': 'text/plain', '.md': 'text/plain' };
const STEPS = ['TransOut', 'TransOutRevert', 'TransIn', 'TransInRevert'];

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

function staticFile(pathname, res) {
  const rel = path.posix.normalize(decodeURIComponent(pathname)).replace(/^\/+/, '');
  if (rel.includes('..') || !SERVED.some((p) => rel === p || (p.endsWith('/') && rel.startsWith(p)))) {
    return send(res, 404, '{"message":"not found"}');
  }
  const file = path.join(REPO, rel);
  fs.readFile(file, (err, data) => {
    if (err) return send(res, 404, '{"message":"not found"}');
    send(res, 200, data, TYPES[path.extname(file)] || 'application/octet-stream');
  });
}

/** Starts the server on `host:port` (0: a free port); resolves to `{url, calls, close}`.
 * `calls` lists the step calls dtmx made: `{step, gid, op, payload}`. */
export function startExample({ port = 8080, host = '127.0.0.1' } = {}) {
  const calls = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://local');
    const step = u.pathname.startsWith('/api/busi/') ? u.pathname.slice('/api/busi/'.length) : null;
    if (req.method === 'POST' && STEPS.includes(step)) {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        let payload = {};
        try {
          payload = JSON.parse(Buffer.concat(chunks).toString() || '{}');
        } catch {
          // not JSON: no failure asked
        }
        calls.push({ step, gid: u.searchParams.get('gid'), op: u.searchParams.get('op'), payload });
        if (payload.fail === step) send(res, 409, JSON.stringify({ dtm_result: 'FAILURE', message: `${step} refused` }));
        else send(res, 200, '{"dtm_result":"SUCCESS"}');
      });
      return;
    }
    if (req.method === 'GET' && u.pathname === '/') {
      res.writeHead(302, { location: '/examples/browser/index.html' });
      return res.end();
    }
    if (req.method === 'GET') return staticFile(u.pathname, res);
    send(res, 404, '{"message":"not found"}');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: p } = server.address();
      resolve({
        url: `http://${host}:${p}`,
        calls,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(r);
          }),
      });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] || 8080);
  const { url } = await startExample({ port });
  console.log(`example: ${url}/examples/browser/index.html (allow this origin in dtmx: HTTP_CORS_ALLOWED_ORIGINS=${url})`);
}
