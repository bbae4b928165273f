// The barrier on the caller's own database client: node-postgres (a Client or a pool's
// client), mysql2 (promise API), better-sqlite3, and ioredis for the Redis barrier.
'use strict';

const native = require('./native');
const { call, byKind } = require('./errors');

/** The Redis barrier's default key expiry in seconds (the core's, 7 days). */
const REDIS_EXPIRE = native.REDIS_EXPIRE_SECS;

/** How to run SQL on one client: `begin`, `commit`, `rollback`, `execute` (affected
 * rows) and `reason` (the first column of the first row, or null). */
function driverOf(conn) {
  if (conn && typeof conn.prepare === 'function' && 'inTransaction' in conn) {
    return {
      dialect: 'sqlite',
      begin: async () => conn.exec('BEGIN'),
      commit: async () => conn.exec('COMMIT'),
      rollback: async () => conn.inTransaction && conn.exec('ROLLBACK'),
      execute: async (sql, params) => conn.prepare(sql).run(...params).changes,
      reason: async (sql, params) => firstValue(conn.prepare(sql).get(...params)),
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

/** Drives a native barrier machine on a driver; the final step's result. */
async function drive(machine, d) {
  for (;;) {
    const step = machine.step();
    if (step.kind === 'done') return step.result;
    if (step.kind === 'execute') {
      const rows = await d.execute(step.sql, step.params);
      call(() => machine.feedAffected(Number(rows) || 0));
    } else {
      const reason = await d.reason(step.sql, step.params);
      call(() => machine.feedReason(reason));
    }
  }
}

/** Runs `work` between begin and commit on `d`; rolls back and rethrows on error. */
async function inTransaction(d, work) {
  await d.begin();
  try {
    const result = await work();
    await d.commit();
    return result;
  } catch (e) {
    try {
      await d.rollback();
    } catch {
      // the original error matters more than a failed rollback
    }
    throw e;
  }
}

function tableFor(d, options) {
  if (options && options.table) return options.table.native || options.table;
  return new native.BarrierTable(d.dialect, undefined);
}

/** The barrier of one branch call; build one per request from its branch. */
class Barrier {
  /** `branch` is `{transType, gid, branchId, op}` (e.g. from `parseBranch`). */
  constructor(branch) {
    const b = branch || {};
    this.native = call(() => new native.Barrier(b.transType || '', b.gid || '', b.branchId || '', b.op || ''));
  }

  /**
   * Runs `busi(conn)` at most once for this branch, in one local transaction with the
   * barrier rows, then commits; rolls back and rethrows if anything throws. Resolves to
   * `busi`'s result, or undefined when the barrier skipped it (a duplicate, a null
   * compensation or a suspended try). Throws a DuplicatedError for a msg whose
   * check-back already rolled it back. Options: `{table}` (a BarrierTable).
   */
  async call(conn, busi, options) {
    const d = driverOf(conn);
    const machine = this.native.call(tableFor(d, options));
    return inTransaction(d, async () => {
      const decision = await drive(machine, d);
      call(() => machine.check());
      return decision === 'run_business' ? busi(conn) : undefined;
    });
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

/** The barrier of the msg `branch.gid` (its local work and its check-back). */
function msgBarrier(branch) {
  return call(() => native.Barrier.forMsg((branch || {}).gid || ''));
}

/** The msg check-back on `conn`: resolves when the local transaction of `branch.gid`
 * committed, rejects with a FailureError when it did not (and now never will). */
async function queryPrepared(conn, branch, options) {
  const d = driverOf(conn);
  const machine = msgBarrier(branch).queryPrepared(tableFor(d, options));
  await inTransaction(d, () => drive(machine, d));
  call(() => machine.check());
}

/** The msg check-back on Redis (for a msg whose local work used `redisCheckAdjustAmount`). */
async function redisQueryPrepared(redis, branch, expire = REDIS_EXPIRE) {
  const q = call(() => msgBarrier(branch).redisQueryPrepared(expire));
  const r = await redis.eval(q.script, q.keys.length, ...q.keys, ...q.args);
  call(() => q.check(text(r)));
}

module.exports = { Barrier, BarrierTable, queryPrepared, redisQueryPrepared, driverOf };
