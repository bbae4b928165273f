// Express and Fastify branch handlers: the branch parsed from the query, results and
// errors turned into the replies dtm reads as success, failure, ongoing and retry.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const express = require('express');
const Fastify = require('fastify');
const dtmx = require('..');

const QUERY = '?gid=g1&trans_type=saga&branch_id=01&op=action';

/** Handlers by name: what each one does with the branch. */
const HANDLERS = {
  ok: async (req, branch) => {
    assert.deepEqual([branch.gid, branch.transType, branch.branchId, branch.op], ['g1', 'saga', '01', 'action']);
  },
  value: async (req, branch) => ({ gid: branch.gid }),
  failure: async () => {
    throw new dtmx.FailureError('no money');
  },
  ongoing: async () => {
    throw new dtmx.OngoingError('later');
  },
  crash: async () => {
    throw new Error('boom');
  },
};

/** What dtm must read from each reply. */
const EXPECTED = { ok: 'success', value: 'success', failure: 'failure', ongoing: 'ongoing', crash: 'unknown' };

async function check(base) {
  for (const [name, outcome] of Object.entries(EXPECTED)) {
    const r = await fetch(`${base}/${name}${QUERY}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    const body = await r.text();
    assert.match(r.headers.get('content-type'), /application\/json/);
    assert.equal(dtmx.outcomeFromHttp(r.status, body).outcome, outcome, `${name}: ${r.status} ${body}`);
    if (name === 'value') assert.deepEqual(JSON.parse(body), { gid: 'g1' });
  }
}

test('Express', async () => {
  const app = express();
  for (const [name, h] of Object.entries(HANDLERS)) app.post(`/${name}`, dtmx.express.branch(h));
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    await check(`http://127.0.0.1:${server.address().port}`);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('Fastify', async () => {
  const app = Fastify();
  for (const [name, h] of Object.entries(HANDLERS)) app.post(`/${name}`, dtmx.fastify.branch(h));
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    await check(base);
  } finally {
    await app.close();
  }
});
