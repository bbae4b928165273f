// The business service of the end-to-end tests: Express, dtmx's branch helpers, and a
// SQLite database (better-sqlite3) holding balances and barrier rows.
'use strict';

const express = require('express');
const Database = require('better-sqlite3');
const mysql = require('mysql2/promise');
const pg = require('pg');
const path = require('node:path');
const os = require('node:os');
const fs = require('node:fs');
const dtmx = require('..');

/** The MariaDB of the XA branches. */
const MARIADB = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };

/** Creates the XA branches' ledger and the barrier table on MariaDB. */
async function prepareMariadb() {
  const conn = await mysql.createConnection(MARIADB);
  try {
    await conn.query('create database if not exists dtmx_node');
    await conn.query('create table if not exists dtmx_node.account (id varchar(64) primary key, balance int not null)');
    await new dtmx.BarrierTable('mysql').create(conn);
  } finally {
    await conn.end();
  }
}

/** The PostgreSQL of the XA branches. */
const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres', password: 'mysecretpassword', database: 'postgres' };

async function pgClient() {
  const c = new pg.Client(POSTGRES);
  await c.connect();
  return c;
}

/** Creates the XA branches' ledger and the barrier table on PostgreSQL. */
async function preparePostgres() {
  const c = await pgClient();
  try {
    await c.query('create table if not exists dtmx_node_account (id varchar(64) primary key, balance int not null)');
    await new dtmx.BarrierTable('postgres').create(c);
  } finally {
    await c.end();
  }
}

/** The balance of `account` on PostgreSQL, or undefined. */
async function postgresBalance(account) {
  const c = await pgClient();
  try {
    const r = await c.query('select balance from dtmx_node_account where id = $1', [account]);
    return r.rows[0] && r.rows[0].balance;
  } finally {
    await c.end();
  }
}

/** The balance of `account` on MariaDB, or undefined. */
async function mariadbBalance(account) {
  const conn = await mysql.createConnection(MARIADB);
  try {
    const [rows] = await conn.query('select balance from dtmx_node.account where id = ?', [account]);
    return rows[0] && rows[0].balance;
  } finally {
    await conn.end();
  }
}

/** Starts the service on a free port: `{url, db, called(gid), close()}`. */
async function startBusi() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtmx-node-busi-'));
  const db = new Database(path.join(dir, 'busi.db'));
  db.exec('create table if not exists account (id text primary key, balance integer not null)');
  await new dtmx.BarrierTable('sqlite').create(db);
  const calls = new Map();
  const record = (branch, name) => {
    if (!calls.has(branch.gid)) calls.set(branch.gid, []);
    calls.get(branch.gid).push([name, branch.op]);
  };
  const app = express();
  app.use(express.json({ type: () => true }));

  const step = (name) =>
    dtmx.express.branch(async (req, branch) => {
      record(branch, name);
      const body = req.body || {};
      if (body.sleepMs) await new Promise((r) => setTimeout(r, body.sleepMs));
      if (body.fail === name) throw new dtmx.FailureError(`${name} refused FAILURE`);
    });
  for (const name of ['TransOut', 'TransOutRevert', 'TransIn', 'TransInRevert']) app.post(`/api/busi/${name}`, step(name));
  for (const name of ['TransInTry', 'TransInConfirm', 'TransInCancel', 'TransOutTry', 'TransOutConfirm', 'TransOutCancel']) {
    app.post(`/api/busi/${name}`, step(name));
  }
  app.post(
    '/api/busi/XaTransIn',
    dtmx.express.branch(async (req, branch) => {
      record(branch, 'XaTransIn');
      const body = req.body || {};
      const conn = await mysql.createConnection(MARIADB);
      try {
        await dtmx.xaLocal(conn, branch, async (c) => {
          if (body.fail === 'XaTransIn') throw new dtmx.FailureError('XaTransIn refused FAILURE');
          await c.query(
            'insert into dtmx_node.account (id, balance) values (?, ?) on duplicate key update balance = balance + values(balance)',
            [body.account, body.amount],
          );
        });
      } finally {
        await conn.end();
      }
    }),
  );
  app.post(
    '/api/busi/XaTransInPg',
    dtmx.express.branch(async (req, branch) => {
      record(branch, 'XaTransInPg');
      const body = req.body || {};
      const c = await pgClient();
      try {
        await dtmx.xaLocal(c, branch, async (conn) => {
          if (body.fail === 'XaTransInPg') throw new dtmx.FailureError('XaTransInPg refused FAILURE');
          await conn.query(
            'insert into dtmx_node_account (id, balance) values ($1, $2) on conflict (id) do update set balance = dtmx_node_account.balance + excluded.balance',
            [body.account, body.amount],
          );
        });
      } finally {
        await c.end();
      }
    }),
  );
  app.get(
    '/api/busi/QueryPrepared',
    dtmx.express.branch(async (req, branch) => dtmx.Barrier.forMsg(branch.gid).queryPrepared(db)),
  );

  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${server.address().port}/api/busi`,
    db,
    called: (gid) => calls.get(gid) || [],
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          db.close();
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}

/** The local work of a msg: adds `amount` to `account` under the msg's barrier. */
function transferLocally(db, account, amount) {
  return (branch) =>
    dtmx.Barrier.fromBranch(branch).call(db, (conn) => {
      conn
        .prepare('insert into account (id, balance) values (?, ?) on conflict(id) do update set balance = balance + excluded.balance')
        .run(account, amount);
    });
}

/** The balance of `account`, or undefined. */
function balance(db, account) {
  const row = db.prepare('select balance from account where id = ?').get(account);
  return row && row.balance;
}

module.exports = { startBusi, transferLocally, balance, prepareMariadb, mariadbBalance, preparePostgres, postgresBalance };
