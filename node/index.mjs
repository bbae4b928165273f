// The ES module entry point: the same API as index.js.
import { createRequire } from 'node:module';

const dtmx = createRequire(import.meta.url)('./index.js');

export const {
  Client, Saga, Msg, Tcc, Xa,
  DtmxError, InvalidArgumentError, TransportError, ServerError, FailureError, OngoingError,
  DuplicatedError, TimeoutError, DatabaseError, InternalError, UnfinishedError,
  parseBranch, parseGrpcBranch, reply, outcomeOf, outcomeReply,
  Barrier, BarrierTable, queryPrepared, redisQueryPrepared, xaLocal,
  express, fastify,
} = dtmx;
export default dtmx;
