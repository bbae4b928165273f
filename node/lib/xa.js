// The RM side of XA: one branch call of an XA global transaction on a dedicated
// connection of mysql2 (MySQL, MariaDB) or pg (PostgreSQL, which needs
// `max_prepared_transactions` > 0). dtm and the Xa client call the same URL for phase 1
// (`op=action`: run `busi` in a new XA transaction, register the branch, prepare) and
// phase 2 (`op=commit` / `rollback`).
'use strict';

const native = require('./native');
const { call, kindOf, messageOf } = require('./errors');
const { BarrierTable, driverOf } = require('./barrier');
const { Branch } = require('./branch');

/**
 * The RM side of one XA branch call as a machine the host drives (what `xaLocal` runs):
 * `step()` says what to do next, `{kind, ...}`: `execute` / `query` (run `sql` with
 * `params` on the dedicated connection, then `feedAffected(rows)` / `feedReason(reason)`,
 * or `feedSqlError(message)`), `business` (run the business work, then
 * `feedBusiness(error)`: nothing for a success, else what it threw), `send` (send the
 * request `{method, url, headers, body}`, then `feedReply(status, body)` or
 * `feedSendError(message)`), `done` (then `finish()`, which throws the error to reply
 * with, if any).
 */
class XaLocal {
  /** The call of `branch` (a Branch or `{gid, transType, branchId, op, dtm, phase2Url}`)
   * keeping its barrier rows in `table` (a BarrierTable; default: MySQL's). */
  constructor(branch, table) {
    const t = table ? table.native || table : new BarrierTable('mysql').native;
    this.native = call(() => new native.XaLocal(new Branch(branch), t));
  }

  /** What to do now. */
  step() {
    return call(() => this.native.step());
  }

  /** The rows the `execute` step affected. */
  feedAffected(rows) {
    call(() => this.native.feedAffected(Math.max(Number(rows) || 0, 0)));
  }

  /** The reason the `query` step read (null: no row). */
  feedReason(reason) {
    call(() => this.native.feedReason(reason === undefined || reason === null ? null : String(reason)));
  }

  /** The database's error (a message or the thrown value) for the `execute` or `query` step. */
  feedSqlError(error) {
    call(() => this.native.feedSqlError(messageOf(error)));
  }

  /** The business work's end: nothing (undefined, null) for a success, else what it threw. */
  feedBusiness(error) {
    if (error === undefined || error === null) call(() => this.native.feedBusiness(false, null, null));
    else call(() => this.native.feedBusiness(true, kindOf(error), messageOf(error)));
  }

  /** dtm's reply to the `send` step: its status and body (text or bytes). */
  feedReply(status, body) {
    call(() => this.native.feedReply(status, typeof body === 'string' ? body : Buffer.from(body || '')));
  }

  /** The failure to send the `send` step (a message or the thrown value). */
  feedSendError(error) {
    call(() => this.native.feedSendError(messageOf(error)));
  }

  /** Ends the call: throws the error to reply to dtm with, if any. */
  finish() {
    call(() => this.native.finish());
  }
}

/**
 * Runs the XA branch call `branch` on `conn` (outside any transaction of its own);
 * `busi(conn)` runs in phase 1 only. Rejects with the error to answer dtm with (see
 * `reply`): FailureError for a refused or fenced phase 1, DatabaseError for SQL errors.
 * Options: `{table, timeout}` (seconds for the registration request, default 10).
 */
async function xaLocal(conn, branch, busi, { table, timeout = 10 } = {}) {
  const d = driverOf(conn);
  const t = table || new BarrierTable(d.dialect);
  const xa = new XaLocal(branch, t);
  for (;;) {
    const step = xa.step();
    if (step.kind === 'done') break;
    if (step.kind === 'execute' || step.kind === 'query') {
      let value;
      try {
        value = step.kind === 'execute' ? await d.execute(step.sql, step.params) : await d.reason(step.sql, step.params);
      } catch (e) {
        xa.feedSqlError(e);
        continue;
      }
      if (step.kind === 'execute') xa.feedAffected(value);
      else xa.feedReason(value);
    } else if (step.kind === 'business') {
      try {
        await busi(conn);
        xa.feedBusiness(null);
      } catch (e) {
        xa.feedBusiness(e);
      }
    } else {
      await send(xa, step, timeout);
    }
  }
  xa.finish();
}

async function send(xa, step, timeout) {
  let reply;
  try {
    const r = await fetch(step.url, {
      method: step.method,
      headers: step.headers,
      body: step.body || undefined,
      signal: AbortSignal.timeout(timeout * 1000),
    });
    reply = { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
  } catch (e) {
    xa.feedSendError(e);
    return;
  }
  xa.feedReply(reply.status, reply.body);
}

module.exports = { XaLocal, xaLocal };
