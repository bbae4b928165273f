// The RM side of XA: one branch call of an XA global transaction on a dedicated
// connection of mysql2 (MySQL, MariaDB) or pg (PostgreSQL, which needs
// `max_prepared_transactions` > 0). dtm and the Xa client call the same URL for phase 1
// (`op=action`: run `busi` in a new XA transaction, register the branch, prepare) and
// phase 2 (`op=commit` / `rollback`).
'use strict';

const native = require('./native');
const { call, kindOf, messageOf } = require('./errors');
const { BarrierTable, driverOf } = require('./barrier');

/**
 * Runs the XA branch call `branch` on `conn` (outside any transaction of its own);
 * `busi(conn)` runs in phase 1 only. Rejects with the error to answer dtm with (see
 * `reply`): FailureError for a refused or fenced phase 1, DatabaseError for SQL errors.
 * Options: `{table, timeout}` (seconds for the registration request, default 10).
 */
async function xaLocal(conn, branch, busi, { table, timeout = 10 } = {}) {
  const d = driverOf(conn);
  const t = table || new BarrierTable(d.dialect);
  const xa = call(() => new native.XaLocal(branch, t.native));
  for (;;) {
    const step = call(() => xa.step());
    if (step.kind === 'done') break;
    if (step.kind === 'execute' || step.kind === 'query') {
      let value;
      try {
        value = step.kind === 'execute' ? await d.execute(step.sql, step.params) : await d.reason(step.sql, step.params);
      } catch (e) {
        call(() => xa.feedSqlError(messageOf(e)));
        continue;
      }
      if (step.kind === 'execute') call(() => xa.feedAffected(Math.max(Number(value) || 0, 0)));
      else call(() => xa.feedReason(value));
    } else if (step.kind === 'business') {
      try {
        await busi(conn);
        call(() => xa.feedBusiness(false, null, null));
      } catch (e) {
        call(() => xa.feedBusiness(true, kindOf(e), messageOf(e)));
      }
    } else {
      await send(xa, step, timeout);
    }
  }
  call(() => xa.finish());
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
    call(() => xa.feedSendError(messageOf(e)));
    return;
  }
  call(() => xa.feedReply(reply.status, reply.body));
}

module.exports = { xaLocal };
