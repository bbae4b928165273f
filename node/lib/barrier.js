// The barrier on the caller's own database client: node-postgres (a Client or a pool's
// client), mysql2 (promise API), better-sqlite3, and ioredis for the Redis barrier.
'use strict';

const native = require('./native');
const { call, byKind, kindOf, makeError, messageOf, withNotes } = require('./errors');

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

  /** The insert-ignore statement of a barrier row, in the dialect's placeholders. */
  insertIgnoreSql() {
    return this.native.insertIgnoreSql();
  }

  /** The statement reading a barrier row's reason, in the dialect's placeholders. */
  selectReasonSql() {
    return this.native.selectReasonSql();
  }

  /** `sql` of this dialect with its placeholders in `style` (`qmark`, `format`, `dollar`,
   * `numeric`). */
  render(sql, style) {
    return call(() => this.native.render(sql, style));
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

/** The table's native object (a BarrierTable or a native one), else the default table
 * of `dialect`. */
function nativeTable(table, dialect) {
  if (table) return table.native || table;
  return new native.BarrierTable(dialect, undefined);
}

/** `[key, value]` pairs of an object (the first value of a repeated key) or of pairs. */
function pairsOf(query) {
  const entries = Array.isArray(query) ? query : Object.entries(query || {});
  const out = [];
  for (const [k, v] of entries) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined && first !== null) out.push([String(k), String(first)]);
  }
  return out;
}

/**
 * The sub-transaction barrier of one branch call: `new Barrier(transType, gid, branchId,
 * op)`, or from the request with `Barrier.fromQuery` (raw query string),
 * `fromQueryPairs` (`req.query`), `fromBranch`, `fromGrpcMetadata`; `Barrier.forMsg(gid)`
 * for a msg's local work and its check-back.
 */
class Barrier {
  constructor(transType, gid, branchId, op, wrapped) {
    this.native = wrapped || call(() => new native.Barrier(String(transType ?? ''), String(gid ?? ''), String(branchId ?? ''), String(op ?? '')));
  }

  static #wrap(make) {
    return new Barrier(null, null, null, null, call(make));
  }

  /** From a raw query string (`gid=...&op=...`, with or without `?`). */
  static fromQuery(query) {
    return Barrier.#wrap(() => native.Barrier.fromQuery(String(query ?? '')));
  }

  /** From decoded query parameters: an object (`req.query`) or `[key, value]` pairs. */
  static fromQueryPairs(pairs) {
    return Barrier.#wrap(() => native.Barrier.fromQueryPairs(pairsOf(pairs)));
  }

  /** From a branch (`{transType, gid, branchId, op}`, e.g. a `Branch`). */
  static fromBranch(branch) {
    const b = branch || {};
    return new Barrier(b.transType, b.gid, b.branchId, b.op);
  }

  /** From gRPC metadata (`dtm-gid`, ...): an object or `[key, value]` pairs. */
  static fromGrpcMetadata(metadata) {
    return Barrier.#wrap(() => native.Barrier.fromGrpcMetadata(pairsOf(metadata)));
  }

  /** The barrier of msg `gid`'s local work and of its check-back (`msg`, gid, `00`, `msg`). */
  static forMsg(gid) {
    return Barrier.#wrap(() => native.Barrier.forMsg(String(gid ?? '')));
  }

  /** The Redis barrier's default key expiry in seconds (7 days, as DTM). */
  static get redisDefaultExpire() {
    return native.REDIS_DEFAULT_EXPIRE;
  }

  /** The transaction type (`saga`, `tcc`, `msg`, `xa`). */
  get transType() {
    return this.native.transType;
  }

  /** The global transaction id. */
  get gid() {
    return this.native.gid;
  }

  /** The branch id. */
  get branchId() {
    return this.native.branchId;
  }

  /** The branch operation (`action`, `compensate`, `try`, ...). */
  get op() {
    return this.native.op;
  }

  /** Hands out the next barrier id (`01`, `02`, ...) of this branch call. */
  nextBarrierId() {
    return this.native.nextBarrierId();
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

  /** The msg check-back on `conn` for this barrier's gid (a `Barrier.forMsg(gid)`, or
   * the barrier of the check-back request): resolves when the msg's local transaction
   * committed, rejects with a FailureError when it did not (and now never will). Runs in
   * a transaction the way `call` does (both answers commit); options:
   * `{table, inTransaction}`. */
  async queryPrepared(conn, options) {
    const d = driverOf(conn);
    const guard = call(() => native.Guard.forCheckBack(this.gid, tableFor(d, options), inTransaction(d, options)));
    await follow(guard, d, conn);
  }

  /** Adds `amount` to the integer at `key` at most once for this branch, with an ioredis
   * client (or `eval(script, numKeys, ...keys, ...args)` function); resolves to
   * `applied`, `null_compensation`, `duplicate` or `suspended`. */
  async redisCheckAdjustAmount(redis, key, amount, expire = Barrier.redisDefaultExpire) {
    const c = this.redisCheckAdjustAmountCall(key, amount, expire);
    const r = await evalOn(redis, c);
    return call(() => c.decide(text(r)));
  }

  /** The msg check-back on Redis for this barrier's gid (for a msg whose local work used
   * `redisCheckAdjustAmount`): resolves when it committed, rejects with a FailureError
   * when it did not. */
  async redisQueryPrepared(redis, expire = Barrier.redisDefaultExpire) {
    const q = this.redisQueryPreparedCall(expire);
    const r = await evalOn(redis, q);
    call(() => q.check(text(r)));
  }

  /** The check-back's verdict (`SUCCESS` or `FAILURE`, how a check-back machine ends)
   * for this barrier's gid: returns for SUCCESS, throws the FailureError to answer dtm
   * with for FAILURE. */
  checkBack(result) {
    call(() => this.native.checkBack(String(result)));
  }

  /** The sans-IO guarded call on `table` (a BarrierTable): a machine whose `step()` says
   * what to run (`{kind: 'execute' | 'query' | 'done', sql, params, result}`) and that is
   * fed with `feedAffected(rows)` / `feedReason(reason)`; done with the decision
   * (`run_business`, `null_compensation`, `duplicate`, `suspended`, `msg_duplicated`). */
  callMachine(table) {
    return call(() => this.native.callMachine(nativeTable(table, 'mysql')));
  }

  /** The sans-IO msg check-back on `table`; done with `SUCCESS` or `FAILURE`. */
  queryPreparedMachine(table) {
    return call(() => this.native.queryPreparedMachine(nativeTable(table, 'mysql')));
  }

  /** The sans-IO phase 1 of an XA branch on `table`. */
  xaActionMachine(table) {
    return call(() => this.native.xaActionMachine(nativeTable(table, 'mysql')));
  }

  /** The statement `{sql, params}` fencing a phase-2 rollback of an XA branch. */
  xaRollbackFence(table) {
    return call(() => this.native.xaRollbackFence(nativeTable(table, 'mysql')));
  }

  /** The Redis script `{script, keys, args}` adjusting `key` by `amount` at most once;
   * its `decide(reply)` gives the decision for the script's reply. */
  redisCheckAdjustAmountCall(key, amount, expire = Barrier.redisDefaultExpire) {
    return call(() => this.native.redisCheckAdjustAmountCall(key, amount, expire));
  }

  /** The Redis msg check-back script `{script, keys, args}`; its `decide(reply)` gives
   * `SUCCESS` or `FAILURE`, its `check(reply)` throws for FAILURE. */
  redisQueryPreparedCall(expire = Barrier.redisDefaultExpire) {
    return call(() => this.native.redisQueryPreparedCall(expire));
  }
}

/** Runs a Redis script on an ioredis client (or an `eval`-like function). */
function evalOn(redis, script) {
  const f = typeof redis === 'function' ? redis : redis.eval.bind(redis);
  return f(script.script, script.keys.length, ...script.keys, ...script.args);
}

function text(reply) {
  if (reply === undefined || reply === null) return null;
  return Buffer.isBuffer(reply) ? reply.toString() : String(reply);
}

module.exports = { Barrier, BarrierTable, driverOf };
