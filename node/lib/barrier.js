// The barrier on the caller's own database client: node-postgres (a Client or a pool's
// client), mysql2 (promise API), better-sqlite3, and ioredis for the Redis barrier.
'use strict';

const native = require('./native');
const { call, byKind, kindOf, makeError, messageOf, withNotes } = require('./errors');

/** The Redis barrier's default key expiry in seconds (the core's, 7 days). */
const REDIS_EXPIRE = native.REDIS_EXPIRE_SECS;

/** How to run SQL on one client: `begin`, `commit`, `rollback`, `execute` (affected
 * rows), `reason` (the first column of the first row, or null) and `inTransaction` (is a
 * transaction open on it: true or false, or null when the driver cannot tell). */
function driverOf(conn) {
  if (conn && typeof conn.prepare === 'function' && 'inTransaction' in conn) {
    return {
      dialect: 'sqlite',
      begin: async () => conn.exec('BEGIN'),
      commit: async () => conn.exec('COMMIT'),
      // SQLite ends the transaction itself on some errors; then there is nothing to undo.
      rollback: async () => conn.inTransaction && conn.exec('ROLLBACK'),
      execute: async (sql, params) => conn.prepare(sql).run(...params).changes,
      reason: async (sql, params) => firstValue(conn.prepare(sql).get(...params)),
      inTransaction: () => conn.inTransaction,
    };
  }
  if (conn && typeof conn.query === 'function' && conn.connectionParameters) {
    return {
      dialect: 'postgres',
      begin: () => conn.query('BEGIN'),
      commit: () => conn.query('COMMIT'),
      rollback: () => conn.query('ROLLBACK'),
      execute: async (sql, params) => (await conn.query(sql, params)).rowCount,
      reason: async (sql, params) => firstValue((await conn.query(sql, params)).rows[0]),
      inTransaction: () => null,
    };
  }
  if (conn && typeof conn.beginTransaction === 'function' && typeof conn.execute === 'function') {
    return {
      dialect: 'mysql',
      begin: () => conn.beginTransaction(),
      commit: () => conn.commit(),
      rollback: () => conn.rollback(),
      execute: async (sql, params) => (await conn.query(sql, params))[0].affectedRows,
      reason: async (sql, params) => firstValue((await conn.query(sql, params))[0][0]),
      inTransaction: () => null,
    };
  }
  throw new byKind.invalid_argument(
    'unsupported database client: pass a pg Client, a mysql2/promise connection or a better-sqlite3 Database',
  );
}

function firstValue(row) {
  if (row === undefined || row === null) return null;
  const v = Object.values(row)[0];
  return v === undefined || v === null ? null : String(v);
}

/** Where the barrier rows live: a dialect and a table name (default
 * `dtm_barrier.barrier`, `barrier` on SQLite). */
class BarrierTable {
  constructor(dialect, name) {
    this.native = call(() => new native.BarrierTable(dialect, name));
  }

  /** The dialect's stable name. */
  get dialect() {
    return this.native.dialect;
  }

  /** The table name. */
  get name() {
    return this.native.name;
  }

  /** The statements creating the table when missing. */
  ddl() {
    return this.native.ddl();
  }

  /** Creates the table (and schema) on `conn` when missing. */
  async create(conn) {
    const d = driverOf(conn);
    for (const sql of this.ddl()) await d.execute(sql, []);
  }
}

/** Whether a transaction is open on the client: the driver's answer, or when it cannot
 * tell (pg, mysql2) the call's `inTransaction` option (default false). */
function inTransaction(d, options) {
  return d.inTransaction() ?? (options && options.inTransaction) ?? false;
}

function tableFor(d, options) {
  if (options && options.table) return options.table.native || options.table;
  return new native.BarrierTable(d.dialect, undefined);
}

/**
 * Carries out the actions of the native `guard` on the driver `d`: `busi(conn)` when it
 * says to run the business code. Resolves to what `busi` returned, or undefined when it
 * did not run. Rejects with the guard's error; when that error is one the driver or
 * `busi` threw, with that same thrown value, the core's notes added (a failed rollback).
 */
async function follow(guard, d, conn, busi) {
  let value;
  const thrown = [];
  for (;;) {
    const action = guard.action();
    if (action.kind === 'return') return value;
    if (action.kind === 'raise') {
      if (action.thrown === undefined || action.thrown === null) throw makeError(action.error);
      throw withNotes(thrown[action.thrown], action.error.notes);
    }
    try {
      switch (action.kind) {
        case 'begin':
          await d.begin();
          call(() => guard.ok());
          break;
        case 'execute': {
          const rows = await d.execute(action.sql, action.params);
          call(() => guard.feedAffected(Number(rows) || 0));
          break;
        }
        case 'query': {
          const reason = await d.reason(action.sql, action.params);
          call(() => guard.feedReason(reason));
          break;
        }
        case 'business':
          value = await busi(conn);
          call(() => guard.ok());
          break;
        case 'commit':
          await d.commit();
          call(() => guard.ok());
          break;
        case 'rollback':
          await d.rollback();
          call(() => guard.ok());
          break;
        default:
          throw new byKind.internal(`unknown barrier action ${action.kind}`);
      }
    } catch (e) {
      thrown.push(e);
      guard.fail(kindOf(e), messageOf(e));
    }
  }
}

/** The barrier of one branch call; build one per request from its branch. */
class Barrier {
  /** `branch` is `{transType, gid, branchId, op}` (e.g. from `parseBranch`). */
  constructor(branch) {
    const b = branch || {};
    this.native = call(() => new native.Barrier(b.transType || '', b.gid || '', b.branchId || '', b.op || ''));
  }

  /**
   * Runs `busi(conn)` at most once for this branch, in one database transaction with the
   * barrier rows. Resolves to `busi`'s result, or undefined when the barrier skipped it (a
   * duplicate, a null compensation or a suspended try). Throws a DuplicatedError for a
   * msg whose check-back already rolled it back, and rethrows what `busi` or the driver
   * threw. The transaction: on a client with no transaction open, the barrier's own
   * (committed when `busi` returns or is skipped, rolled back when anything throws); on a
   * client inside the caller's transaction, that one, joined (commit and rollback stay
   * with the caller). better-sqlite3 tells whether a transaction is open; with pg and
   * mysql2 say so with `inTransaction: true`. Options: `{table, inTransaction}`.
   */
  async call(conn, busi, options) {
    const d = driverOf(conn);
    const guard = call(() => native.Guard.forCall(this.native, tableFor(d, options), inTransaction(d, options)));
    return follow(guard, d, conn, busi);
  }

  /** Adds `amount` to the integer at `key` at most once for this branch, with an ioredis
   * client; resolves to `applied`, `null_compensation`, `duplicate` or `suspended`. */
  async redisCheckAdjustAmount(redis, key, amount, expire = REDIS_EXPIRE) {
    const c = call(() => this.native.redisCheckAdjustAmount(key, amount, expire));
    const r = await redis.eval(c.script, c.keys.length, ...c.keys, ...c.args);
    return call(() => c.decide(text(r)));
  }
}

function text(reply) {
  if (reply === undefined || reply === null) return null;
  return Buffer.isBuffer(reply) ? reply.toString() : String(reply);
}

/** The msg check-back on `conn`: resolves when the local transaction of `branch.gid`
 * committed, rejects with a FailureError when it did not (and now never will). Runs in a
 * transaction the way `Barrier.call` does (both answers commit); options:
 * `{table, inTransaction}`. */
async function queryPrepared(conn, branch, options) {
  const d = driverOf(conn);
  const gid = (branch || {}).gid || '';
  const guard = call(() => native.Guard.forCheckBack(gid, tableFor(d, options), inTransaction(d, options)));
  await follow(guard, d, conn);
}

/** The msg check-back on Redis (for a msg whose local work used `redisCheckAdjustAmount`). */
async function redisQueryPrepared(redis, branch, expire = REDIS_EXPIRE) {
  const q = call(() => native.Barrier.forMsg((branch || {}).gid || '').redisQueryPrepared(expire));
  const r = await redis.eval(q.script, q.keys.length, ...q.keys, ...q.args);
  call(() => q.check(text(r)));
}

module.exports = { Barrier, BarrierTable, queryPrepared, redisQueryPrepared, driverOf };
