// The ES module entry point: the same API as index.js.
import { createRequire } from 'node:module';

const dtmx = createRequire(import.meta.url)('./index.js');

export const {
  Client, Saga, Msg, Tcc, Xa, Branch, Barrier, BarrierTable, XaLocal,
  DtmxError, InvalidArgumentError, TransportError, ServerError, FailureError, OngoingError,
  DuplicatedError, TimeoutError, DatabaseError, InternalError, UnfinishedError,
  outcomeReply, reply, outcomeOfError, outcomeFromHttp, outcomeFromGrpc, grpcCode,
  checkBranchReply, checkServerReply, xaLocal, version,
  express, fastify,
} = dtmx;
export default dtmx;
