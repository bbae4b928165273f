// Error kinds: every row of the bindings' table is an Error subclass with `name` and
// `code`; invalid arguments, transport errors and server errors reach JavaScript with
// their kinds, synchronously or through rejected Promises.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const dtmx = require('..');
const native = require('../lib/native');
const { freePort } = require('../testkit/helpers');

test('every kind of the table is an Error class with name and code', () => {
  const rows = native.errorTable();
  assert.ok(rows.length >= 9);
  for (const row of rows) {
    const cls = dtmx[row.className];
    assert.equal(typeof cls, 'function', row.className);
    const e = new cls('m');
    assert.ok(e instanceof Error && e instanceof dtmx.DtmxError);
    assert.equal(e.name, row.className);
    assert.equal(e.code, row.kind);
    assert.equal(e.errno, row.code);
    assert.equal(e.message, 'm');
  }
  assert.equal(dtmx.FailureError.kind, 'failure');
});

test('invalid arguments throw InvalidArgumentError synchronously', () => {
  assert.throws(() => new dtmx.Client('localhost:36789'), (e) => e instanceof dtmx.InvalidArgumentError && e.code === 'invalid_argument');
  const c = new dtmx.Client('http://127.0.0.1:1/api/dtmsvr');
  assert.throws(() => c.saga({ retryLimit: -1 }), dtmx.InvalidArgumentError);
  assert.throws(() => c.saga({ waitResults: true }), /unknown option/);
  assert.throws(() => c.msg({ branchHeaders: { 'a b': 'x' } }), dtmx.InvalidArgumentError);
  assert.throws(() => new dtmx.BarrierTable('oracle'), dtmx.InvalidArgumentError);
  assert.throws(() => new dtmx.Barrier({ transType: 'saga', gid: '', branchId: '01', op: 'action' }), dtmx.InvalidArgumentError);
  assert.throws(() => dtmx.outcomeReply('maybe'), dtmx.InvalidArgumentError);
  assert.throws(() => new dtmx.Saga(42), dtmx.InvalidArgumentError);
});

test('an unreachable server rejects with TransportError', async () => {
  const c = new dtmx.Client(`http://127.0.0.1:${await freePort()}/api/dtmsvr`);
  await assert.rejects(c.newGid(), (e) => e instanceof dtmx.TransportError && e.code === 'transport' && e.name === 'TransportError');
  await assert.rejects(c.saga().add('http://a', 'http://b', {}).submit(), dtmx.TransportError);
});

test('handler errors map to replies: failure, ongoing, anything else retried', () => {
  assert.equal(dtmx.reply().status, 200);
  assert.deepEqual(dtmx.reply(null, { ok: 1 }), { status: 200, body: '{"ok":1}' });
  assert.equal(dtmx.reply(new dtmx.FailureError('no')).status, 409);
  assert.equal(dtmx.reply(new dtmx.OngoingError('later')).status, 425);
  assert.equal(dtmx.reply(new dtmx.DatabaseError('down')).status, 500);
  const r = dtmx.reply(new RangeError('bug'));
  assert.equal(r.status, 500);
  assert.match(r.body, /RangeError: bug/);
});

test('ESM entry point exports the same API', async () => {
  const esm = await import('../index.mjs');
  assert.equal(esm.Saga, dtmx.Saga);
  assert.equal(esm.FailureError, dtmx.FailureError);
  assert.equal(esm.default, dtmx);
});
