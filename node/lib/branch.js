// The business-service side: a branch's identity from its request, replies for dtm, and
// how dtm reads replies.
'use strict';

const native = require('./native');
const { call, DtmxError } = require('./errors');

/** `{key: value}` of a parsed query or metadata object (the first value of a repeated
 * key counts), or `[key, value]` pairs, as an object of strings. */
function flat(query) {
  const out = {};
  const entries = Array.isArray(query) ? query : Object.entries(query || {});
  for (const [k, v] of entries) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined && first !== null && !(String(k) in out)) out[String(k)] = String(first);
  }
  return out;
}

/**
 * The identity of a branch call dtm (or a Tcc/Xa client) made: `gid`, `transType`,
 * `branchId`, `op`, `dtm` (the server URL of TCC and XA calls) and `phase2Url` (XA).
 * Read one from a request with the static `fromQuery` (a raw query string),
 * `fromQueryPairs` (Express/Fastify `req.query`, or `[key, value]` pairs) or
 * `fromGrpcMetadata`. Every function taking a branch also takes a plain object with
 * these fields.
 */
class Branch {
  constructor(fields) {
    const f = fields || {};
    this.gid = f.gid || '';
    this.transType = f.transType || '';
    this.branchId = f.branchId || '';
    this.op = f.op || '';
    this.dtm = f.dtm || '';
    this.phase2Url = f.phase2Url || '';
  }

  /** From a raw query string (`gid=...&op=...`, with or without `?`). */
  static fromQuery(query) {
    return new Branch(call(() => native.branchFromQueryString(String(query ?? ''))));
  }

  /** From decoded query parameters: an object (`req.query` of Express or Fastify; for a
   * repeated key the first value counts) or `[key, value]` pairs. */
  static fromQueryPairs(pairs) {
    return new Branch(call(() => native.branchFromQuery(flat(pairs))));
  }

  /** From gRPC metadata (`dtm-gid`, ...): an object or `[key, value]` pairs. */
  static fromGrpcMetadata(metadata) {
    return new Branch(call(() => native.branchFromGrpcMetadata(flat(metadata))));
  }

  /** The identity as a query string (`branch_id=...&gid=...`, sorted, empty fields left
   * out), what dtm sends. */
  toQuery() {
    const pairs = call(() => native.branchToQuery(new Branch(this)));
    return new URLSearchParams(pairs).toString();
  }
}

/**
 * The reply `{status, body}` (body JSON text) dtm expects: 200 SUCCESS without an
 * error (or `result` as JSON when given), 409 for a FailureError, 425 for an
 * OngoingError, 500 (dtm retries) for any other error.
 */
function reply(error, result) {
  if (error === undefined || error === null) {
    if (result === undefined || result === null) return native.outcomeReply('success', '');
    return { status: 200, body: JSON.stringify(result) };
  }
  const [kind, message] = described(error);
  return native.errorReply(kind, message);
}

/** The dtmx kind (null for anything else) and the message the core sees of a thrown value. */
function described(error) {
  if (error instanceof DtmxError) return [error.kind, error.message];
  return [null, error instanceof Error ? `${error.name}: ${error.message}` : String(error)];
}

/** The outcome `{outcome, message}` a handler's thrown `error` stands for, as `reply`
 * answers it: `failure` for a FailureError, `ongoing` for an OngoingError, `unknown`
 * (dtm retries) for anything else; `success` for null or undefined. */
function outcomeOfError(error) {
  if (error === undefined || error === null) return { outcome: 'success', message: '' };
  const [kind, message] = described(error);
  return native.errorOutcome(kind, message);
}

/** How dtm reads a branch's HTTP reply: `{outcome, message}`. */
function outcomeFromHttp(status, body) {
  return call(() => native.outcomeFromHttp(status, typeof body === 'string' ? body : Buffer.from(body || '')));
}

/** How dtm reads a branch's gRPC status `code` and its message: `{outcome, message}`. */
function outcomeFromGrpc(code, message = '') {
  return call(() => native.outcomeFromGrpc(code, String(message)));
}

/** The gRPC status code a branch answers for an outcome (`success`, `failure`,
 * `ongoing`, `unknown`). */
function grpcCode(outcome, message = '') {
  return call(() => native.grpcCode(String(outcome), String(message)));
}

/** The reply for an outcome name (`success`, `failure`, `ongoing`, `unknown`). */
function outcomeReply(outcome, message = '') {
  return call(() => native.outcomeReply(outcome, message));
}

/** Throws the error a branch's reply (`status`, body text or bytes) to the client's own
 * call stands for (a TCC try, an XA action, a msg check-back); returns for a success. */
function checkBranchReply(status, body) {
  call(() => native.checkBranchReply(status, typeof body === 'string' ? body : Buffer.from(body || '')));
}

/** Throws the error a reply of the DTM server stands for; returns for a success. */
function checkServerReply(status, body) {
  call(() => native.checkServerReply(status, typeof body === 'string' ? body : Buffer.from(body || '')));
}

module.exports = {
  Branch,
  reply,
  outcomeOfError,
  outcomeFromHttp,
  outcomeFromGrpc,
  grpcCode,
  outcomeReply,
  checkBranchReply,
  checkServerReply,
};
