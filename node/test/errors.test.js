// Error kinds: every row of the bindings' table is an Error subclass with `name`, `kind` and
// `code`; invalid arguments, transport errors and server errors reach JavaScript with
// their kinds, synchronously or through rejected Promises.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const dtmx = require('..');
const native = require('../lib/native');
const { freePort, serve } = require('../testkit/helpers');

test('every kind of the table is an Error class with name and code', () => {
  const rows = native.errorTable();
  assert.ok(rows.length >= 9);
  for (const row of rows) {
    const cls = dtmx[row.className];
    assert.equal(typeof cls, 'function', row.className);
    const e = new cls('m');
    assert.ok(e instanceof Error && e instanceof dtmx.DtmxError);
    assert.equal(e.name, row.className);
    assert.equal(e.kind, row.kind);
    assert.equal(e.code, row.code);
    assert.equal(cls.kind, row.kind);
    assert.equal(cls.code, row.code);
    assert.equal(e.message, 'm');
    assert.deepEqual(e.notes, []);
    assert.equal(e.status, null);
  }
  assert.equal(dtmx.FailureError.kind, 'failure');
  assert.equal(dtmx.UnfinishedError.kind, 'unfinished');
  assert.equal(new dtmx.UnfinishedError('m').name, 'UnfinishedError');
});

test('invalid arguments throw InvalidArgumentError synchronously', () => {
  assert.throws(() => new dtmx.Client('localhost:36789'), (e) => e instanceof dtmx.InvalidArgumentError && e.kind === 'invalid_argument');
  const c = new dtmx.Client('http://127.0.0.1:1/api/dtmsvr');
  assert.throws(() => c.saga({ retryLimit: -1 }), dtmx.InvalidArgumentError);
  assert.throws(() => c.saga({ waitResults: true }), /unknown option/);
  assert.throws(() => c.msg({ branchHeaders: { 'a b': 'x' } }), dtmx.InvalidArgumentError);
  assert.throws(() => new dtmx.BarrierTable('oracle'), dtmx.InvalidArgumentError);
  assert.throws(() => dtmx.Barrier.fromBranch({ transType: 'saga', gid: '', branchId: '01', op: 'action' }), dtmx.InvalidArgumentError);
  assert.throws(() => dtmx.outcomeReply('maybe'), dtmx.InvalidArgumentError);
  assert.throws(() => new dtmx.Saga(42), dtmx.InvalidArgumentError);
});

test('options are checked by the core, gid is taken out first', () => {
  const c = new dtmx.Client('http://127.0.0.1:1/api/dtmsvr');
  const message = (fn) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof dtmx.InvalidArgumentError, String(e));
      return e.message;
    }
    return assert.fail('no error');
  };
  assert.equal(message(() => c.saga({ waitResults: true })), 'unknown option "waitResults"');
  assert.equal(message(() => c.tcc({ retryLimit: '3' })), 'option "retryLimit" must be an integer, got "3"');
  assert.equal(message(() => c.xa({ waitResult: 1 })), 'option "waitResult" must be a boolean, got 1');
  assert.equal(message(() => c.msg([1])), 'options must be an object, got [1]');
  assert.equal(message(() => c.saga({ wait_result: true })), 'unknown option "wait_result"');
  assert.equal(c.saga({ gid: 'g-1', waitResult: undefined, retryLimit: null, timeoutToFail: 3 }).gid, 'g-1');
  assert.equal(message(() => c.tccFromBranch({ gid: 'g', transType: 'tcc', branchId: '01', op: 'try', dtm: c.server, phase2Url: '' }, { gid: 'x' })), 'unknown option "gid"');
});

test('a payload JSON cannot encode throws the core\'s InvalidArgumentError', () => {
  const saga = new dtmx.Client('http://127.0.0.1:1/api/dtmsvr').saga();
  const circular = {};
  circular.self = circular;
  for (const bad of [{ amount: 1n }, circular, () => 1]) {
    assert.throws(
      () => saga.add('http://a', 'http://b', bad),
      (e) => e instanceof dtmx.InvalidArgumentError && e.message.startsWith('invalid payload: cannot encode it as JSON: '),
    );
  }
  assert.throws(() => saga.add('http://a', 'http://b', { n: 1n }), /BigInt/);
});

test('run() resolves to the body\'s value and rethrows its own error, a failed abort in its notes', async () => {
  const calls = [];
  const dtm = await serve(async (req) => {
    calls.push(req.url.split('?')[0]);
    if (req.url.startsWith('/api/dtmsvr/abort')) return { status: 500, body: 'store down' };
    return { status: 200, body: '{"dtm_result":"SUCCESS"}' };
  });
  try {
    const c = new dtmx.Client(`${dtm.url}/api/dtmsvr`);
    const boom = new TypeError('disk on fire');
    await assert.rejects(
      c.tcc().run(async () => {
        throw boom;
      }),
      (e) => e === boom && e instanceof TypeError && e.notes.length === 1 && e.notes[0] === 'abort failed: server: store down',
    );
    const refusal = new dtmx.FailureError('no money');
    await assert.rejects(
      c.xa().run(() => {
        throw refusal;
      }),
      (e) => e === refusal && e.notes[0] === 'abort failed: server: store down',
    );
    await assert.rejects(
      c.tcc().run(() => Promise.reject('a bare string')),
      (e) => e === 'a bare string',
    );
    const tcc = c.tcc();
    calls.length = 0;
    assert.deepEqual(await tcc.run(async (t) => ({ same: t === tcc })), { same: true });
    assert.deepEqual(calls, ['/api/dtmsvr/prepare', '/api/dtmsvr/submit']);
    const msg = c.msg().add('http://busi/MsgIn', {});
    assert.equal(await msg.doAndSubmit('http://busi/QueryPrepared', (branch) => branch.gid), msg.gid);
  } finally {
    await dtm.close();
  }
});

test('an unreachable server rejects with TransportError', async () => {
  const c = new dtmx.Client(`http://127.0.0.1:${await freePort()}/api/dtmsvr`);
  await assert.rejects(c.newGid(), (e) => e instanceof dtmx.TransportError && e.kind === 'transport' && e.name === 'TransportError');
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
