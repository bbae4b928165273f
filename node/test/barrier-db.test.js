// The barrier on real databases through the caller's own client: SQLite
// (better-sqlite3), PostgreSQL (pg), MariaDB (mysql2) and Redis (ioredis). Each database
// runs the decisions that matter: first run, duplicate, null compensation, suspended try,
// rollback with the business code, and the msg check-back; and the ownership rule: the
// caller's open transaction is joined and its commit or rollback left to the caller
// (better-sqlite3 says a transaction is open, pg and mysql2 are told `inTransaction`).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const Database = require('better-sqlite3');
const pg = require('pg');
const mysql = require('mysql2/promise');
const Redis = require('ioredis');
const dtmx = require('..');

const DATABASES = {
  sqlite: {
    connect: (() => {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dtmx-node-barrier-')), 'barrier.db');
      return async () => new Database(file);
    })(),
    close: async (c) => c.close(),
    begin: async (c) => c.exec('BEGIN'),
    commit: async (c) => c.exec('COMMIT'),
    rollback: async (c) => c.exec('ROLLBACK'),
    joined: {},
    ledger: 'dtmx_ledger',
    run: async (c, sql, params) => c.prepare(sql.replaceAll(/\$\d/g, '?')).run(...params),
    count: async (c, sql, params) => Number(Object.values(c.prepare(sql.replaceAll(/\$\d/g, '?')).get(...params))[0]),
  },
  postgres: {
    connect: async () => {
      const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', password: 'mysecretpassword', database: 'postgres' });
      await c.connect();
      return c;
    },
    close: async (c) => c.end(),
    begin: async (c) => c.query('BEGIN'),
    commit: async (c) => c.query('COMMIT'),
    rollback: async (c) => c.query('ROLLBACK'),
    joined: { inTransaction: true },
    ledger: 'dtmx_node_ledger',
    run: async (c, sql, params) => c.query(sql, params),
    count: async (c, sql, params) => Number(Object.values((await c.query(sql, params)).rows[0])[0]),
  },
  mariadb: {
    connect: async () => mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' }),
    close: async (c) => c.end(),
    begin: async (c) => c.beginTransaction(),
    commit: async (c) => c.commit(),
    rollback: async (c) => c.rollback(),
    joined: { inTransaction: true },
    ledger: 'dtmx_node.dtmx_ledger',
    run: async (c, sql, params) => c.query(sql.replaceAll(/\$\d/g, '?'), params),
    count: async (c, sql, params) => Number(Object.values((await c.query(sql.replaceAll(/\$\d/g, '?'), params))[0][0])[0]),
  },
};

const uid = () => crypto.randomUUID().replaceAll('-', '').slice(0, 20);

for (const [name, db] of Object.entries(DATABASES)) {
  const branch = (gid, op, transType = 'tcc') => ({ transType, gid, branchId: transType === 'msg' ? '00' : '01', op });

  /** One branch call guarded by the barrier; the business code writes a ledger row. */
  async function guarded(gid, op, { fail = false, transType = 'tcc' } = {}) {
    const conn = await db.connect();
    try {
      return await dtmx.Barrier.fromBranch(branch(gid, op, transType)).call(conn, async (c) => {
        await db.run(c, `insert into ${db.ledger} (gid, op) values ($1, $2)`, [gid, op]);
        if (fail) throw new dtmx.FailureError('refused');
        return 'ran';
      });
    } finally {
      await db.close(conn);
    }
  }

  /** The business code writing the ledger row of `gid`, `op` on the client it is given. */
  const write = (gid, op) => async (c) => {
    await db.run(c, `insert into ${db.ledger} (gid, op) values ($1, $2)`, [gid, op]);
    return 'ran';
  };

  /** Runs `work(conn)` inside a transaction the caller opened on a new connection. */
  async function inCallersTransaction(work) {
    const conn = await db.connect();
    try {
      await db.begin(conn);
      return await work(conn);
    } finally {
      await db.close(conn);
    }
  }

  async function ledger(gid) {
    const conn = await db.connect();
    try {
      return await db.count(conn, `select count(*) from ${db.ledger} where gid = $1`, [gid]);
    } finally {
      await db.close(conn);
    }
  }

  test.describe(`barrier on ${name}`, () => {
    test.before(async () => {
      const conn = await db.connect();
      try {
        await new dtmx.BarrierTable(name === 'mariadb' ? 'mysql' : name).create(conn);
        if (name === 'mariadb') await db.run(conn, 'create database if not exists dtmx_node', []);
        await db.run(conn, `create table if not exists ${db.ledger} (gid varchar(64), op varchar(16))`, []);
      } finally {
        await db.close(conn);
      }
    });

    test('runs once, then skips the duplicate', async () => {
      const gid = uid();
      assert.equal(await guarded(gid, 'try'), 'ran');
      assert.equal(await guarded(gid, 'try'), undefined);
      assert.equal(await ledger(gid), 1);
    });

    test('a cancel before its try is a null compensation; the late try is suspended', async () => {
      const gid = uid();
      assert.equal(await guarded(gid, 'cancel'), undefined);
      assert.equal(await guarded(gid, 'try'), undefined);
      assert.equal(await ledger(gid), 0);
    });

    test('a failing business rolls back with the barrier row', async () => {
      const gid = uid();
      await assert.rejects(guarded(gid, 'try', { fail: true }), dtmx.FailureError);
      assert.equal(await ledger(gid), 0);
      assert.equal(await guarded(gid, 'try'), 'ran');
    });

    test('the error the business code or the driver throws is rethrown as it is, everything rolled back', async () => {
      const gid = uid();
      const conn = await db.connect();
      try {
        await assert.rejects(
          dtmx.Barrier.fromBranch(branch(gid, 'try')).call(conn, async (c) => {
            await write(gid, 'try')(c);
            await db.run(c, `select * from ${db.ledger}_missing`, []);
          }),
          (e) => !(e instanceof dtmx.DtmxError) && /ledger_missing/.test(e.message) && Array.isArray(e.notes) && e.notes.length === 0,
        );
      } finally {
        await db.close(conn);
      }
      assert.equal(await ledger(gid), 0);
      assert.equal(await guarded(gid, 'try'), 'ran');
    });

    test("an open transaction is joined: the caller's rollback undoes the business code and the barrier row", async () => {
      const gid = uid();
      await inCallersTransaction(async (conn) => {
        assert.equal(await dtmx.Barrier.fromBranch(branch(gid, 'try')).call(conn, write(gid, 'try'), db.joined), 'ran');
        assert.equal(await ledger(gid), 0, 'nothing committed before the caller commits');
        await db.rollback(conn);
      });
      assert.equal(await ledger(gid), 0);
      assert.equal(await guarded(gid, 'try'), 'ran', 'the barrier row went with the rollback');
    });

    test("an open transaction is joined: the caller's commit keeps both", async () => {
      const gid = uid();
      await inCallersTransaction(async (conn) => {
        assert.equal(await dtmx.Barrier.fromBranch(branch(gid, 'try')).call(conn, write(gid, 'try'), db.joined), 'ran');
        await db.commit(conn);
      });
      assert.equal(await ledger(gid), 1);
      assert.equal(await guarded(gid, 'try'), undefined, 'the barrier row was committed');
    });

    test('a joined call that throws leaves the transaction open for the caller to roll back', async () => {
      const gid = uid();
      await inCallersTransaction(async (conn) => {
        const refuse = async (c) => {
          await write(gid, 'try')(c);
          throw new dtmx.FailureError('refused');
        };
        await assert.rejects(dtmx.Barrier.fromBranch(branch(gid, 'try')).call(conn, refuse, db.joined), dtmx.FailureError);
        const count = `select count(*) from ${db.ledger} where gid = $1`;
        assert.equal(await db.count(conn, count, [gid]), 1, 'the write is still in the open transaction');
        await db.rollback(conn);
        assert.equal(await db.count(conn, count, [gid]), 0);
      });
    });

    test("a check-back in the caller's transaction commits with it", async () => {
      const gid = uid();
      await inCallersTransaction(async (conn) => {
        await assert.rejects(dtmx.Barrier.forMsg(gid).queryPrepared(conn, db.joined), dtmx.FailureError);
        await db.commit(conn);
      });
      await assert.rejects(guarded(gid, 'msg', { transType: 'msg' }), dtmx.DuplicatedError);
      assert.equal(await ledger(gid), 0);
    });

    test('msg check-back: committed succeeds, missing fails and blocks the late work', async () => {
      const done = uid();
      await guarded(done, 'msg', { transType: 'msg' });
      const conn = await db.connect();
      try {
        await dtmx.Barrier.forMsg(done).queryPrepared(conn);
        const missing = uid();
        await assert.rejects(dtmx.Barrier.forMsg(missing).queryPrepared(conn), dtmx.FailureError);
        await assert.rejects(
          dtmx.Barrier.fromBranch({ transType: 'msg', gid: missing, branchId: '00', op: 'msg' }).call(conn, async () => 'late'),
          dtmx.DuplicatedError,
        );
      } finally {
        await db.close(conn);
      }
    });
  });
}

test.describe('barrier on redis', () => {
  let redis;
  test.before(() => {
    redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: false, maxRetriesPerRequest: 1 });
  });
  test.after(() => redis.quit());

  test('adjusts once, null compensation, suspended try, check-back', async () => {
    const key = `dtmx-node:${uid()}`;
    await redis.set(key, 100);
    const gid = uid();
    const b = (op, transType = 'tcc') => dtmx.Barrier.fromBranch({ transType, gid, branchId: '01', op });
    assert.equal(await b('try').redisCheckAdjustAmount(redis, key, -30, 600), 'applied');
    assert.equal(await b('try').redisCheckAdjustAmount(redis, key, -30, 600), 'duplicate');
    assert.equal(await redis.get(key), '70');
    await assert.rejects(b('try', 'saga').redisCheckAdjustAmount(redis, `${key}:missing`, -1, 600), dtmx.FailureError);

    const other = uid();
    const c = (op) => dtmx.Barrier.fromBranch({ transType: 'tcc', gid: other, branchId: '01', op });
    assert.equal(await c('cancel').redisCheckAdjustAmount(redis, key, 30, 600), 'null_compensation');
    assert.equal(await c('try').redisCheckAdjustAmount(redis, key, -30, 600), 'suspended');
    assert.equal(await redis.get(key), '70');

    const m = uid();
    await dtmx.Barrier.fromBranch({ transType: 'msg', gid: m, branchId: '00', op: 'msg' }).redisCheckAdjustAmount(redis, key, 5, 600);
    await dtmx.Barrier.forMsg(m).redisQueryPrepared(redis, 600);
    await assert.rejects(dtmx.Barrier.forMsg(uid()).redisQueryPrepared(redis, 600), dtmx.FailureError);
  });
});

test.describe('barrier on a SQLite client whose commit or rollback fails', () => {
  /** A better-sqlite3 Database whose `exec` of `broken` (COMMIT or ROLLBACK) runs, then throws. */
  function failing(broken) {
    const real = new Database(':memory:');
    return {
      real,
      prepare: (sql) => real.prepare(sql),
      get inTransaction() {
        return real.inTransaction;
      },
      exec: (sql) => {
        real.exec(sql);
        if (sql === broken) throw new Error(`${broken} broke`);
      },
    };
  }

  /** What `promise` rejects with. */
  async function rejection(promise) {
    try {
      await promise;
    } catch (e) {
      return e;
    }
    return assert.fail('resolved, want a rejection');
  }

  test("a failed rollback is a note on the business code's own error", async () => {
    const conn = failing('ROLLBACK');
    await new dtmx.BarrierTable('sqlite').create(conn);
    const refused = new dtmx.FailureError('refused');
    const e = await rejection(
      dtmx.Barrier.fromBranch({ transType: 'tcc', gid: uid(), branchId: '01', op: 'try' }).call(conn, () => {
        throw refused;
      }),
    );
    assert.equal(e, refused);
    assert.deepEqual(e.notes, ['rollback failed: database: ROLLBACK broke']);
    conn.real.close();
  });

  test('a failed rollback after a duplicate msg is a note on the DuplicatedError', async () => {
    const conn = failing('ROLLBACK');
    await new dtmx.BarrierTable('sqlite').create(conn);
    const msg = { transType: 'msg', gid: uid(), branchId: '00', op: 'msg' };
    assert.equal(await dtmx.Barrier.fromBranch(msg).call(conn, () => 'ran'), 'ran');
    const e = await rejection(dtmx.Barrier.fromBranch(msg).call(conn, () => 'again'));
    assert.ok(e instanceof dtmx.DuplicatedError, String(e));
    assert.deepEqual(e.notes, ['rollback failed: database: ROLLBACK broke']);
    conn.real.close();
  });

  test("a failed commit is raised as the driver's own error", async () => {
    const conn = failing('COMMIT');
    await new dtmx.BarrierTable('sqlite').create(conn);
    await assert.rejects(
      dtmx.Barrier.fromBranch({ transType: 'tcc', gid: uid(), branchId: '01', op: 'try' }).call(conn, () => 'ran'),
      (e) => !(e instanceof dtmx.DtmxError) && e.message === 'COMMIT broke' && e.notes.length === 0,
    );
    conn.real.close();
  });
});
