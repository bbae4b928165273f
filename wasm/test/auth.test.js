// A server with authentication on (AUTH_SUBMIT_TOKENS): without a token, or with an
// unknown one, the server refuses (HTTP 401, ServerError); with `new Client(url, { token })`
// the saga succeeds; a malformed token is refused before any request.

import test from 'node:test';
import assert from 'node:assert/strict';
import * as dtmx from '../node.js';
import { startServer, serve } from '../testkit/helpers.js';

const TOKEN = 'wasm-submit-token-0123456789';
let server;
let branch;
const calls = [];

test.before(async () => {
  server = await startServer({ AUTH_SUBMIT_TOKENS: TOKEN });
  branch = await serve(async (req) => {
    calls.push([req.url.split('?')[0], req.headers.authorization]);
    return { status: 200, body: '{"dtm_result":"SUCCESS"}' };
  });
});
test.after(async () => {
  await branch.close();
  await server.stop();
});

const saga = (client) =>
  client.saga(undefined, { waitResult: true }).add(`${branch.url}/TransOut`, `${branch.url}/TransOutRevert`, { amount: 30 });

test('auth: without a token the server refuses', async () => {
  const client = new dtmx.Client(server.url);
  await assert.rejects(saga(client).submit(), (e) => e instanceof dtmx.ServerError && e.kind === 'server');
  await assert.rejects(client.newGid(), dtmx.ServerError);
});

test('auth: an unknown token is refused', async () => {
  const client = new dtmx.Client(server.url, { token: 'not-a-known-token-0123456789' });
  await assert.rejects(saga(client).submit(), dtmx.ServerError);
});

test('auth: with the token the saga succeeds', async () => {
  const client = new dtmx.Client(server.url, { token: TOKEN });
  const s = saga(client);
  await s.submit();
  assert.equal(await client.waitFinal(s.gid), 'succeed');
  assert.equal((await client.query(s.gid)).transaction.status, 'succeed');
  assert.ok((await client.newGid()).length > 0);
  // Branch calls come from the server and never carry the client's token.
  assert.deepEqual(calls[0], ['/TransOut', undefined]);
});

test('auth: malformed tokens and options are invalid', () => {
  for (const bad of ['', 'a b', 'tok\n', 'tok\r\nX-Evil: 1', '\ttok', 'tok\0']) {
    assert.throws(
      () => new dtmx.Client(server.url, { token: bad }),
      (e) => e instanceof dtmx.InvalidArgumentError && /token/.test(e.message),
      JSON.stringify(bad),
    );
  }
  assert.throws(() => new dtmx.Client(server.url, { token: 42 }), dtmx.InvalidArgumentError);
  assert.throws(() => new dtmx.Client(server.url, { tokn: TOKEN }), dtmx.InvalidArgumentError);
  assert.ok(new dtmx.Client(server.url, {}).server);
});
