// The business-service side: a branch's identity from its request, replies for dtm.
'use strict';

const native = require('./native');
const { call, DtmxError } = require('./errors');

/** The identity of a branch call from a query string or a parsed query object
 * (`req.query` of Express or Fastify; for repeated keys the first value counts). */
function parseBranch(query) {
  if (typeof query === 'string') return native.branchFromQueryString(query);
  const flat = {};
  for (const [k, v] of Object.entries(query || {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined && first !== null) flat[k] = String(first);
  }
  return native.branchFromQuery(flat);
}

/** The identity of a gRPC branch call from its metadata (`dtm-gid`, ...). */
function parseGrpcBranch(metadata) {
  const flat = {};
  for (const [k, v] of Object.entries(metadata || {})) flat[k] = String(Array.isArray(v) ? v[0] : v);
  return native.branchFromGrpcMetadata(flat);
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
  if (error instanceof DtmxError) return native.errorReply(error.code, error.message);
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return native.errorReply(null, text);
}

/** How dtm reads a branch's HTTP reply: `{outcome, message}`. */
function outcomeOf(status, body) {
  return native.outcomeFromHttp(status, typeof body === 'string' ? body : Buffer.from(body || ''));
}

/** The reply for an outcome name (`success`, `failure`, `ongoing`, `unknown`). */
function outcomeReply(outcome, message = '') {
  return call(() => native.outcomeReply(outcome, message));
}

module.exports = { parseBranch, parseGrpcBranch, reply, outcomeOf, outcomeReply };
