// Compiled by test/types.test.js with `tsc --noEmit`: the declared API in use.
import { Client, Saga, Msg, FailureError, UnfinishedError, DtmxError, Barrier, BarrierTable, Branch, XaLocal, reply, outcomeFromHttp, version, express } from 'dtmx';
import type { BranchFields, TransOptions, ErrorKind, ClientOptions, BarrierOptions } from 'dtmx';

async function main(): Promise<void> {
  const dtm = new Client('http://127.0.0.1:36789/api/dtmsvr');
  const clientOptions: ClientOptions = { token: 'submit-token-0123456789' };
  const authed: Client = new Client('http://127.0.0.1:36789/api/dtmsvr', clientOptions);
  void authed;
  const options: TransOptions = { waitResult: true, retryLimit: 2, branchHeaders: { 'x-trace': '1' } };
  const saga: Saga = dtm.saga(options).add('http://busi/TransOut', 'http://busi/TransOutRevert', { amount: 30 });
  await saga.submit();
  const status: string = await dtm.waitFinal(saga.gid, { timeout: 5 });
  const msg: Msg = new Msg(dtm).add('http://busi/TransIn', Buffer.from('{}'));
  await msg.doAndSubmit('http://busi/QueryPrepared', async (branch: BranchFields) => {
    const joined: BarrierOptions = { table: new BarrierTable('postgres'), inTransaction: true };
    await Barrier.fromBranch(branch).call({}, async () => 1, joined);
    const fence: { sql: string; params: string[] } = Barrier.forMsg(branch.gid).xaRollbackFence(new BarrierTable('mysql'));
    void fence;
  });
  const order: { id: number } = await dtm.tcc().run(async (tcc) => {
    const r = await tcc.callBranch('{}', 'http://t', 'http://c', 'http://x');
    const code: number = r.status;
    return { id: code };
  });
  const done: string = await dtm.xa().run(async () => 'done');
  const local: number = await new Msg(dtm).doAndSubmit('http://busi/QueryPrepared', () => 1);
  void [order.id, done, local];
  try {
    await dtm.xa().prepare();
  } catch (e) {
    if (e instanceof FailureError) {
      const kind: ErrorKind = e.kind;
      const notes: string[] = e.notes;
      void [kind, notes];
    } else if (e instanceof UnfinishedError) {
      const s: string | null = e.status;
      void s;
    } else if (e instanceof DtmxError) {
      const n: number = e.code;
      void n;
    }
  }
  const r = reply(new FailureError('no'));
  const b: Branch = Branch.fromQuery('gid=g&trans_type=saga&branch_id=01&op=action');
  const q: string = b.toQuery();
  const xa = new XaLocal(b, new BarrierTable('mysql'));
  const kindOfStep: string = xa.step().kind;
  const v: string = version();
  void [q, kindOfStep, v, outcomeFromHttp(200, '').outcome, Barrier.redisDefaultExpire];
  const handler = express.branch(async (_req, branch) => branch.gid);
  void [status, r.status + r.body.length, b.op, handler];
}

void main;
