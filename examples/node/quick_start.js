// dtmx quick start in Node.js: DTM's README walk-through, a money transfer as a saga.
//
// It starts the business service of busi.js on BUSI_PORT (default 8081), then submits two
// sagas to the dtmx server at DTMX_SERVER (default http://localhost:36789/api/dtmsvr):
//
// 1. TransOut then TransIn, both succeed: the saga ends `succeed`;
// 2. the same, but TransIn refuses (409 FAILURE): the server compensates with
//    TransOutRevert and the saga ends `failed`.
//
// It exits 0 only when both end as described.
'use strict';

const dtmx = require('dtmx');
const { app, journal } = require('./busi');

/** Submits the transfer saga and waits for its final status. */
async function transfer(dtm, busi, refuse = '') {
  const body = { amount: 30, refuse };
  const saga = dtm
    .saga({ gid: await dtm.newGid(), waitResult: true })
    .add(`${busi}/TransOut`, `${busi}/TransOutRevert`, body)
    .add(`${busi}/TransIn`, `${busi}/TransInRevert`, body);
  console.log(`saga ${saga.gid}: submitting (TransIn ${refuse ? 'refuses' : 'succeeds'})`);
  try {
    await saga.submit();
  } catch (e) {
    if (!(e instanceof dtmx.FailureError)) throw e;
    console.log(`saga ${saga.gid}: rolled back (${e.message})`);
  }
  return dtm.waitFinal(saga.gid);
}

async function main() {
  const server = process.env.DTMX_SERVER || 'http://localhost:36789/api/dtmsvr';
  const port = Number(process.env.BUSI_PORT || 8081);
  const listener = await new Promise((resolve) => {
    const l = app.listen(port, '127.0.0.1', () => resolve(l));
  });
  const busi = `http://127.0.0.1:${port}/api/busi`;
  const dtm = new dtmx.Client(server);
  try {
    const first = await transfer(dtm, busi);
    const second = await transfer(dtm, busi, 'TransIn');
    const steps = journal.map(([, s]) => s);
    console.log(`first saga: ${first}; second saga: ${second}; steps: ${steps.join(', ')}`);
    const ok = first === 'succeed' && second === 'failed' && steps.includes('TransOutRevert');
    console.log(ok ? 'quick start OK' : 'quick start FAILED');
    return ok ? 0 : 1;
  } catch (e) {
    if (!(e instanceof dtmx.TransportError)) throw e;
    console.error(`cannot reach the dtmx server at ${server}: ${e.message}`);
    return 1;
  } finally {
    listener.close();
  }
}

main().then((code) => {
  process.exitCode = code;
});
