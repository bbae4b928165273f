// End to end against the real dtmx server (started by the test on the embedded store)
// and a Node.js business service: sagas, msgs (with the barrier on SQLite), TCC.

import test from 'node:test';
import assert from 'node:assert/strict';
import * as dtmx from '../node.js';
import { startServer } from '../testkit/helpers.js';
import { startBusi } from '../testkit/busi.js';

let server;
let busi;
let client;

test.before(async () => {
  server = await startServer();
  busi = await startBusi();
  client = new dtmx.Client(server.url);
});
test.after(async () => {
  await busi.close();
  await server.stop();
});

function sagaOf(fail) {
  const b = busi.url;
  return client
    .saga(undefined, { waitResult: true })
    .add(`${b}/TransOut`, `${b}/TransOutRevert`, { amount: 30, fail })
    .add(`${b}/TransIn`, `${b}/TransInRevert`, { amount: 30, fail });
}

test('e2e: saga succeeds', async () => {
  const saga = sagaOf(null);
  await saga.submit();
  assert.equal(await client.waitFinal(saga.gid), 'succeed');
  assert.deepEqual(busi.namesOf(saga.gid), ['TransOut', 'TransIn']);
  const q = await client.query(saga.gid);
  assert.equal(q.transaction.status, 'succeed');
  assert.deepEqual(
    q.branches.map((br) => [br.branch_id, br.op, br.status]),
    [
      ['01', 'compensate', 'prepared'],
      ['01', 'action', 'succeed'],
      ['02', 'compensate', 'prepared'],
      ['02', 'action', 'succeed'],
    ],
  );
});

test('e2e: saga rolls back', async () => {
  const saga = sagaOf('TransIn');
  await assert.rejects(saga.submit(), (e) => e instanceof dtmx.FailureError && e.kind === 'failure');
  assert.equal(await client.waitFinal(saga.gid), 'failed');
  const names = busi.namesOf(saga.gid);
  assert.deepEqual(names.slice(0, 2), ['TransOut', 'TransIn']);
  assert.deepEqual([...names.slice(2)].sort(), ['TransInRevert', 'TransOutRevert']);
});

test('e2e: msg prepare and submit', async () => {
  const msg = client.msg({ gid: await client.newGid() }).add(`${busi.url}/TransIn`, { amount: 5 });
  await msg.prepare(`${busi.url}/QueryPrepared`);
  await msg.submit();
  assert.equal(await client.waitFinal(msg.gid), 'succeed');
  assert.deepEqual(busi.namesOf(msg.gid), ['TransIn']);
});

test('e2e: msg doAndSubmit with the barrier on SQLite', async () => {
  const amount = () => busi.sql.exec('select amount from balance where id = 1')[0].values[0][0];
  const before = amount();
  const msg = client.msg().add(`${busi.url}/TransIn`, { amount: 7 });
  await msg.doAndSubmit(`${busi.url}/QueryPrepared`, (branch) =>
    dtmx.Barrier.fromBranch(branch).call(busi.db, () => busi.db.execute('update balance set amount = amount + 7 where id = 1', [])),
  );
  assert.equal(await client.waitFinal(msg.gid), 'succeed');
  assert.equal(amount(), before + 7);
  // The check-back now finds the committed local transaction.
  await dtmx.Barrier.forMsg(msg.gid).queryPrepared(busi.db);

  // Local work failing with a non-business error: the client asks the check-back, which
  // finds nothing committed, so the msg is aborted and the error rethrown.
  const failing = client.msg().add(`${busi.url}/TransIn`, { amount: 1 });
  await assert.rejects(
    failing.doAndSubmit(`${busi.url}/QueryPrepared`, () => {
      throw new TypeError('disk on fire');
    }),
    TypeError,
  );
  assert.equal(await client.waitFinal(failing.gid), 'failed');
  assert.deepEqual(busi.namesOf(failing.gid), ['QueryPrepared']);
  await assert.rejects(dtmx.Barrier.forMsg(failing.gid).queryPrepared(busi.db), dtmx.FailureError);
  assert.equal(amount(), before + 7);
});

test('e2e: tcc confirms and cancels', async () => {
  const b = busi.url;
  let gid;
  await client.tcc({ waitResult: true }).run(async (tcc) => {
    gid = tcc.gid;
    const r = await tcc.callBranch({ amount: 1 }, `${b}/TransOutTry`, `${b}/TransOutConfirm`, `${b}/TransOutCancel`);
    assert.equal(r.status, 200);
    await tcc.callBranch({ amount: 1 }, `${b}/TransInTry`, `${b}/TransInConfirm`, `${b}/TransInCancel`);
  });
  assert.equal(await client.waitFinal(gid), 'succeed');
  const done = busi.namesOf(gid);
  assert.deepEqual(done.slice(0, 2), ['TransOutTry', 'TransInTry']);
  assert.deepEqual([...done.slice(2)].sort(), ['TransInConfirm', 'TransOutConfirm']);

  const tcc = client.tcc({ waitResult: true });
  await assert.rejects(
    tcc.run(async (t) => {
      await t.callBranch({ fail: 'TransInTry' }, `${b}/TransOutTry`, `${b}/TransOutConfirm`, `${b}/TransOutCancel`);
      await t.callBranch({ fail: 'TransInTry' }, `${b}/TransInTry`, `${b}/TransInConfirm`, `${b}/TransInCancel`);
    }),
    dtmx.FailureError,
  );
  assert.equal(await client.waitFinal(tcc.gid), 'failed');
  const names = busi.namesOf(tcc.gid);
  assert.deepEqual(names.slice(0, 2), ['TransOutTry', 'TransInTry']);
  assert.deepEqual([...names.slice(2)].sort(), ['TransInCancel', 'TransOutCancel']);
});
