// Replays every scenario of tests/vectors/scenarios through the package's public API
// (host name `wasm`, option names in camelCase) against the scripted server and judge
// judge.py (see the README there): one test per scenario. The barrier scenarios run
// Barrier#call and Barrier#queryPrepared on a real SQLite database file through better-sqlite3 (one
// connection for the steps, a second one reading what is committed).

import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import os from 'node:os';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import * as dtmx from '../node.js';
import { VECTORS } from '../testkit/helpers.js';

/** The error class of each kind. */
const byKind = Object.fromEntries(
  Object.values(dtmx).filter((v) => typeof v === 'function' && v.prototype instanceof dtmx.DtmxError).map((c) => [c.kind, c]),
);

const DIR = path.join(VECTORS, 'scenarios');
const FILES = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const SCENARIOS = FILES.flatMap((f) => JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')).scenarios);

let judge;
let judgeUrl;

test.before(async () => {
  judge = spawn('python3', [path.join(DIR, 'judge.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: judge.stdout });
  const [first] = await Promise.race([
    new Promise((resolve) => lines.once('line', (line) => resolve([line]))),
    new Promise((_, reject) => judge.once('exit', (code) => reject(new Error(`judge.py exited with ${code}`)))),
  ]);
  judgeUrl = JSON.parse(first).url;
});

test.after(async () => {
  const exited = new Promise((resolve) => judge.once('exit', resolve));
  judge.stdin.end();
  await exited;
});

async function post(route, body) {
  const r = await fetch(`${judgeUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, route);
  return r.json();
}

/** `value` with `{dtm}`, `{branch}` and `{closed}` replaced by the judge's URLs. */
function substitute(value, urls) {
  let text = JSON.stringify(value);
  for (const key of ['dtm', 'branch', 'closed']) text = text.replaceAll(`{${key}}`, urls[key]);
  return JSON.parse(text);
}

/** The scenario's snake_case options in camelCase, as JavaScript code writes them. */
function camelOptions(options) {
  return Object.fromEntries(
    Object.entries(options || {}).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c) => c.toUpperCase()), v]),
  );
}

/** A step's payload: `$unserializable` is a value JSON cannot encode (a BigInt). */
function payload(value) {
  return value && value.$unserializable ? { amount: 10n } : value;
}

/** Runs body steps on `trans` (a Tcc, an Xa, or null for msg local work). */
async function body(steps, trans) {
  for (const step of steps) {
    switch (step.op) {
      case 'call_branch':
        if (trans instanceof dtmx.Tcc) await trans.callBranch(payload(step.payload), step.try, step.confirm, step.cancel);
        else await trans.callBranch(payload(step.payload), step.url);
        break;
      case 'return':
        return step.value;
      case 'raise':
        if (step.kind === 'host') throw new Error(step.message);
        throw new byKind[step.kind](step.message);
      default:
        throw new Error(`unknown body step ${step.op}`);
    }
  }
  return undefined;
}

/** Runs a scenario; resolves to its outcome value (rejects with its error). */
async function run(s, urls) {
  const client = new dtmx.Client(s.client?.server === 'closed' ? urls.closed : urls.dtm);
  const t = s.transaction;
  const options = { gid: t.gid, ...camelOptions(t.options) };
  let out;
  switch (t.type) {
    case 'saga': {
      const saga = client.saga(options);
      for (const step of s.steps) {
        if (step.op === 'add') saga.add(step.action, step.compensate, payload(step.payload));
        else out = await saga.submit();
      }
      break;
    }
    case 'msg': {
      const msg = client.msg(options);
      for (const step of s.steps) {
        if (step.op === 'add') msg.add(step.action, payload(step.payload));
        else if (step.op === 'submit') out = await msg.submit();
        else out = await msg.doAndSubmit(step.query_prepared, () => body(step.body, null));
      }
      break;
    }
    case 'tcc':
      out = await client.tcc(options).run((tcc) => body(s.steps[0].body, tcc));
      break;
    case 'xa':
      out = await client.xa(options).run((xa) => body(s.steps[0].body, xa));
      break;
    default:
      throw new Error(`unknown transaction type ${t.type}`);
  }
  return out;
}

/** The error as the judge reads it: a dtmx error's kind and class, or `host` and the
 * class of the host's own error. */
function errorJson(e) {
  const own = e instanceof dtmx.DtmxError;
  return {
    kind: own ? e.kind : 'host',
    class: own ? e.name : e.constructor.name,
    message: e.message,
    notes: e.notes ?? [],
    status: own ? e.status : null,
  };
}

/** better-sqlite3's connection `conn` as the barrier helpers' `db`; `inTransaction` is the
 * driver's own fact. */
function betterSqliteDb(conn) {
  return {
    dialect: 'sqlite',
    get inTransaction() {
      return conn.inTransaction;
    },
    begin: () => conn.exec('BEGIN'),
    commit: () => conn.exec('COMMIT'),
    rollback: () => conn.exec('ROLLBACK'),
    execute: (sql, params) => conn.prepare(sql).run(...params).changes,
    reason: (sql, params) => conn.prepare(sql).pluck().get(...params) ?? null,
  };
}

/** The business code of a barrier scenario's body on `conn`, for the barrier's gid. */
function business(conn, gid, steps) {
  return async () => {
    for (const step of steps) {
      switch (step.op) {
        case 'write':
          conn.prepare('insert into ledger (gid, value) values (?, ?)').run(gid, step.value);
          break;
        case 'return':
          return step.value;
        case 'raise':
          if (step.kind === 'host') throw new Error(step.message);
          throw new byKind[step.kind](step.message);
        default:
          throw new Error(`unknown body step ${step.op}`);
      }
    }
    return undefined;
  };
}

/** One step of a barrier scenario on `conn` (`db` over it); resolves to its value. */
async function barrierStep(conn, db, step) {
  switch (step.op) {
    case 'begin':
    case 'commit':
    case 'rollback':
      conn.exec(step.op.toUpperCase());
      return undefined;
    case 'check_back':
      return dtmx.Barrier.forMsg(step.gid).queryPrepared(db);
    case 'barrier_call': {
      const b = step.barrier;
      const barrier = dtmx.Barrier.fromBranch({ transType: b.trans_type, gid: b.gid, branchId: b.branch_id, op: b.op });
      return barrier.call(db, business(conn, b.gid, step.body));
    }
    default:
      throw new Error(`unknown barrier step ${step.op}`);
  }
}

/** Runs a barrier scenario on a new SQLite file; the outcome the judge reads. */
async function runBarrierScenario(s, dir) {
  const file = path.join(dir, `${s.name}.db`);
  const conn = new Database(file);
  const reader = new Database(file);
  try {
    conn.pragma('journal_mode = WAL');
    const db = betterSqliteDb(conn);
    for (const sql of new dtmx.BarrierTable('sqlite').ddl()) conn.exec(sql);
    conn.exec('create table ledger (gid text, value text)');
    const outcomes = [];
    for (const step of s.steps) {
      try {
        const value = await barrierStep(conn, db, step);
        outcomes.push({ result: value === undefined ? null : value });
      } catch (e) {
        outcomes.push({ error: errorJson(e) });
      }
    }
    const inTransaction = conn.inTransaction;
    // What is committed, read on the second connection while the first one's
    // transaction (if any) is still open.
    const ledger = reader.prepare("select gid || ' ' || value from ledger order by 1").pluck().all();
    const rows = reader
      .prepare('select trans_type, gid, branch_id, op, barrier_id, reason from barrier order by 1, 2, 3, 4, 5, 6')
      .raw()
      .all();
    return { host: 'wasm', outcomes, ledger, barrier_rows: rows, in_transaction: inTransaction };
  } finally {
    reader.close();
    conn.close();
  }
}

let barrierDir;

test.before(() => {
  barrierDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtmx-wasm-barrier-'));
});

test.after(() => {
  fs.rmSync(barrierDir, { recursive: true, force: true });
});

for (const scenario of SCENARIOS) {
  test(`scenario: ${scenario.name}`, async () => {
    const urls = await post('/__scenario', { name: scenario.name });
    if (scenario.database) {
      assert.equal(scenario.database, 'sqlite');
      const outcome = await runBarrierScenario(scenario, barrierDir);
      const verdict = await post('/__outcome', outcome);
      assert.ok(verdict.ok, `${verdict.problems.join('\n')}\noutcome: ${JSON.stringify(outcome)}`);
      return;
    }
    const s = substitute(scenario, urls);
    let outcome;
    try {
      const value = await run(s, urls);
      outcome = { host: 'wasm', result: value === undefined ? null : value, error: null };
    } catch (e) {
      outcome = { host: 'wasm', result: null, error: errorJson(e) };
    }
    const verdict = await post('/__outcome', outcome);
    assert.ok(verdict.ok, `${verdict.problems.join('\n')}\noutcome: ${JSON.stringify(outcome)}`);
  });
}

test('scenarios: every file holds scenarios', () => {
  assert.ok(SCENARIOS.length >= 30, `only ${SCENARIOS.length} scenarios found`);
  assert.ok(SCENARIOS.filter((s) => s.database).length >= 10, 'the barrier scenarios are missing');
});
