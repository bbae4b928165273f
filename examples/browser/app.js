// Runs a saga from the page with dtmx-wasm and shows each step's result.

import { init, Client, DtmxError } from '../../wasm/index.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$('dtm').value = params.get('dtm') || 'http://localhost:36789/api/dtmsvr';
$('busi').value = params.get('busi') || `${location.origin}/api/busi`;

/** Shows the outcome line: `status` goes to `data-status` for scripts and tests. */
function show(status, text) {
  $('outcome').dataset.status = status;
  $('outcome').textContent = text;
}

/** One table row per branch of the transaction, as dtm reports them. */
function showSteps(branches) {
  $('steps').replaceChildren(
    ...branches.map((b) => {
      const tr = document.createElement('tr');
      Object.assign(tr.dataset, { branch: b.branch_id, op: b.op, status: b.status });
      for (const text of [b.branch_id, b.op, b.url, b.status]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      tr.lastChild.className = b.status;
      return tr;
    }),
  );
}

async function runSaga() {
  $('run').disabled = true;
  $('steps').replaceChildren();
  show('running', 'submitting…');
  const busi = $('busi').value;
  const fail = $('fail').checked ? 'TransIn' : null;
  let client;
  let saga;
  try {
    client = new Client($('dtm').value);
    saga = client
      .saga({ waitResult: true })
      .add(`${busi}/TransOut`, `${busi}/TransOutRevert`, { amount: 30, fail })
      .add(`${busi}/TransIn`, `${busi}/TransInRevert`, { amount: 30, fail });
    let submitted = 'submitted';
    try {
      await saga.submit();
    } catch (e) {
      // A FailureError means dtm rolled the saga back; anything else is a real problem.
      if (!(e instanceof DtmxError) || e.kind !== 'failure') throw e;
      submitted = `submit: ${e.name} (${e.kind})`;
    }
    const status = await client.waitFinal(saga.gid);
    showSteps((await client.query(saga.gid)).branches);
    show(status, `saga ${saga.gid}: ${status} (${submitted})`);
  } catch (e) {
    show('error', e instanceof DtmxError ? `${e.name} (${e.kind}): ${e.message}` : String(e));
  } finally {
    $('run').disabled = false;
  }
}

try {
  await init();
  $('run').addEventListener('click', runSaga);
  $('run').disabled = false;
  show('ready', 'ready');
  document.body.dataset.ready = 'true';
} catch (e) {
  show('error', `cannot load dtmx-wasm: ${e}`);
}
