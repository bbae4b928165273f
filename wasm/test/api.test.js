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

test('api: one error class per kind of the table, with name, code and errno', () => {
  const table = native.errorTable();
  assert.equal(table.length, Object.keys(dtmx.byKind).length);
  for (const row of table) {
    const cls = dtmx[row.className];
    assert.equal(cls, dtmx.byKind[row.kind]);
    const e = new cls('m');
    assert.ok(e instanceof dtmx.DtmxError && e instanceof Error);
    assert.deepEqual([e.name, e.code, e.errno, e.message], [row.className, row.kind, row.code, 'm']);
    assert.equal(dtmx.kindOf(e), row.kind);
  }
  assert.equal(dtmx.kindOf(new Error('x')), null);
});

test('api: errors thrown by the module are the typed classes', async () => {
  assert.throws(() => new dtmx.Client('localhost:36789'), (e) => e instanceof dtmx.InvalidArgumentError && e.code === 'invalid_argument');
  const c = new dtmx.Client('http://127.0.0.1:9/api/dtmsvr');
  for (const bad of [{ nope: 1 }, { retryLimit: -1 }, { timeoutToFail: 1.5 }, { waitResult: 'yes' }, { branchHeaders: { 'a b': 'x' } }, 'gid-only-is-fine']) {
    if (typeof bad === 'string') assert.equal(c.saga(bad).gid, bad);
    else assert.throws(() => c.saga(bad), dtmx.InvalidArgumentError, JSON.stringify(bad));
  }
  await assert.rejects(c.newGid(), (e) => e instanceof dtmx.TransportError && e.code === 'transport');
  assert.throws(() => new dtmx.BarrierTable('oracle'), dtmx.InvalidArgumentError);
});

test('api: gids and both call shapes', () => {
  const c = new dtmx.Client('http://127.0.0.1:9/api/dtmsvr/');
  assert.equal(c.server, 'http://127.0.0.1:9/api/dtmsvr');
  assert.equal(c.saga().gid.length, 22);
  assert.equal(c.saga('g1', { waitResult: true }).gid, 'g1');
  assert.equal(c.msg({ gid: 'g2' }).gid, 'g2');
  assert.equal(new dtmx.Tcc(c.server, { gid: 'g3' }).gid, 'g3');
  const tcc = c.tccFromBranch(dtmx.parseBranch('dtm=http://d/api/dtmsvr&gid=g4&trans_type=tcc&branch_id=01&op=try'));
  assert.equal(tcc.gid, 'g4');
  assert.equal(tcc.currentBranchId(), '0100');
});

test('api: branch identities from every query shape', () => {
  const q = 'gid=g1&trans_type=saga&branch_id=01&op=action&op=compensate';
  const want = dtmx.parseBranch(q);
  assert.deepEqual(want, { gid: 'g1', transType: 'saga', branchId: '01', op: 'action', dtm: '', phase2Url: '' });
  assert.deepEqual(dtmx.parseBranch(`?${q}`), want);
  assert.deepEqual(dtmx.parseBranch(new URL(`http://b/x?${q}`)), want);
  assert.deepEqual(dtmx.parseBranch(new URLSearchParams(q)), want);
  assert.deepEqual(dtmx.parseBranch({ gid: 'g1', trans_type: 'saga', branch_id: '01', op: ['action', 'compensate'] }), want);
  assert.deepEqual(dtmx.parseBranch([...new URLSearchParams(q)]), want);
  assert.equal(dtmx.Barrier.fromQuery(q).branch.op, 'action');
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

  assert.equal(await dtmx.runBarrier(db, new dtmx.Barrier(branch('action')), busi), 1);
  assert.equal(await dtmx.runBarrier(db, new dtmx.Barrier(branch('action')), busi), undefined, 'duplicate');
  assert.equal(await dtmx.runBarrier(db, new dtmx.Barrier(branch('compensate')), busi), 2);
  // A compensation before its action (null compensation), then the late action is skipped.
  const late = (op) => ({ transType: 'saga', gid: 'g2', branchId: '01', op });
  assert.equal(await dtmx.runBarrier(db, new dtmx.Barrier(late('compensate')), busi), undefined);
  assert.equal(await dtmx.runBarrier(db, new dtmx.Barrier(late('action')), busi), undefined);
  assert.equal(runs, 2);

  // The business throwing rolls the barrier row back with it.
  await assert.rejects(
    dtmx.runBarrier(db, new dtmx.Barrier({ transType: 'saga', gid: 'g3', branchId: '01', op: 'action' }), () => {
      throw new dtmx.FailureError('no');
    }),
    dtmx.FailureError,
  );
  assert.equal(sqlite.exec("select count(*) from barrier where gid = 'g3'")[0].values[0][0], 0);

  // Parameter styles: the same machine on a driver with numbered placeholders.
  const seen = [];
  const numbered = { ...db, paramStyle: 'numeric', execute: (sql, p) => (seen.push(sql), 1) };
  await dtmx.runBarrier(numbered, new dtmx.Barrier({ transType: 'tcc', gid: 'g5', branchId: '01', op: 'try' }), busi);
  assert.ok(seen.every((s) => !s.includes('?') && s.includes(':1')), seen.join('\n'));
});
