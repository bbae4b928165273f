// Replays the cases of tests/vectors/requests.json through the wasm package against a
// local HTTP server that records each request (sent with fetch) and answers with the
// case's scripted replies (the vectors' hosts point at it). `xa_local` cases (the RM side
// of XA) drive an XaLocal with the case's scripted SQL results, business outcome and
// replies, and compare what it did (its events).

import test from 'node:test';
import assert from 'node:assert/strict';
import * as dtmx from '../node.js';
import { loadVectors, serve } from '../testkit/helpers.js';

const FILE = loadVectors('requests.json');
const OPTION = {
  wait_result: 'waitResult',
  timeout_to_fail: 'timeoutToFail',
  retry_interval: 'retryInterval',
  request_timeout: 'requestTimeout',
  retry_limit: 'retryLimit',
  branch_headers: 'branchHeaders',
  concurrent: 'concurrent',
};

let recorder;
let base;
let current = { requests: [], replies: {} };

test.before(async () => {
  recorder = await serve(async (req, body) => {
    const u = new URL(req.url, 'http://local');
    const url = base + u.pathname;
    current.requests.push({
      method: req.method,
      url,
      query: Object.fromEntries(u.searchParams),
      headers: req.headers,
      body: parseBody(body),
    });
    const r = current.replies[url] || FILE.default_reply;
    return { status: r.status, body: r.body };
  });
  base = recorder.url;
});
test.after(() => recorder.close());

function parseBody(body) {
  if (body.length === 0) return null;
  try {
    return JSON.parse(body.toString());
  } catch {
    return body.toString();
  }
}

/** The case with its hosts on the local server. */
function localize(c) {
  const text = JSON.stringify(c).replaceAll('http://dtm.test', base).replaceAll('http://busi.test', base);
  return JSON.parse(text);
}

function options(c) {
  const o = {};
  for (const [k, v] of Object.entries(c.options || {})) o[OPTION[k]] = v;
  return o;
}

function busi(name, gid) {
  return async (branch) => {
    assert.deepEqual([branch.transType, branch.gid, branch.branchId, branch.op], ['msg', gid, '00', 'msg']);
    if (name === 'failure') throw new dtmx.FailureError('business failure FAILURE');
    if (name === 'ongoing') throw new dtmx.OngoingError('business ongoing');
    if (name === 'error') throw new dtmx.DatabaseError('business error');
  };
}

async function runCalls(target, calls, c) {
  for (const call of calls) {
    switch (call.call) {
      case 'add':
        if (target instanceof dtmx.Saga) target.add(call.action, call.compensate, call.payload);
        else target.add(call.action, call.payload);
        break;
      case 'add_branch_order':
        target.addBranchOrder(call.branch, call.pre_branches);
        break;
      case 'enable_concurrent':
        target.enableConcurrent();
        break;
      case 'add_topic':
        target.addTopic(call.topic, call.payload);
        break;
      case 'set_delay':
        target.setDelay(call.seconds);
        break;
      case 'prepare':
        await target.prepare(call.query_prepared);
        break;
      case 'submit':
        await target.submit();
        break;
      case 'abort':
        await target.abort();
        break;
      case 'do_and_submit':
        await target.doAndSubmit(call.query_prepared, busi(call.busi, c.gid));
        break;
      case 'call_branch':
        if (target instanceof dtmx.Tcc) await target.callBranch(call.payload, call.try, call.confirm, call.cancel);
        else await target.callBranch(call.payload, call.url);
        break;
      default:
        throw new Error(`unknown call ${call.call}`);
    }
  }
}

async function run(c, client) {
  switch (c.kind) {
    case 'saga':
      // Both call shapes: saga(gid, options) and saga({gid, ...options}).
      return runCalls(client.saga(c.gid, options(c)), c.calls, c);
    case 'msg':
      return runCalls(client.msg({ gid: c.gid, ...options(c) }), c.calls, c);
    case 'tcc':
      return client.tcc({ gid: c.gid, ...options(c) }).run((tcc) => runCalls(tcc, c.calls, c));
    case 'tcc_nested':
      return runCalls(client.tccFromBranch(typeof c.branch === 'string' ? dtmx.Branch.fromQuery(c.branch) : dtmx.Branch.fromQueryPairs(c.branch)), c.calls, c);
    case 'xa':
      return client.xa({ gid: c.gid, ...options(c) }).run((xa) => runCalls(xa, c.calls, c));
    case 'xa_local':
      return runXaLocal(c);
    case 'new_gid':
      return client.newGid();
    default:
      throw new Error(`unknown kind ${c.kind}`);
  }
}

/** The RM side of one XA branch call with scripted SQL results; records its events. */
async function runXaLocal(c) {
  const b = c.branch;
  const branch = { gid: b.gid, transType: b.trans_type, branchId: b.branch_id, op: b.op, dtm: b.dtm || '', phase2Url: b.phase2_url || '' };
  const xa = new dtmx.XaLocal(branch, new dtmx.BarrierTable(c.dialect));
  const errors = c.sql_errors || {};
  for (;;) {
    const step = xa.step();
    if (step.kind === 'done') break;
    if (step.kind === 'execute') {
      current.events.push(step.sql.startsWith('insert') ? { barrier_insert: step.params } : { sql: step.sql });
      if (step.sql in errors) xa.feedSqlError(errors[step.sql]);
      else xa.feedAffected(1);
    } else if (step.kind === 'query') {
      current.events.push({ query_reason: step.params });
      xa.feedReason(null);
    } else if (step.kind === 'business') {
      current.events.push({ business: true });
      const outcome = c.business || 'ok';
      if (outcome === 'ok') xa.feedBusiness(null);
      else xa.feedBusiness(outcome === 'failure' ? new dtmx.FailureError('business failure') : new dtmx.DatabaseError('business error'));
    } else {
      const r = await fetch(step.url, { method: step.method, headers: step.headers, body: step.body ?? undefined });
      current.events.push({ request: current.requests.at(-1) });
      xa.feedReply(r.status, new Uint8Array(await r.arrayBuffer()));
    }
  }
  xa.finish();
}

function checkRequest(actual, expected, i) {
  assert.equal(actual.method, expected.method, `request ${i} method`);
  assert.equal(actual.url, expected.url, `request ${i} url`);
  assert.deepEqual(actual.query, expected.query || {}, `request ${i} query`);
  for (const [name, value] of Object.entries(expected.headers || {})) {
    assert.equal(actual.headers[name.toLowerCase()], value, `request ${i} header ${name}`);
  }
  assert.deepEqual(actual.body, expected.body, `request ${i} body`);
  if (expected.body && typeof expected.body === 'object' && !Array.isArray(expected.body)) {
    assert.deepEqual(Object.keys(actual.body), Object.keys(expected.body), `request ${i} key order`);
  }
}

for (const raw of FILE.cases) {
  test(`requests: ${raw.name}`, async () => {
    const c = localize(raw);
    current = { requests: [], replies: {}, events: [] };
    for (const r of c.replies || []) current.replies[r.url] = r;
    const client = new dtmx.Client(c.dtm || FILE.dtm.replace('http://dtm.test', base));
    let result = 'ok';
    let value;
    try {
      value = await run(c, client);
    } catch (e) {
      if (!(e instanceof dtmx.DtmxError)) throw e;
      result = e.kind;
    }
    assert.equal(result, c.result);
    if (c.kind === 'new_gid') assert.equal(value, c.value);
    if (c.kind === 'xa_local') {
      assert.equal(current.events.length, c.events.length, JSON.stringify(current.events));
      c.events.forEach((expected, i) => {
        if (expected.request) checkRequest(current.events[i].request, expected.request, i);
        else assert.deepEqual(current.events[i], expected);
      });
      return;
    }
    assert.equal(current.requests.length, c.requests.length, JSON.stringify(current.requests.map((r) => r.url)));
    c.requests.forEach((expected, i) => checkRequest(current.requests[i], expected, i));
  });
}
