// End to end against the real dtmx server and the business service of testkit/busi.js:
// saga, msg doAndSubmit, TCC and XA, success and rollback; the event loop stays free.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const dtmx = require('..');
const { startServer } = require('../testkit/helpers');
const { startBusi, transferLocally, balance, prepareMariadb, mariadbBalance, preparePostgres, postgresBalance } = require('../testkit/busi');

let server;
let busi;
let client;
const AMOUNT = { amount: 30 };

test.before(async () => {
  server = await startServer();
  await prepareMariadb();
  await preparePostgres();
  busi = await startBusi();
  client = new dtmx.Client(server.url);
});
test.after(async () => {
  await busi.close();
  await server.stop();
});

test('saga commits', async () => {
  const saga = client
    .saga({ waitResult: true })
    .add(`${busi.url}/TransOut`, `${busi.url}/TransOutRevert`, AMOUNT)
    .add(`${busi.url}/TransIn`, `${busi.url}/TransInRevert`, AMOUNT);
  await saga.submit();
  assert.equal(await client.waitFinal(saga.gid), 'succeed');
  assert.deepEqual(busi.called(saga.gid), [['TransOut', 'action'], ['TransIn', 'action']]);
  const t = await client.query(saga.gid);
  assert.ok(t.branches.filter((b) => b.op === 'action').every((b) => b.status === 'succeed'));
});

test('saga compensates', async () => {
  const saga = new dtmx.Saga(client, { waitResult: true, gid: await client.newGid() })
    .add(`${busi.url}/TransOut`, `${busi.url}/TransOutRevert`, AMOUNT)
    .add(`${busi.url}/TransIn`, `${busi.url}/TransInRevert`, { amount: 30, fail: 'TransIn' });
  await assert.rejects(saga.submit(), (e) => e instanceof dtmx.FailureError && e.kind === 'failure' && e.name === 'FailureError');
  assert.equal(await client.waitFinal(saga.gid), 'failed');
  const calls = busi.called(saga.gid);
  assert.deepEqual(calls.slice(0, 2), [['TransOut', 'action'], ['TransIn', 'action']]);
  assert.ok(calls.some(([n, op]) => n === 'TransOutRevert' && op === 'compensate'));
});

test('timers keep firing during a slow submit', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  const saga = client.saga({ waitResult: true }).add(`${busi.url}/TransOut`, `${busi.url}/TransOutRevert`, { sleepMs: 1000 });
  const started = Date.now();
  await saga.submit();
  clearInterval(timer);
  assert.ok(Date.now() - started >= 1000);
  assert.ok(ticks >= 20, `only ${ticks} ticks during a 1s submit`);
});

test('msg doAndSubmit commits the local work and delivers', async () => {
  const msg = client.msg().add(`${busi.url}/TransIn`, AMOUNT);
  await msg.doAndSubmit(`${busi.url}/QueryPrepared`, transferLocally(busi.db, 'msg-ok', 30));
  assert.equal(await client.waitFinal(msg.gid), 'succeed');
  assert.equal(balance(busi.db, 'msg-ok'), 30);
  assert.deepEqual(busi.called(msg.gid), [['TransIn', 'action']]);
});

test('msg local failure aborts and rethrows the local error', async () => {
  const msg = client.msg().add(`${busi.url}/TransIn`, AMOUNT);
  const refusal = new dtmx.FailureError('not allowed');
  await assert.rejects(
    msg.doAndSubmit(`${busi.url}/QueryPrepared`, async (branch) => {
      await transferLocally(busi.db, 'msg-refused', 30)(branch);
      throw refusal;
    }),
    (e) => e === refusal,
  );
  assert.equal(await client.waitFinal(msg.gid), 'failed');
  assert.deepEqual(busi.called(msg.gid), []);
});

test('msg local crash: the check-back decides', async () => {
  const msg = client.msg().add(`${busi.url}/TransIn`, AMOUNT);
  await assert.rejects(
    msg.doAndSubmit(`${busi.url}/QueryPrepared`, async () => {
      throw new TypeError('local work crashed before its commit');
    }),
    TypeError,
  );
  assert.equal(await client.waitFinal(msg.gid), 'failed');
});

test('TCC confirms', async () => {
  let gid;
  await client.tcc({ waitResult: true }).run(async (tcc) => {
    gid = tcc.gid;
    const r = await tcc.callBranch(AMOUNT, `${busi.url}/TransOutTry`, `${busi.url}/TransOutConfirm`, `${busi.url}/TransOutCancel`);
    assert.equal(r.status, 200);
    await tcc.callBranch(AMOUNT, `${busi.url}/TransInTry`, `${busi.url}/TransInConfirm`, `${busi.url}/TransInCancel`);
  });
  assert.equal(await client.waitFinal(gid), 'succeed');
  const calls = busi.called(gid);
  assert.ok(calls.some(([n]) => n === 'TransOutConfirm'));
  assert.ok(calls.some(([n]) => n === 'TransInConfirm'));
});

test('TCC cancels when a try fails', async () => {
  let gid;
  await assert.rejects(
    client.tcc().run(async (tcc) => {
      gid = tcc.gid;
      await tcc.callBranch(AMOUNT, `${busi.url}/TransOutTry`, `${busi.url}/TransOutConfirm`, `${busi.url}/TransOutCancel`);
      await tcc.callBranch({ amount: 30, fail: 'TransInTry' }, `${busi.url}/TransInTry`, `${busi.url}/TransInConfirm`, `${busi.url}/TransInCancel`);
    }),
    dtmx.FailureError,
  );
  assert.equal(await client.waitFinal(gid), 'failed');
  assert.ok(busi.called(gid).some(([n]) => n === 'TransOutCancel'));
});

test('XA on MariaDB commits every branch', async () => {
  let gid;
  const [a, b] = [`xa-a-${Date.now()}`, `xa-b-${Date.now()}`];
  await client.xa({ waitResult: true }).run(async (xa) => {
    gid = xa.gid;
    for (const account of [a, b]) await xa.callBranch({ amount: 10, account }, `${busi.url}/XaTransIn`);
  });
  assert.equal(await client.waitFinal(gid), 'succeed');
  assert.deepEqual([await mariadbBalance(a), await mariadbBalance(b)], [10, 10]);
  const ops = busi.called(gid).map(([, op]) => op);
  assert.equal(ops.filter((op) => op === 'action').length, 2);
  assert.equal(ops.filter((op) => op === 'commit').length, 2);
});

test('XA on MariaDB rolls back when a branch fails', async () => {
  let gid;
  const account = `xa-c-${Date.now()}`;
  await assert.rejects(
    client.xa().run(async (xa) => {
      gid = xa.gid;
      await xa.callBranch({ amount: 10, account }, `${busi.url}/XaTransIn`);
      await xa.callBranch({ amount: 10, account, fail: 'XaTransIn' }, `${busi.url}/XaTransIn`);
    }),
    dtmx.FailureError,
  );
  assert.equal(await client.waitFinal(gid), 'failed');
  assert.equal(await mariadbBalance(account), undefined);
  assert.ok(busi.called(gid).some(([, op]) => op === 'rollback'));
});

test('XA on PostgreSQL commits, and rolls back when a branch fails', async () => {
  let gid;
  const account = `xa-pg-${Date.now()}`;
  await client.xa({ waitResult: true }).run(async (xa) => {
    gid = xa.gid;
    await xa.callBranch({ amount: 10, account }, `${busi.url}/XaTransInPg`);
  });
  assert.equal(await client.waitFinal(gid), 'succeed');
  assert.equal(await postgresBalance(account), 10);
  assert.deepEqual(busi.called(gid).map(([, op]) => op), ['action', 'commit']);

  await assert.rejects(
    client.xa().run(async (xa) => {
      gid = xa.gid;
      await xa.callBranch({ amount: 5, account }, `${busi.url}/XaTransInPg`);
      await xa.callBranch({ amount: 5, account, fail: 'XaTransInPg' }, `${busi.url}/XaTransInPg`);
    }),
    dtmx.FailureError,
  );
  assert.equal(await client.waitFinal(gid), 'failed');
  assert.equal(await postgresBalance(account), 10);
  assert.ok(busi.called(gid).some(([, op]) => op === 'rollback'));
});
