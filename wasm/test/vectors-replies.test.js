// Replays tests/vectors/replies.json: replies to outcomes and errors, outcomes to
// replies, handler errors to outcomes, branch identities (from queries and gRPC
// metadata), gRPC codes.

import test from 'node:test';
import assert from 'node:assert/strict';
import * as dtmx from '../node.js';
import { loadVectors } from '../testkit/helpers.js';

const FILE = loadVectors('replies.json');

function checkKind(c, fn) {
  let kind = 'ok';
  let message;
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof dtmx.DtmxError, String(e));
    [kind, message] = [e.kind, e.message];
  }
  assert.equal(kind, c.kind);
  if (c.message !== undefined && kind !== 'ok') assert.equal(message, c.message);
}

FILE.branch_replies.forEach((c, i) => {
  test(`replies: branch_replies ${i}`, () => {
    const o = dtmx.outcomeFromHttp(c.status, c.body);
    assert.equal(o.outcome, c.outcome);
    if (c.outcome === 'failure' || c.outcome === 'ongoing') assert.equal(o.message, c.message ?? c.body);
    // Bytes read the same as text.
    assert.equal(dtmx.outcomeFromHttp(c.status, new TextEncoder().encode(c.body)).outcome, c.outcome);
  });
});

FILE.client_branch_replies.forEach((c, i) => {
  test(`replies: client_branch_replies ${i}`, () => checkKind(c, () => dtmx.checkBranchReply(c.status, c.body)));
});

FILE.server_replies.forEach((c, i) => {
  test(`replies: server_replies ${i}`, () => checkKind(c, () => dtmx.checkServerReply(c.status, c.body)));
});

FILE.outcome_replies.forEach((c, i) => {
  test(`replies: outcome_replies ${i}`, () => {
    const r = dtmx.outcomeReply(c.outcome, c.message || '');
    assert.equal(r.status, c.http_status);
    assert.deepEqual(JSON.parse(r.body), c.http_body);
    assert.equal(dtmx.outcomeFromHttp(r.status, r.body).outcome, c.outcome);
    assert.equal(dtmx.grpcCode(c.outcome, c.message || ''), c.grpc_code);
  });
});

FILE.grpc_replies.forEach((c, i) => {
  test(`replies: grpc_replies ${i}`, () => {
    assert.equal(dtmx.outcomeFromGrpc(c.code, c.message).outcome, c.outcome);
  });
});

FILE.error_outcomes.forEach((c, i) => {
  test(`replies: error_outcomes ${i}`, () => {
    const cls = Object.values(dtmx).find((v) => typeof v === 'function' && v.kind === c.kind && v !== dtmx.DtmxError);
    const e = new cls(c.message);
    assert.equal(e.kind, c.kind);
    const r = dtmx.reply(e);
    assert.equal(dtmx.outcomeFromHttp(r.status, r.body).outcome, c.outcome);
    assert.equal(dtmx.outcomeOfError(e).outcome, c.outcome);
  });
});

FILE.branch_requests.forEach((c, i) => {
  test(`replies: branch_requests ${i}`, () => {
    const want = c.branch;
    const expected = {
      gid: want.gid,
      transType: want.trans_type,
      branchId: want.branch_id,
      op: want.op,
      dtm: want.dtm,
      phase2Url: want.phase2_url,
    };
    if (c.query === undefined) {
      assert.deepEqual({ ...dtmx.Branch.fromGrpcMetadata(c.metadata) }, expected);
      return;
    }
    const read = typeof c.query === 'string' ? dtmx.Branch.fromQuery(c.query) : dtmx.Branch.fromQueryPairs(c.query);
    assert.ok(read instanceof dtmx.Branch);
    assert.deepEqual({ ...read }, expected);
    if (typeof c.query === 'string') {
      // The same query as a URLSearchParams-style object.
      const o = {};
      for (const [k, v] of new URLSearchParams(c.query)) if (!(k in o)) o[k] = v;
      assert.deepEqual({ ...dtmx.Branch.fromQueryPairs(o) }, expected);
    }
  });
});
