// dtmx for Node.js: DTM's client (Saga, Msg, Tcc, Xa), branch helpers for Express and
// Fastify, and the barrier on the caller's own database client, on dtmx's Rust core.
'use strict';

const { Client, Saga, Msg, Tcc, Xa } = require('./lib/client');
const { DtmxError, classes } = require('./lib/errors');
const { parseBranch, parseGrpcBranch, reply, outcomeOf, outcomeReply } = require('./lib/branch');
const { Barrier, BarrierTable, queryPrepared, redisQueryPrepared } = require('./lib/barrier');
const { xaLocal } = require('./lib/xa');
const web = require('./lib/web');

module.exports = {
  Client,
  Saga,
  Msg,
  Tcc,
  Xa,
  DtmxError,
  ...classes,
  parseBranch,
  parseGrpcBranch,
  reply,
  outcomeOf,
  outcomeReply,
  Barrier,
  BarrierTable,
  queryPrepared,
  redisQueryPrepared,
  xaLocal,
  express: web.express,
  fastify: web.fastify,
};
