// A small business service for the end-to-end tests: saga, msg and TCC branches that
// record their calls and fail on demand, and a msg check-back on a real SQLite database
// (sql.js) through the package's barrier helpers.

import initSqlJs from 'sql.js';
import * as dtmx from '../node.js';
import { serve } from './helpers.js';

/** A `db` for the barrier helpers over a sql.js database. */
export function sqlJsDb(db) {
  return {
    dialect: 'sqlite',
    begin: () => db.run('BEGIN'),
    commit: () => db.run('COMMIT'),
    rollback: () => db.run('ROLLBACK'),
    execute: (sql, params) => {
      db.run(sql, params);
      return db.getRowsModified();
    },
    reason: (sql, params) => {
      const stmt = db.prepare(sql);
      try {
        stmt.bind(params);
        return stmt.step() ? stmt.get()[0] : null;
      } finally {
        stmt.free();
      }
    },
  };
}

/** Starts the service: `{url, calls, db, sql, close}`. A step fails (409) when the
 * payload's `fail` names it. */
export async function startBusi() {
  const SQL = await initSqlJs();
  const sqlite = new SQL.Database();
  const db = sqlJsDb(sqlite);
  for (const stmt of new dtmx.BarrierTable('sqlite').ddl()) db.execute(stmt, []);
  sqlite.run('create table balance (id integer primary key, amount integer not null)');
  sqlite.run('insert into balance values (1, 0)');

  const calls = [];
  const server = await serve(async (req, body) => {
    const u = new URL(req.url, 'http://local');
    const name = u.pathname.split('/').pop();
    const branch = dtmx.Branch.fromQuery(u.search);
    let data = {};
    try {
      data = body.length ? JSON.parse(body.toString()) : {};
    } catch {
      data = {};
    }
    calls.push({ name, gid: branch.gid, op: branch.op, data });
    if (name === 'QueryPrepared') {
      try {
        await dtmx.Barrier.forMsg(branch.gid).queryPrepared(db);
        return dtmx.reply();
      } catch (e) {
        return dtmx.reply(e);
      }
    }
    if (data.fail === name) return dtmx.reply(new dtmx.FailureError(`${name} refused`));
    return dtmx.reply();
  });
  return {
    url: `${server.url}/api/busi`,
    calls,
    db,
    sql: sqlite,
    /** The calls of transaction `gid`, by step name. */
    namesOf: (gid) => calls.filter((c) => c.gid === gid).map((c) => c.name),
    close: server.close,
  };
}
