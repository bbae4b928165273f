// The barrier on the host's own database or Redis. The machines (Barrier, BarrierCall,
// QueryPrepared, RedisCall, ...) decide; these helpers run their statements on a `db`:
//
//   {
//     execute(sql, params) -> rows affected (number, or a Promise of it),
//     reason(sql, params)  -> the first column of the first row, or null,
//     paramStyle?          -> 'qmark' | 'format' | 'dollar' | 'numeric' (default: the
//                             dialect's own SQL: `?`, or `$1` on PostgreSQL),
//     transaction?(work)   -> runs `work()` in one local transaction and resolves to its
//                             result (else begin()/commit()/rollback() when present),
//   }
//
// so the same code serves pg, D1 (no interactive transactions: pass a `transaction` that
// batches, or none), sql.js, ...

import { Barrier, BarrierTable } from './pkg/dtmx_wasm.js';
import { InvalidArgumentError } from './errors.js';

/** Runs a machine's steps on `db` until it is done; resolves to its result (a decision,
 * or `SUCCESS`/`FAILURE` for a check-back). */
export async function drive(machine, db, table) {
  for (;;) {
    const step = machine.step();
    if (step.kind === 'done') return step.result;
    const sql = table && db.paramStyle ? table.render(step.sql, db.paramStyle) : step.sql;
    if (step.kind === 'execute') {
      machine.feedAffected(Number(await db.execute(sql, step.params)) || 0);
    } else {
      const reason = await db.reason(sql, step.params);
      machine.feedReason(reason === undefined || reason === null ? null : String(reason));
    }
  }
}

function checkDb(db) {
  if (!db || typeof db.execute !== 'function' || typeof db.reason !== 'function') {
    throw new InvalidArgumentError('db must have execute(sql, params) and reason(sql, params)');
  }
}

/** Runs `work` as one local transaction of `db`. */
async function inTransaction(db, work) {
  if (typeof db.transaction === 'function') return db.transaction(work);
  if (db.begin) await db.begin();
  try {
    const result = await work();
    if (db.commit) await db.commit();
    return result;
  } catch (e) {
    try {
      if (db.rollback) await db.rollback();
    } catch {
      // the original error matters more than a failed rollback
    }
    throw e;
  }
}

/**
 * Runs `busi()` at most once for the branch `barrier` guards, in one local transaction
 * with the barrier rows (table: `options.table`, a BarrierTable). Resolves to `busi`'s
 * result, or undefined when the barrier skipped it (a duplicate, a null compensation or
 * a suspended try); throws a DuplicatedError for a msg whose check-back already rolled
 * it back.
 */
export async function runBarrier(db, barrier, busi, options = {}) {
  checkDb(db);
  const table = options.table || new BarrierTable(db.dialect || 'sqlite');
  const machine = barrier.call(table);
  return inTransaction(db, async () => {
    const decision = await drive(machine, db, table);
    machine.check();
    return decision === 'run_business' ? busi() : undefined;
  });
}

/** The msg check-back for `branch` (`{gid}`) on `db`: resolves when its local
 * transaction committed, rejects with a FailureError when it did not (and now never
 * will). */
export async function queryPrepared(db, branch, options = {}) {
  checkDb(db);
  const table = options.table || new BarrierTable(db.dialect || 'sqlite');
  const machine = Barrier.forMsg(branch.gid).queryPrepared(table);
  await inTransaction(db, () => drive(machine, db, table));
  machine.check();
}

/** Adds `amount` to the integer at `key` at most once for `barrier`'s branch, with
 * `evalScript(script, keys, args)` running Lua on Redis (resolving to its reply); resolves
 * to `applied`, `null_compensation`, `duplicate` or `suspended`. Keys live `expire`
 * seconds (default: a week, as DTM). */
export async function redisCheckAdjustAmount(evalScript, barrier, key, amount, expire) {
  const c = barrier.redisCheckAdjustAmount(key, amount, expire);
  const r = await evalScript(c.script, c.keys, c.args);
  return c.decide(r === undefined || r === null ? null : String(r));
}

/** The msg check-back on Redis for `barrier` (`Barrier.forMsg(gid)`): resolves when the
 * local transaction committed, rejects with a FailureError when it did not. */
export async function redisQueryPrepared(evalScript, barrier, expire) {
  const q = barrier.redisQueryPrepared(expire);
  const r = await evalScript(q.script, q.keys, q.args);
  q.check(r === undefined || r === null ? null : String(r));
}
