// Replays every barrier*.json vectors file against the barrier machines of the wasm
// package (the sans-IO machines of Barrier: callMachine, queryPreparedMachine, ...).

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as dtmx from '../node.js';
import { VECTORS, loadVectors } from '../testkit/helpers.js';

const FILES = fs.readdirSync(VECTORS).filter((f) => /^barrier.*\.json$/.test(f)).sort();

function kindClass(kind) {
  return Object.values(dtmx).find((v) => typeof v === 'function' && v.prototype instanceof dtmx.DtmxError && v.kind === kind);
}

function barrier(b) {
  return new dtmx.Barrier(b.trans_type, b.gid, b.branch_id, b.op);
}

function defaultTable(data, dialect) {
  return data.tables.find((t) => t.dialect === dialect && t.table === null);
}

function dialects(data) {
  return [...new Set(data.tables.map((t) => t.dialect))].sort();
}

function replay(machine, steps, table) {
  for (const s of steps) {
    const step = machine.step();
    assert.equal(step.kind, s.run === 'insert_ignore' ? 'execute' : 'query');
    assert.equal(step.sql, table[s.run]);
    assert.deepEqual(step.params, s.params);
    if (step.kind === 'execute') machine.feedAffected(s.affected);
    else machine.feedReason(s.reason);
  }
  const last = machine.step();
  assert.equal(last.kind, 'done');
  return last.result;
}

function advance(b, c) {
  for (let i = 1; i < (c.call_index || 1); i++) b.nextBarrierId();
}

for (const file of FILES) {
  const data = loadVectors(file);
  const cases = (name, fn, skip) =>
    (data[name] || []).forEach((c, i) =>
      test(`${file}: ${name} ${c.name || (typeof c === 'string' ? c : i)}`, { skip: skip && skip(c) }, () => fn(c)),
    );

  cases('dialects', (c) => {
    for (const name of [c.name, ...c.aliases]) assert.equal(new dtmx.BarrierTable(name).dialect, c.name);
  });
  cases('invalid_dialects', (c) => {
    assert.throws(() => new dtmx.BarrierTable(c), dtmx.InvalidArgumentError);
  });
  cases('tables', (c) => {
    const t = new dtmx.BarrierTable(c.dialect, c.table ?? undefined);
    assert.equal(t.name, c.name);
    assert.equal(t.insertIgnoreSql(), c.insert_ignore);
    assert.equal(t.selectReasonSql(), c.select_reason);
    assert.deepEqual(t.ddl(), c.ddl);
  });
  cases('invalid_table_names', (c) => {
    for (const d of ['mysql', 'postgres', 'sqlite']) assert.throws(() => new dtmx.BarrierTable(d, c), dtmx.InvalidArgumentError);
  });
  cases(
    'construction',
    (c) => {
      const build = () => {
        if (c.fields) return barrier(c.fields);
        if (c.query) return typeof c.query === 'string' ? dtmx.Barrier.fromQuery(c.query) : dtmx.Barrier.fromQueryPairs(c.query);
        return dtmx.Barrier.fromGrpcMetadata(c.grpc_metadata);
      };
      if (c.expect) {
        const b = build();
        const got = { trans_type: b.transType, gid: b.gid, branch_id: b.branchId, op: b.op };
        for (const k of Object.keys(c.expect)) assert.equal(got[k], c.expect[k], k);
      } else {
        assert.throws(build, (e) => e instanceof kindClass(c.error_kind) && e.message.startsWith(c.error_prefix));
      }
    },
  );
  cases('calls', (c) => {
    for (const d of dialects(data)) {
      const b = barrier(c.barrier);
      advance(b, c);
      const m = b.callMachine(new dtmx.BarrierTable(d));
      assert.equal(replay(m, c.steps, defaultTable(data, d)), c.decision);
      if (c.error_kind) assert.throws(() => m.check(), kindClass(c.error_kind));
      else m.check();
    }
  });
  cases('query_prepared', (c) => {
    for (const d of dialects(data)) {
      const q = barrier(c.barrier).queryPreparedMachine(new dtmx.BarrierTable(d));
      if ('result' in c) assert.equal(replay(q, c.steps, defaultTable(data, d)), c.result);
      else assert.throws(() => replay(q, c.steps, defaultTable(data, d)), kindClass(c.error_kind));
    }
  });
  cases('xa', (c) => {
    for (const d of dialects(data)) {
      const b = barrier(c.barrier);
      const t = new dtmx.BarrierTable(d);
      const table = defaultTable(data, d);
      if (c.kind === 'action') {
        assert.equal(replay(b.xaActionMachine(t), c.steps, table), c.decision);
      } else {
        const s = b.xaRollbackFence(t);
        assert.equal(s.sql, table[c.statement.run]);
        assert.deepEqual(s.params, c.statement.params);
      }
    }
  });
  cases('redis_check_adjust_amount', (c) => {
    const b = barrier(c.barrier);
    advance(b, c);
    const make = () => b.redisCheckAdjustAmountCall(c.key, c.amount, c.expire);
    if (c.keys === undefined || c.keys === null) {
      assert.throws(make, kindClass(c.error_kind));
      return;
    }
    const r = make();
    assert.deepEqual(r.keys, c.keys);
    assert.deepEqual(r.args, c.args);
    if ('decision' in c) assert.equal(r.decide(c.reply), c.decision);
    else assert.throws(() => r.decide(c.reply), kindClass(c.error_kind));
  });
  cases('redis_query_prepared', (c) => {
    const b = barrier(c.barrier);
    const make = () => b.redisQueryPreparedCall(c.expire);
    if (c.keys === undefined || c.keys === null) {
      assert.throws(make, kindClass(c.error_kind));
      return;
    }
    const q = make();
    assert.deepEqual(q.keys, c.keys);
    assert.deepEqual(q.args, c.args);
    if ('result' in c) assert.equal(q.decide(c.reply), c.result);
    else assert.throws(() => q.decide(c.reply), kindClass(c.error_kind));
  });
}
