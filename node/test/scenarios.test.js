// The scenario vectors (tests/vectors/scenarios): every scenario replayed through the
// public API against the scripted DTM server and judge (judge.py, see the README there),
// one test per scenario. Host name `node`; option names in camelCase. The barrier
// scenarios (`"database": "sqlite"`) run on a real SQLite database through better-sqlite3:
// every step on one Database, the committed state read on a second one.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const Database = require('better-sqlite3');
const dtmx = require('..');
const { VECTORS } = require('../testkit/helpers');

const DIR = path.join(VECTORS, 'scenarios');
const SCENARIOS = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .flatMap((f) => JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')).scenarios);

let judge;
let judgeUrl;
let databases;

test.before(async () => {
  databases = fs.mkdtempSync(path.join(os.tmpdir(), 'dtmx-node-scenarios-'));
  assert.ok(SCENARIOS.length >= 30, `only ${SCENARIOS.length} scenarios found`);
  judge = spawn('python3', [path.join(DIR, 'judge.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: judge.stdout });
    lines.once('line', (line) => {
      lines.close();
      resolve(line);
    });
    judge.once('error', reject);
    judge.once('exit', (code) => reject(new Error(`judge.py exited (${code}) before its address`)));
  });
  judgeUrl = JSON.parse(first).url;
});

test.after(async () => {
  fs.rmSync(databases, { recursive: true, force: true });
  if (judge.exitCode !== null) return;
  const exited = new Promise((resolve) => judge.once('exit', resolve));
  judge.stdin.end();
  await exited;
});

/** POSTs `body` to the judge; its JSON answer. */
async function post(route, body) {
  const r = await fetch(`${judgeUrl}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, `${route}: ${r.status}`);
  return r.json();
}

/** The scenario with `{dtm}`, `{branch}` and `{closed}` replaced by the judge's URLs. */
function substitute(scenario, urls) {
  let text = JSON.stringify(scenario);
  for (const key of ['dtm', 'branch', 'closed']) text = text.replaceAll(`{${key}}`, urls[key]);
  return JSON.parse(text);
}

/** `wait_result` → `waitResult`. */
function camel(name) {
  return name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
}

/** A step's payload: `{"$unserializable": true}` is a value JSON cannot encode. */
function payloadOf(v) {
  return v !== null && typeof v === 'object' && v.$unserializable ? 1n : v;
}

/** The error a `raise` body step throws: the dtmx error of its kind, or for `host` a
 * plain Error. */
function raised(step) {
  if (step.kind === 'host') return new Error(step.message);
  const cls = Object.values(dtmx).find((c) => typeof c === 'function' && c.prototype instanceof dtmx.DtmxError && c.kind === step.kind);
  assert.ok(cls, `no error class of kind ${step.kind}`);
  return new cls(step.message);
}

/** Runs body steps: `call_branch` or `write` through `other`, then `return` or `raise`. */
async function runBody(steps, other) {
  for (const step of steps) {
    if (step.op === 'return') return step.value;
    if (step.op === 'raise') throw raised(step);
    await other(step);
  }
  return null;
}

/** Runs one scenario (URLs substituted); its outcome value. */
async function replay(scenario, urls) {
  const server = scenario.client && scenario.client.server === 'closed' ? urls.closed : urls.dtm;
  const client = new dtmx.Client(server);
  const t = scenario.transaction;
  const options = { gid: t.gid };
  for (const [k, v] of Object.entries(t.options || {})) options[camel(k)] = v;
  const noBranch = () => assert.fail('no branch call in this body');
  switch (t.type) {
    case 'saga': {
      const saga = client.saga(options);
      for (const step of scenario.steps) {
        if (step.op === 'add') saga.add(step.action, step.compensate, payloadOf(step.payload));
        else await saga.submit();
      }
      return null;
    }
    case 'msg': {
      const msg = client.msg(options);
      let out = null;
      for (const step of scenario.steps) {
        if (step.op === 'add') msg.add(step.action, payloadOf(step.payload));
        else if (step.op === 'submit') await msg.submit();
        else out = await msg.doAndSubmit(step.query_prepared, () => runBody(step.body, noBranch));
      }
      return out;
    }
    case 'tcc': {
      const body = scenario.steps[0].body;
      return client.tcc(options).run((tcc) =>
        runBody(body, (b) => tcc.callBranch(payloadOf(b.payload), b.try, b.confirm, b.cancel)),
      );
    }
    case 'xa': {
      const body = scenario.steps[0].body;
      return client.xa(options).run((xa) => runBody(body, (b) => xa.callBranch(payloadOf(b.payload), b.url)));
    }
    default:
      throw new Error(`unknown transaction type ${t.type}`);
  }
}

/** The error as the judge reads it (`host` for the body's own plain Error). */
function errorJson(e) {
  const own = e instanceof dtmx.DtmxError;
  return {
    kind: own ? e.kind : 'host',
    class: e.constructor.name,
    message: e.message,
    notes: e.notes,
    status: own ? e.status : null,
  };
}

/** One step of a barrier scenario on `conn`; its result. */
async function barrierStep(conn, step) {
  switch (step.op) {
    case 'begin':
    case 'commit':
    case 'rollback':
      conn.exec(step.op.toUpperCase());
      return null;
    case 'check_back':
      await dtmx.Barrier.forMsg(step.gid).queryPrepared(conn);
      return null;
    case 'barrier_call': {
      const b = step.barrier;
      const barrier = dtmx.Barrier.fromBranch({ transType: b.trans_type, gid: b.gid, branchId: b.branch_id, op: b.op });
      return barrier.call(conn, (db) =>
        runBody(step.body, (w) => {
          assert.equal(w.op, 'write');
          db.prepare('insert into ledger (gid, value) values (?, ?)').run(b.gid, w.value);
        }),
      );
    }
    default:
      throw new Error(`unknown barrier scenario step ${step.op}`);
  }
}

/** Runs a barrier scenario on a new SQLite database; the outcome with what is committed. */
async function replayOnSqlite(scenario) {
  assert.equal(scenario.database, 'sqlite');
  const file = path.join(databases, `${scenario.name}.db`);
  const conn = new Database(file);
  try {
    conn.pragma('journal_mode = WAL');
    await new dtmx.BarrierTable('sqlite').create(conn);
    conn.exec('create table ledger (gid text, value text)');
    const outcomes = [];
    for (const step of scenario.steps) {
      try {
        outcomes.push({ result: (await barrierStep(conn, step)) ?? null });
      } catch (e) {
        outcomes.push({ error: errorJson(e) });
      }
    }
    const second = new Database(file);
    try {
      return {
        host: 'node',
        outcomes,
        ledger: second.prepare("select gid || ' ' || value from ledger order by 1").pluck().all(),
        barrier_rows: second
          .prepare('select trans_type, gid, branch_id, op, barrier_id, reason from barrier order by 1, 2, 3, 4, 5, 6')
          .raw()
          .all(),
        in_transaction: conn.inTransaction,
      };
    } finally {
      second.close();
    }
  } finally {
    conn.close();
  }
}

for (const scenario of SCENARIOS) {
  test(scenario.name, async () => {
    const urls = await post('/__scenario', { name: scenario.name });
    let outcome;
    if (scenario.database) {
      outcome = await replayOnSqlite(scenario);
    } else {
      try {
        const result = await replay(substitute(scenario, urls), urls);
        outcome = { host: 'node', result: result ?? null, error: null };
      } catch (e) {
        outcome = { host: 'node', result: null, error: errorJson(e) };
      }
    }
    const verdict = await post('/__outcome', outcome);
    assert.ok(verdict.ok, `${verdict.problems.join('\n')}\noutcome: ${JSON.stringify(outcome)}`);
  });
}
