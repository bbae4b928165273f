// Replays every list of tests/vectors/replies.json: replies to outcomes and errors,
// outcomes to replies, handler errors to outcomes, branch identities.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const dtmx = require('..');
const { loadVectors } = require('../testkit/helpers');

const FILE = loadVectors('replies.json');

function kindOfCall(fn) {
  try {
    fn();
    return ['ok', undefined];
  } catch (e) {
    assert.ok(e instanceof dtmx.DtmxError, String(e));
    return [e.kind, e.message];
  }
}

function checkKind(c, fn) {
  const [kind, message] = kindOfCall(fn);
  assert.equal(kind, c.kind);
  if (c.message !== undefined && kind !== 'ok') assert.equal(message, c.message);
}

FILE.branch_replies.forEach((c, i) => {
  test(`replies: branch_replies ${i}`, () => {
    const o = dtmx.outcomeFromHttp(c.status, c.body);
    assert.equal(o.outcome, c.outcome);
    if (c.outcome === 'failure' || c.outcome === 'ongoing') assert.equal(o.message, c.message ?? c.body);
  });
});

FILE.client_branch_replies.forEach((c, i) => {
  test(`replies: client_branch_replies ${i}`, () => {
    checkKind(c, () => dtmx.checkBranchReply(c.status, c.body));
  });
});

FILE.server_replies.forEach((c, i) => {
  test(`replies: server_replies ${i}`, () => {
    checkKind(c, () => dtmx.checkServerReply(c.status, c.body));
  });
});

FILE.outcome_replies.forEach((c, i) => {
  test(`replies: outcome_replies ${i}`, () => {
    const r = dtmx.outcomeReply(c.outcome, c.message || '');
    assert.equal(r.status, c.http_status);
    assert.deepEqual(JSON.parse(r.body), c.http_body);
    assert.equal(dtmx.grpcCode(c.outcome, c.message || ''), c.grpc_code);
    const back = dtmx.outcomeFromHttp(r.status, r.body);
    assert.equal(back.outcome, c.outcome);
  });
});

FILE.grpc_replies.forEach((c, i) => {
  test(`replies: grpc_replies ${i}`, () => {
    assert.equal(dtmx.outcomeFromGrpc(c.code, c.message).outcome, c.outcome);
  });
});

FILE.error_outcomes.forEach((c, i) => {
  test(`replies: error_outcomes ${i}`, () => {
    const cls = Object.values(dtmx).find((v) => typeof v === 'function' && v.kind === c.kind);
    const e = new cls(c.message);
    assert.equal(e.kind, c.kind);
    const r = dtmx.reply(e);
    assert.equal(dtmx.outcomeFromHttp(r.status, r.body).outcome, c.outcome);
    assert.equal(dtmx.outcomeOfError(e).outcome, c.outcome);
  });
});

FILE.branch_requests.forEach((c, i) => {
  test(`replies: branch_requests ${i}`, () => {
    const b = c.query !== undefined
      ? (typeof c.query === 'string' ? dtmx.Branch.fromQuery(c.query) : dtmx.Branch.fromQueryPairs(c.query))
      : dtmx.Branch.fromGrpcMetadata(c.metadata);
    assert.ok(b instanceof dtmx.Branch);
    const want = c.branch;
    assert.deepEqual({ ...b }, {
      gid: want.gid,
      transType: want.trans_type,
      branchId: want.branch_id,
      op: want.op,
      dtm: want.dtm,
      phase2Url: want.phase2_url,
    });
  });
});
