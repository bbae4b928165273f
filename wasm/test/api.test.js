// The package's own API in Node.js: loading, the error classes against the module's
// table, option and payload handling, replies, and the barrier helpers on SQLite (sql.js).

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import initSqlJs from 'sql.js';
import * as dtmx from '../node.js';
import * as web from '../index.js';
import * as native from '../pkg/dtmx_wasm.js';
import { sqlJsDb } from '../testkit/busi.js';
import { serve } from '../testkit/helpers.js';

/** The error class of each kind. */
const byKind = Object.fromEntries(
  Object.values(dtmx).filter((v) => typeof v === 'function' && v.prototype instanceof dtmx.DtmxError).map((c) => [c.kind, c]),
);

test('api: the node entry loads the module once; init is idempotent', async () => {
  assert.equal(dtmx.isReady(), true);
  assert.equal(web.Client, dtmx.Client);
  await web.init();
  web.initSync(fs.readFileSync(new URL('../pkg/dtmx_wasm_bg.wasm', import.meta.url)));
  assert.equal(typeof new dtmx.Client('http://x/api/dtmsvr').localGid(), 'string');
});

test('api: the web entry loads from bytes or a compiled module, as in Workers and Deno', () => {
  const index = new URL('../index.js', import.meta.url).href;
  const wasm = new URL('../pkg/dtmx_wasm_bg.wasm', import.meta.url);
  for (const load of [
    `await d.init(fs.readFileSync(wasm));`,
    `d.initSync(new WebAssembly.Module(fs.readFileSync(wasm)));`,
  ]) {
    const code = `
      import fs from 'node:fs';
      const d = await import(${JSON.stringify(index)});
      const wasm = new URL(${JSON.stringify(wasm.href)});
      try { new d.Client('http://x/api/dtmsvr'); } catch (e) { console.log(e.name); }
      ${load}
      console.log(d.isReady(), new d.Client('http://x/api/dtmsvr').saga('g').gid);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'InternalError\ntrue g\n', load);
  }
});

test('api: one error class per kind of the table, with name, kind and code', () => {
  const table = native.errorTable();
  assert.equal(table.length, Object.keys(byKind).length);
  for (const row of table) {
    const cls = dtmx[row.className];
    assert.equal(cls, byKind[row.kind]);
    const e = new cls('m');
    assert.ok(e instanceof dtmx.DtmxError && e instanceof Error);
    assert.deepEqual([e.name, e.kind, e.code, e.message], [row.className, row.kind, row.code, 'm']);
    assert.deepEqual([cls.kind, cls.code], [row.kind, row.code]);
    assert.deepEqual([e.notes, e.status], [[], null]);
  }
  assert.equal(byKind.unfinished, dtmx.UnfinishedError);
});

test('api: errors thrown by the module are the typed classes', async () => {
  assert.throws(() => new dtmx.Client('localhost:36789'), (e) => e instanceof dtmx.InvalidArgumentError && e.kind === 'invalid_argument');
  const c = new dtmx.Client('http://127.0.0.1:9/api/dtmsvr');
  for (const bad of [{ nope: 1 }, { retryLimit: -1 }, { timeoutToFail: 1.5 }, { waitResult: 'yes' }, { branchHeaders: { 'a b': 'x' } }, 'gid-only-is-fine']) {
    if (typeof bad === 'string') assert.equal(c.saga(bad).gid, bad);
    else assert.throws(() => c.saga(bad), dtmx.InvalidArgumentError, JSON.stringify(bad));
  }
  // The core's option reader, with its own texts and camelCase names.
  for (const [options, message] of [
    [{ waitReslt: true }, 'unknown option "waitReslt"'],
    [{ wait_result: true }, 'unknown option "wait_result"'],
    [{ retryLimit: '3' }, 'option "retryLimit" must be an integer, got "3"'],
    [{ waitResult: 'yes' }, 'option "waitResult" must be a boolean, got "yes"'],
    [[1], 'options must be an object, got [1]'],
  ]) {
    assert.throws(() => c.tcc(options), { name: 'InvalidArgumentError', message }, JSON.stringify(options));
  }
  assert.equal(c.xa({ gid: 'g1', waitResult: null, retryInterval: undefined }).gid, 'g1');
  await assert.rejects(c.newGid(), (e) => e instanceof dtmx.TransportError && e.kind === 'transport');
  assert.throws(() => new dtmx.BarrierTable('oracle'), dtmx.InvalidArgumentError);
});

test('api: a payload without a JSON form is an invalid payload', () => {
  const c = new dtmx.Client('http://127.0.0.1:9/api/dtmsvr');
  const circular = {};
  circular.self = circular;
  for (const p of [{ amount: 10n }, circular, () => 1]) {
    assert.throws(
      () => c.saga('g').add('http://b/a', 'http://b/c', p),
      (e) => e instanceof dtmx.InvalidArgumentError && e.message.startsWith('invalid payload: cannot encode it as JSON: '),
    );
    assert.throws(() => c.msg('g').add('http://b/a', p), dtmx.InvalidArgumentError);
  }
  assert.equal(c.saga('g').add('http://b/a', 'http://b/c', { amount: 10 }).gid, 'g');
});

test('api: run() and doAndSubmit() resolve to the body value and rethrow its own error with the notes', async () => {
  // A dtm whose aborts fail: every other call succeeds.
  const calls = [];
  const dtm = await serve(async (req) => {
    calls.push(req.url);
    if (req.url.endsWith('/abort')) return { status: 500, body: 'store down' };
    return { status: 200, body: '{"dtm_result":"SUCCESS"}' };
  });
  try {
    const c = new dtmx.Client(`${dtm.url}/api/dtmsvr`);
    const tcc = c.tcc('t1');
    assert.deepEqual(await tcc.run(async (t) => (assert.equal(t, tcc), { order: 7 })), { order: 7 });
    assert.equal(await c.xa({ gid: 'x1' }).run(() => 'done'), 'done');
    assert.deepEqual(await c.msg('m1').add('http://b/a', {}).doAndSubmit('http://b/qp', (b) => b.branchId), '00');

    const own = new TypeError('disk on fire');
    await assert.rejects(c.tcc('t2').run(() => Promise.reject(own)), (e) => {
      assert.equal(e, own);
      assert.deepEqual(e.notes, ['abort failed: server: store down']);
      return true;
    });
    await assert.rejects(
      c.xa('x2').run(() => {
        throw new dtmx.FailureError('no money');
      }),
      (e) => e instanceof dtmx.FailureError && e.message === 'no money' && e.notes.length === 1,
    );
    // A failing body is aborted, never submitted; a thrown primitive comes back as it is.
    calls.length = 0;
    await assert.rejects(c.tcc('t3').run(() => Promise.reject('plain')), (e) => e === 'plain');
    assert.deepEqual(calls, ['/api/dtmsvr/prepare', '/api/dtmsvr/abort']);
    const msgOwn = new dtmx.FailureError('no stock');
    await assert.rejects(c.msg('m2').add('http://b/a', {}).doAndSubmit('http://b/qp', () => Promise.reject(msgOwn)), (e) => {
      assert.equal(e, msgOwn);
      assert.deepEqual(e.notes, ['abort failed: server: store down']);
      return true;
    });
  } finally {
    await dtm.close();
  }
});

test('api: gids and both call shapes', () => {
  const c = new dtmx.Client('http://127.0.0.1:9/api/dtmsvr/');
  assert.equal(c.server, 'http://127.0.0.1:9/api/dtmsvr');
  assert.equal(c.saga().gid.length, 22);
  assert.equal(c.saga('g1', { waitResult: true }).gid, 'g1');
  assert.equal(c.msg({ gid: 'g2' }).gid, 'g2');
  assert.equal(new dtmx.Tcc(c.server, { gid: 'g3' }).gid, 'g3');
  const tcc = c.tccFromBranch(dtmx.Branch.fromQuery('dtm=http://d/api/dtmsvr&gid=g4&trans_type=tcc&branch_id=01&op=try'));
  assert.equal(tcc.gid, 'g4');
  assert.equal(tcc.currentBranchId(), '0100');
});

test('api: branch identities from every query shape', () => {
  const q = 'gid=g1&trans_type=saga&branch_id=01&op=action&op=compensate';
  const want = dtmx.Branch.fromQuery(q);
  assert.ok(want instanceof dtmx.Branch);
  assert.deepEqual({ ...want }, { gid: 'g1', transType: 'saga', branchId: '01', op: 'action', dtm: '', phase2Url: '' });
  assert.deepEqual(dtmx.Branch.fromQuery(`?${q}`), want);
  assert.deepEqual(dtmx.Branch.fromQuery(new URL(`http://b/x?${q}`)), want);
  assert.deepEqual(dtmx.Branch.fromQuery(new URLSearchParams(q)), want);
  assert.deepEqual(dtmx.Branch.fromQueryPairs(new URLSearchParams(q)), want);
  assert.deepEqual(dtmx.Branch.fromQueryPairs({ gid: 'g1', trans_type: 'saga', branch_id: '01', op: ['action', 'compensate'] }), want);
  assert.deepEqual(dtmx.Branch.fromQueryPairs([...new URLSearchParams(q)]), want);
  assert.equal(want.toQuery(), 'branch_id=01&gid=g1&op=action&trans_type=saga');
  assert.deepEqual(dtmx.Branch.fromQuery(want.toQuery()), want);
  assert.deepEqual(dtmx.Branch.fromGrpcMetadata({ 'dtm-gid': 'g1', 'dtm-trans_type': 'saga', 'dtm-branch_id': '01', 'dtm-op': 'action' }), want);
  const b = dtmx.Barrier.fromQuery(q);
  assert.deepEqual([b.transType, b.gid, b.branchId, b.op], ['saga', 'g1', '01', 'action']);
  assert.equal(dtmx.Barrier.fromBranch(want).gid, 'g1');
  assert.equal(new dtmx.Barrier('saga', 'g1', '01', 'action').nextBarrierId(), '01');
  assert.equal(dtmx.Barrier.redisDefaultExpire, 7 * 24 * 3600);
});

test('api: replies for handlers', async () => {
  assert.deepEqual(dtmx.reply(), { status: 200, body: '{"dtm_result":"SUCCESS"}' });
  assert.deepEqual(dtmx.reply(null, { a: 1 }), { status: 200, body: '{"a":1}' });
  assert.equal(dtmx.reply(new dtmx.FailureError('no')).status, 409);
  assert.equal(dtmx.reply(new dtmx.OngoingError('later')).status, 425);
  assert.equal(dtmx.reply(new dtmx.DatabaseError('down')).status, 500);
  assert.equal(dtmx.reply(new TypeError('bug')).status, 500);
  const r = dtmx.replyResponse(new dtmx.FailureError('no'));
  assert.equal(r.status, 409);
  assert.equal(JSON.parse(await r.text()).dtm_result, 'FAILURE');
  assert.throws(() => dtmx.outcomeReply('maybe'), dtmx.InvalidArgumentError);
});

test('api: the barrier on SQLite runs the business once and skips what it must', async () => {
  const SQL = await initSqlJs();
  const sqlite = new SQL.Database();
  const db = sqlJsDb(sqlite);
  const table = new dtmx.BarrierTable('sqlite');
  for (const s of table.ddl()) db.execute(s, []);
  let runs = 0;
  const branch = (op) => ({ transType: 'saga', gid: 'g1', branchId: '01', op });
  const busi = () => ++runs;

  assert.equal(await dtmx.Barrier.fromBranch(branch('action')).call(db, busi), 1);
  assert.equal(await dtmx.Barrier.fromBranch(branch('action')).call(db, busi), undefined, 'duplicate');
  assert.equal(await dtmx.Barrier.fromBranch(branch('compensate')).call(db, busi), 2);
  // A compensation before its action (null compensation), then the late action is skipped.
  const late = (op) => ({ transType: 'saga', gid: 'g2', branchId: '01', op });
  assert.equal(await dtmx.Barrier.fromBranch(late('compensate')).call(db, busi), undefined);
  assert.equal(await dtmx.Barrier.fromBranch(late('action')).call(db, busi), undefined);
  assert.equal(runs, 2);

  // The business throwing rolls the barrier row back with it.
  await assert.rejects(
    dtmx.Barrier.fromBranch({ transType: 'saga', gid: 'g3', branchId: '01', op: 'action' }).call(db, () => {
      throw new dtmx.FailureError('no');
    }),
    dtmx.FailureError,
  );
  assert.equal(sqlite.exec("select count(*) from barrier where gid = 'g3'")[0].values[0][0], 0);

  // Parameter styles: the same machine on a driver with numbered placeholders.
  const seen = [];
  const numbered = { ...db, paramStyle: 'numeric', execute: (sql, p) => (seen.push(sql), 1) };
  await dtmx.Barrier.fromBranch({ transType: 'tcc', gid: 'g5', branchId: '01', op: 'try' }).call(numbered, busi);
  assert.ok(seen.every((s) => !s.includes('?') && s.includes(':1')), seen.join('\n'));
});

test('api: the Guard applies the ownership rule to the driver fact it is given', () => {
  const table = new dtmx.BarrierTable('sqlite');
  const call = () => new dtmx.Barrier('tcc', 'o1', '01', 'try').callMachine(table);
  assert.equal(new dtmx.Guard(call(), true).ownership, 'join');
  assert.equal(new dtmx.Guard(call(), false).ownership, 'own');
  assert.equal(new dtmx.Guard(call(), undefined).ownership, 'own', 'not known: not in a transaction');
  assert.throws(() => new dtmx.Guard(call(), 'yes'), {
    name: 'InvalidArgumentError',
    message: 'inTransaction must be a boolean, got yes',
  });
  // Own: the guard begins; joined: the first action is the barrier's insert.
  assert.deepEqual(new dtmx.Guard(call(), false).action(), { kind: 'begin' });
  assert.equal(new dtmx.Guard(call(), true).action().kind, 'execute');
  const check = dtmx.Guard.checkBack(dtmx.Barrier.forMsg('o2').queryPreparedMachine(table), true);
  assert.equal(check.ownership, 'join');
});

/** `db` with every call it gets recorded in `calls` (`begin`, `execute`, ...). */
function recorded(db, calls) {
  const out = { dialect: db.dialect };
  for (const name of ['begin', 'commit', 'rollback', 'execute', 'reason', 'transaction']) {
    if (db[name]) out[name] = (...args) => (calls.push(name), db[name](...args));
  }
  return out;
}

test('api: Barrier#call joins the caller\'s transaction (inTransaction) and owns one otherwise', async () => {
  const SQL = await initSqlJs();
  const sqlite = new SQL.Database();
  const base = sqlJsDb(sqlite);
  for (const s of new dtmx.BarrierTable('sqlite').ddl()) base.execute(s, []);
  sqlite.run('create table ledger (v text)');
  const write = (v) => () => (sqlite.run('insert into ledger values (?)', [v]), v);
  const count = (sql) => sqlite.exec(sql)[0].values[0][0];
  const try_ = (gid) => dtmx.Barrier.fromBranch({ transType: 'tcc', gid, branchId: '01', op: 'try' });

  // Joined (the call's option): no begin, commit or rollback of its own; the caller's
  // rollback undoes the business code and the barrier row.
  const calls = [];
  sqlite.run('BEGIN');
  assert.equal(await try_('j1').call(recorded(base, calls), write('j1'), { inTransaction: true }), 'j1');
  assert.deepEqual(calls, ['execute']);
  sqlite.run('ROLLBACK');
  assert.equal(count("select count(*) from barrier where gid = 'j1'"), 0);
  assert.equal(count('select count(*) from ledger'), 0);

  // Joined (the db's own fact), the business code throwing: its error, the caller's
  // transaction left open for the caller to roll back.
  calls.length = 0;
  sqlite.run('BEGIN');
  const joined = { ...recorded(base, calls), inTransaction: true };
  const refused = new dtmx.FailureError('no money');
  await assert.rejects(
    try_('j2').call(joined, () => {
      throw refused;
    }),
    (e) => e === refused,
  );
  assert.deepEqual(calls, ['execute']);
  sqlite.run('ROLLBACK');

  // The call's option wins over the db's fact: a connection the db thinks is in a
  // transaction, told it is not, gets the barrier's own.
  calls.length = 0;
  await try_('j3').call(joined, write('j3'), { inTransaction: false });
  assert.deepEqual(calls, ['begin', 'execute', 'commit']);
  assert.equal(count("select count(*) from ledger where v = 'j3'"), 1);
});

test('api: Barrier#call on db.transaction(work): committed, rolled back, the thrown value kept', async () => {
  const SQL = await initSqlJs();
  const sqlite = new SQL.Database();
  const base = sqlJsDb(sqlite);
  for (const s of new dtmx.BarrierTable('sqlite').ddl()) base.execute(s, []);
  const ends = [];
  const db = {
    dialect: 'sqlite',
    execute: base.execute,
    reason: base.reason,
    async transaction(work) {
      sqlite.run('BEGIN');
      try {
        const result = await work();
        sqlite.run('COMMIT');
        ends.push('commit');
        return result;
      } catch (e) {
        sqlite.run('ROLLBACK');
        ends.push('rollback');
        throw e;
      }
    },
  };
  const count = (gid) => sqlite.exec(`select count(*) from barrier where gid = '${gid}'`)[0].values[0][0];
  const msg = (gid) => dtmx.Barrier.forMsg(gid);

  assert.equal(await msg('t1').call(db, () => 'done'), 'done');
  assert.equal(count('t1'), 1);
  await assert.rejects(msg('t1').call(db, () => 'again'), dtmx.DuplicatedError);
  const own = new TypeError('bad row');
  await assert.rejects(
    msg('t2').call(db, () => {
      throw own;
    }),
    (e) => e === own && e.notes.length === 0,
  );
  assert.equal(count('t2'), 0);
  await assert.rejects(dtmx.Barrier.forMsg('t2').queryPrepared(db), dtmx.FailureError);
  await dtmx.Barrier.forMsg('t1').queryPrepared(db);
  assert.deepEqual(ends, ['commit', 'rollback', 'rollback', 'commit', 'commit']);
});

test('api: a failing rollback is a note on the error that caused it', async () => {
  const SQL = await initSqlJs();
  const sqlite = new SQL.Database();
  const base = sqlJsDb(sqlite);
  for (const s of new dtmx.BarrierTable('sqlite').ddl()) base.execute(s, []);
  const db = {
    ...base,
    rollback: () => {
      sqlite.run('ROLLBACK');
      throw new Error('connection lost');
    },
  };
  const own = new Error('disk on fire');
  const b = dtmx.Barrier.fromBranch({ transType: 'saga', gid: 'r1', branchId: '01', op: 'action' });
  await assert.rejects(
    b.call(db, () => {
      throw own;
    }),
    (e) => e === own && e.notes.length === 1 && e.notes[0] === 'rollback failed: database: connection lost',
  );
  // A DuplicatedError of the core keeps its class, the failed rollback noted on it.
  await dtmx.Barrier.forMsg('r2').call(base, () => 1);
  await assert.rejects(dtmx.Barrier.forMsg('r2').call(db, () => 2), (e) => {
    assert.equal(e.name, 'DuplicatedError');
    assert.deepEqual(e.notes, ['rollback failed: database: connection lost']);
    return true;
  });
});

test('api: the msg check-back and the Redis barrier defaults come from the core', async () => {
  const SQL = await initSqlJs();
  const sqlite = new SQL.Database();
  const db = sqlJsDb(sqlite);
  const table = new dtmx.BarrierTable('sqlite');
  for (const s of table.ddl()) db.execute(s, []);
  const msg = dtmx.Barrier.forMsg('m1');
  assert.deepEqual([msg.transType, msg.gid, msg.branchId, msg.op], ['msg', 'm1', '00', 'msg']);
  assert.throws(() => msg.checkBack('FAILURE'), { name: 'FailureError', message: 'the local transaction of msg m1 did not commit: FAILURE' });
  msg.checkBack('SUCCESS');
  // Nothing committed: the check-back answers a FailureError for good.
  await assert.rejects(dtmx.Barrier.forMsg('m1').queryPrepared(db), {
    name: 'FailureError',
    message: 'the local transaction of msg m1 did not commit: FAILURE',
  });
  // The local transaction committed through the msg barrier: the check-back succeeds.
  await dtmx.Barrier.forMsg('m2').call(db, () => 1);
  await dtmx.Barrier.forMsg('m2').queryPrepared(db);

  const week = dtmx.Barrier.forMsg('m3').redisCheckAdjustAmountCall('k', 1, 7 * 24 * 3600);
  assert.deepEqual(dtmx.Barrier.forMsg('m3').redisCheckAdjustAmountCall('k', 1).args, week.args);
  const replies = [];
  const evalScript = (script, keys, args) => (replies.push(args), 'FAILURE');
  await assert.rejects(dtmx.Barrier.forMsg('m4').redisQueryPrepared(evalScript), dtmx.FailureError);
  assert.deepEqual(replies[0], dtmx.Barrier.forMsg('m4').redisQueryPreparedCall(7 * 24 * 3600).args);
});
