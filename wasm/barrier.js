// The barrier on the host's own database or Redis. The machines (Barrier's callMachine,
// queryPreparedMachine, ..., and the Guard) decide; the methods this file adds to Barrier
// (call, queryPrepared, redisCheckAdjustAmount, redisQueryPrepared) and BarrierTable
// (create) run their statements on a `db`:
//
//   {
//     execute(sql, params) -> rows affected (number, or a Promise of it),
//     reason(sql, params)  -> the first column of the first row, or null,
//     paramStyle?          -> 'qmark' | 'format' | 'dollar' | 'numeric' (default: the
//                             dialect's own SQL: `?`, or `$1` on PostgreSQL),
//     inTransaction?       -> whether the connection is inside a transaction now (a getter
//                             on the driver's fact, e.g. better-sqlite3's db.inTransaction;
//                             absent: not known, counted as not in one),
//     transaction?(work)   -> runs `work()` in one local transaction and resolves to its
//                             result, rolling back when it throws (else
//                             begin()/commit()/rollback() when present),
//   }
//
// so the same code serves pg, D1 (no interactive transactions: pass a `transaction` that
// batches, or none), sql.js, better-sqlite3, ...

import { Barrier, BarrierTable, Guard, redisDefaultExpire } from './pkg/dtmx_wasm.js';
import { InvalidArgumentError } from './errors.js';

/** The SQL of a step or action in `db`'s placeholder style. */
function sqlOf(step, db, table) {
  return table && db.paramStyle ? table.render(step.sql, db.paramStyle) : step.sql;
}

function checkDb(db) {
  if (!db || typeof db.execute !== 'function' || typeof db.reason !== 'function') {
    throw new InvalidArgumentError('db must have execute(sql, params) and reason(sql, params)');
  }
}

/** Thrown out of the work of `db.transaction` to have it roll back. */
const ROLL_BACK = Symbol('roll back');

/** Carries out `guard`'s actions on `db` until it returns (resolves to the business code's
 * value, if it ran) or raises (rejects). */
async function follow(guard, db, table, busi) {
  const run = { value: undefined, hooked: false };
  for (;;) {
    const action = guard.action();
    if (action.kind === 'return') return run.value;
    if (action.kind === 'raise') throw guard.error();
    try {
      await carryOut(guard, action, db, table, busi, run);
    } catch (e) {
      guard.fail(e);
    }
  }
}

/** Carries out one action on `db` and reports it done to `guard`. */
async function carryOut(guard, action, db, table, busi, run) {
  switch (action.kind) {
    case 'begin':
      if (typeof db.transaction === 'function') return hooked(guard, db, table, busi, run);
      if (db.begin) await db.begin();
      break;
    case 'execute':
      return guard.feedAffected(Number(await db.execute(sqlOf(action, db, table), action.params)) || 0);
    case 'query': {
      const reason = await db.reason(sqlOf(action, db, table), action.params);
      return guard.feedReason(reason === undefined || reason === null ? null : String(reason));
    }
    case 'business':
      run.value = await busi();
      break;
    case 'commit':
      if (db.commit) await db.commit();
      break;
    case 'rollback':
      // After db.transaction, whatever ended its work was rolled back there.
      if (!run.hooked && db.rollback) await db.rollback();
      break;
  }
  guard.ok();
}

/** The guard's own transaction through `db.transaction(work)`: the work carries out the
 * actions from the begin until the commit (it returns) or the rollback (it throws). */
async function hooked(guard, db, table, busi, run) {
  run.hooked = true;
  try {
    await db.transaction(async () => {
      guard.ok();
      for (;;) {
        const action = guard.action();
        if (action.kind === 'commit') return;
        if (action.kind === 'rollback') throw ROLL_BACK;
        try {
          await carryOut(guard, action, db, table, busi, run);
        } catch (e) {
          guard.fail(e);
        }
      }
    });
  } catch (e) {
    if (e !== ROLL_BACK) throw e;
  }
  guard.ok();
}

/** Whether the call runs on a connection inside a transaction: the call's
 * `inTransaction` option, else the db's `inTransaction`. */
function inTransaction(db, options) {
  return options.inTransaction ?? db.inTransaction;
}

/** The table of a call: `options.table`, else the default table of `db.dialect`. */
function tableOf(db, options) {
  return options.table || new BarrierTable(db.dialect || 'sqlite');
}

/**
 * Runs `busi()` at most once for the branch this barrier guards, in one local transaction
 * with the barrier rows (table: `options.table`, a BarrierTable). On a connection inside
 * a transaction (`options.inTransaction`, else `db.inTransaction`) it joins that
 * transaction and leaves its commit or rollback to the caller; otherwise it begins its
 * own, committed when `busi` returns or is skipped and rolled back when anything throws.
 * Resolves to `busi`'s result, or undefined when the barrier skipped it (a duplicate, a
 * null compensation or a suspended try); rejects with what `busi` threw, or a
 * DuplicatedError for a msg whose check-back already rolled it back.
 */
Barrier.prototype.call = async function call(db, busi, options = {}) {
  checkDb(db);
  const table = tableOf(db, options);
  const guard = new Guard(this.callMachine(table), inTransaction(db, options));
  return follow(guard, db, table, busi);
};

/** The msg check-back on `db` for this barrier's gid (`Barrier.forMsg(gid)`, or the
 * barrier of the check-back request), with the ownership rule of `call`: resolves when
 * the msg's local transaction committed, rejects with a FailureError when it did not (and
 * now never will). */
Barrier.prototype.queryPrepared = async function queryPrepared(db, options = {}) {
  checkDb(db);
  const table = tableOf(db, options);
  const guard = Guard.checkBack(Barrier.forMsg(this.gid).queryPreparedMachine(table), inTransaction(db, options));
  await follow(guard, db, table);
};

/** Adds `amount` to the integer at `key` at most once for this barrier's branch, with
 * `evalScript(script, keys, args)` running Lua on Redis (resolving to its reply); resolves
 * to `applied`, `null_compensation`, `duplicate` or `suspended`. Keys live `expire`
 * seconds (default: `Barrier.redisDefaultExpire`, a week, as DTM). */
Barrier.prototype.redisCheckAdjustAmount = async function redisCheckAdjustAmount(evalScript, key, amount, expire) {
  const c = this.redisCheckAdjustAmountCall(key, amount, expire);
  const r = await evalScript(c.script, c.keys, c.args);
  return c.decide(r === undefined || r === null ? null : String(r));
};

/** The msg check-back on Redis for this barrier's gid (`Barrier.forMsg(gid)`): resolves
 * when the local transaction committed, rejects with a FailureError when it did not. */
Barrier.prototype.redisQueryPrepared = async function redisQueryPrepared(evalScript, expire) {
  const q = this.redisQueryPreparedCall(expire);
  const r = await evalScript(q.script, q.keys, q.args);
  q.check(r === undefined || r === null ? null : String(r));
};

/** The Redis barrier's default key expiry in seconds (7 days, as DTM). */
Object.defineProperty(Barrier, 'redisDefaultExpire', { get: () => redisDefaultExpire(), configurable: true });

/** Creates the table (and its schema) on `db` when missing: runs the statements of `ddl()`. */
BarrierTable.prototype.create = async function create(db) {
  if (!db || typeof db.execute !== 'function') throw new InvalidArgumentError('db must have execute(sql, params)');
  for (const sql of this.ddl()) await db.execute(sql, []);
};

export { Barrier, BarrierTable };
