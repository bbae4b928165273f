// dtmx for Node.js: DTM's client (Saga, Msg, Tcc, Xa), branch helpers for Express and
// Fastify, and the barrier on the caller's own database client, on dtmx's Rust core. The
// public names are those of tests/vectors/api.json (checked by test/api-manifest.test.js).
'use strict';

const native = require('./lib/native');
const { Client, Saga, Msg, Tcc, Xa } = require('./lib/client');
const { DtmxError, classes } = require('./lib/errors');
const branch = require('./lib/branch');
const { Barrier, BarrierTable } = require('./lib/barrier');
const { XaLocal, xaLocal } = require('./lib/xa');
const web = require('./lib/web');

/** The version of dtmx. */
function version() {
  return native.version();
}

module.exports = {
  Client,
  Saga,
  Msg,
  Tcc,
  Xa,
  Branch: branch.Branch,
  Barrier,
  BarrierTable,
  XaLocal,
  DtmxError,
  ...classes,
  outcomeReply: branch.outcomeReply,
  reply: branch.reply,
  outcomeOfError: branch.outcomeOfError,
  outcomeFromHttp: branch.outcomeFromHttp,
  outcomeFromGrpc: branch.outcomeFromGrpc,
  grpcCode: branch.grpcCode,
  checkBranchReply: branch.checkBranchReply,
  checkServerReply: branch.checkServerReply,
  xaLocal,
  version,
  express: web.express,
  fastify: web.fastify,
};
