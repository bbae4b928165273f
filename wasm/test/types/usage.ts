// Compiled (not run) by types.test.js: the declarations cover the documented usage.

import {
  init, Client, Barrier, BarrierTable, Branch, DtmxError, FailureError, UnfinishedError, reply,
  outcomeFromHttp, outcomeOfError, version, Guard, XaLocal, type BarrierDb, type BranchFields, type TransOptions,
  type ClientOptions, type GuardAction,
} from 'dtmx-wasm';

export async function usage(db: BarrierDb): Promise<string> {
  await init();
  const client = new Client('http://localhost:36789/api/dtmsvr');
  const clientOptions: ClientOptions = { token: 'submit-token-0123456789' };
  void new Client('http://localhost:36789/api/dtmsvr', clientOptions);
  const options: TransOptions = { waitResult: true, branchHeaders: { 'X-Trace': '1' } };
  const saga = client.saga(undefined, options).add('http://b/a', 'http://b/c', { amount: 1 });
  await saga.submit();
  const msg = client.msg('gid-1').add('http://b/a', 'text');
  const id: number = await msg.doAndSubmit('http://b/qp', async (branch: BranchFields) => {
    await Barrier.fromBranch(branch).call(db, () => db.execute('update t set x = 1', []));
    return 7;
  });
  const order: string = await client.tcc().run(async (tcc) => {
    const r = await tcc.callBranch(new Uint8Array([1]), 'http://b/try', 'http://b/confirm', 'http://b/cancel');
    if (r.status !== 200) throw new FailureError('no');
    return 'order';
  });
  const done: boolean = await client.xa().run((xa) => xa.gid.length > 0);
  try {
    await client.saga(undefined, { waitResult: true }).submit();
  } catch (e) {
    if (e instanceof UnfinishedError) return `${e.status ?? 'unknown'} ${e.notes.join('; ')} ${id} ${order} ${done}`;
  }
  const check = Barrier.forMsg('gid-1').queryPreparedMachine(new BarrierTable('sqlite'));
  check.check();
  const branch: Branch = Branch.fromQuery('gid=g&trans_type=msg&branch_id=00&op=msg');
  const query: string = branch.toQuery();
  await Barrier.forMsg(branch.gid).queryPrepared(db, { table: new BarrierTable('postgres'), inTransaction: false });
  await Barrier.fromBranch(branch).call(db, () => 1, { inTransaction: db.inTransaction ?? true });
  await new BarrierTable('sqlite').create(db);
  const guard = new Guard(Barrier.fromBranch(branch).callMachine(new BarrierTable('sqlite')), false);
  const xa = new XaLocal(branch, new BarrierTable('mysql'));
  void [query, xa.step().kind, version(), outcomeOfError(new Error('x')).outcome, Barrier.redisDefaultExpire];
  const action: GuardAction = guard.action();
  if (action.kind === 'execute' && action.sql) guard.feedAffected(Number(await db.execute(action.sql, action.params ?? [])));
  if (guard.ownership === 'join') guard.fail(new Error('x'));
  if (action.kind === 'raise') throw guard.error();
  const step = new Barrier('tcc', 'g', '01', 'try').callMachine(new BarrierTable('sqlite')).step();
  const r = reply(new FailureError('x'));
  try {
    await client.waitFinal(saga.gid, { timeout: 5 });
  } catch (e) {
    if (e instanceof DtmxError) return `${e.name} ${e.kind} ${e.code}`;
  }
  return `${step.kind} ${r.status} ${outcomeFromHttp(409, r.body).outcome}`;
}
