// Types of the dtmx package.

/// <reference types="node" />

/**
 * Options of a global transaction; unset ones keep the server's defaults. `gid` is read by
 * the factories; every other name is checked by the core (an unknown name or a value of
 * the wrong type throws InvalidArgumentError).
 */
export interface TransOptions {
  /** The global transaction id (default: a new locally unique one). Not for
   * `tccFromBranch`, whose gid is the branch's. */
  gid?: string;
  /** Process the transaction inside the submit request and report its outcome. */
  waitResult?: boolean;
  /** Seconds after which dtm rolls back. */
  timeoutToFail?: number;
  /** Base retry interval in seconds. */
  retryInterval?: number;
  /** Seconds a call may take. */
  requestTimeout?: number;
  /** Saga: immediate retries of an action before rolling back. */
  retryLimit?: number;
  /** Headers added to every branch call. */
  branchHeaders?: Record<string, string>;
  /** Run the steps concurrently (saga, msg). */
  concurrent?: boolean;
}

/** A step's payload: strings and bytes go as they are, anything else as JSON. */
export type Payload = string | Uint8Array | object | null | undefined;

/** The fields of a branch's identity; every function taking a branch takes a plain
 * object of them too. */
export interface BranchFields {
  gid: string;
  transType: string;
  branchId: string;
  op: string;
  /** The DTM server URL (TCC and XA calls). */
  dtm: string;
  /** XA phase-2 URL. */
  phase2Url: string;
}

/** The identity of a branch call, read from its request. */
export class Branch implements BranchFields {
  constructor(fields?: Partial<BranchFields>);
  gid: string;
  transType: string;
  branchId: string;
  op: string;
  dtm: string;
  phase2Url: string;
  /** From a raw query string (`gid=...&op=...`, with or without `?`). */
  static fromQuery(query: string): Branch;
  /** From decoded query parameters (`req.query`) or `[key, value]` pairs. */
  static fromQueryPairs(pairs: Record<string, unknown> | Array<[string, string]>): Branch;
  /** From gRPC metadata (`dtm-gid`, ...). */
  static fromGrpcMetadata(metadata: Record<string, unknown> | Array<[string, string]>): Branch;
  /** The identity as a query string (sorted, empty fields left out). */
  toQuery(): string;
}

/** A branch's reply to a call the client made. */
export interface BranchReply {
  status: number;
  body: Buffer;
}

/** An HTTP reply for dtm: status and JSON body text. */
export interface Reply {
  status: number;
  body: string;
}

/** How dtm reads a reply. */
export interface OutcomeParts {
  outcome: 'success' | 'failure' | 'ongoing' | 'unknown';
  message: string;
}

/** The kinds of dtmx errors (an error's `kind`). */
export type ErrorKind =
  | 'invalid_argument' | 'transport' | 'server' | 'failure' | 'ongoing' | 'duplicated'
  | 'timeout' | 'database' | 'internal' | 'unfinished';

/** Base class of every dtmx error. */
export class DtmxError extends Error {
  /** The error class name, e.g. `FailureError`. */
  readonly name: string;
  /** The kind. */
  readonly kind: ErrorKind;
  /** The kind's stable number (the C API's DtmxCode: 1 `invalid_argument` ... 10
   * `unfinished`). */
  readonly code: number;
  /** What else failed on the way, oldest first (e.g. `abort failed: server: store down`
   * after a `run()` body threw). */
  notes: string[];
  /** The status of the transaction the error is about (`failed` for a FailureError and
   * the status of an UnfinishedError after a `waitResult` submit), else null. */
  status: string | null;
  static readonly kind: ErrorKind;
  static readonly code: number;
}
export class InvalidArgumentError extends DtmxError {}
export class TransportError extends DtmxError {}
export class ServerError extends DtmxError {}
/** The branch or transaction failed (HTTP 409, FAILURE): dtm rolls back. */
export class FailureError extends DtmxError {}
/** Not finished yet (HTTP 425, ONGOING): dtm retries later. */
export class OngoingError extends DtmxError {}
export class DuplicatedError extends DtmxError {}
export class TimeoutError extends DtmxError {}
export class DatabaseError extends DtmxError {}
export class InternalError extends DtmxError {}
/** A `waitResult` submit whose transaction dtm is still working on (`status`:
 * `submitted`, `aborting` or `prepared`; null when it could not be read). */
export class UnfinishedError extends DtmxError {}

/** Options of `new Client(server, options)`. */
export interface ClientOptions {
  /** Bearer token for a server with authentication on: every request to the server (not to
   * branches) carries `Authorization: Bearer <token>`. */
  token?: string;
}

/** A DTM server (`http://host:36789/api/dtmsvr`). */
export class Client {
  constructor(server: string, options?: ClientOptions);
  readonly server: string;
  localGid(): string;
  newGid(): Promise<string>;
  query(gid: string): Promise<any>;
  waitFinal(gid: string, options?: { timeout?: number; interval?: number }): Promise<string>;
  saga(options?: TransOptions): Saga;
  msg(options?: TransOptions): Msg;
  tcc(options?: TransOptions): Tcc;
  xa(options?: TransOptions): Xa;
  /** A TCC nested in the branch a try request describes (its gid is the branch's). */
  tccFromBranch(branch: BranchFields, options?: Omit<TransOptions, 'gid'>): Tcc;
}

/** A saga: dtm runs each action in order and compensates the done ones on failure. */
export class Saga {
  constructor(dtm: Client | string, options?: TransOptions);
  readonly gid: string;
  add(action: string, compensate: string, payload?: Payload): this;
  addBranchOrder(branch: number, preBranches: number[]): this;
  enableConcurrent(): this;
  submit(): Promise<void>;
}

/** A two-phase message. */
export class Msg {
  constructor(dtm: Client | string, options?: TransOptions);
  readonly gid: string;
  add(action: string, payload?: Payload): this;
  addTopic(topic: string, payload?: Payload): this;
  setDelay(seconds: number): this;
  enableConcurrent(): this;
  prepare(queryPrepared: string): Promise<void>;
  submit(): Promise<void>;
  abort(): Promise<void>;
  /** Prepare, `busi(branch)`, submit (or abort, or ask the check-back); resolves to
   * `busi`'s value; rejects with `busi`'s own error (notes added) when it throws. */
  doAndSubmit<T>(queryPrepared: string, busi: (branch: BranchFields) => Promise<T> | T): Promise<T>;
}

/** A TCC global transaction. */
export class Tcc {
  constructor(dtm: Client | string, options?: TransOptions);
  readonly gid: string;
  currentBranchId(): string;
  prepare(): Promise<void>;
  submit(): Promise<void>;
  abort(reason?: string): Promise<void>;
  callBranch(payload: Payload, tryUrl: string, confirmUrl: string, cancelUrl: string): Promise<BranchReply>;
  /** Prepare, `fn(this)`, submit (or abort); resolves to `fn`'s value; rejects with
   * `fn`'s own error (notes added) when it throws. */
  run<T>(fn: (tcc: Tcc) => Promise<T> | T): Promise<T>;
}

/** An XA global transaction. */
export class Xa {
  constructor(dtm: Client | string, options?: TransOptions);
  readonly gid: string;
  currentBranchId(): string;
  prepare(): Promise<void>;
  submit(): Promise<void>;
  abort(): Promise<void>;
  callBranch(payload: Payload, url: string): Promise<BranchReply>;
  /** Prepare, `fn(this)`, submit (or abort); resolves to `fn`'s value; rejects with
   * `fn`'s own error (notes added) when it throws. */
  run<T>(fn: (xa: Xa) => Promise<T> | T): Promise<T>;
}

/** The reply for dtm: success (or `result` as JSON), 409 failure, 425 ongoing, 500 retry. */
export function reply(error?: unknown, result?: unknown): Reply;
/** The reply for an outcome name. */
export function outcomeReply(outcome: OutcomeParts['outcome'], message?: string): Reply;
/** The outcome a handler's thrown error stands for (as `reply` answers it). */
export function outcomeOfError(error: unknown): OutcomeParts;
/** How dtm reads a branch's HTTP reply. */
export function outcomeFromHttp(status: number, body: string | Uint8Array): OutcomeParts;
/** How dtm reads a branch's gRPC status. */
export function outcomeFromGrpc(code: number, message?: string): OutcomeParts;
/** The gRPC status code for an outcome. */
export function grpcCode(outcome: OutcomeParts['outcome'], message?: string): number;
/** Throws the error a branch's reply to the client's own call stands for. */
export function checkBranchReply(status: number, body: string | Uint8Array): void;
/** Throws the error a reply of the DTM server stands for. */
export function checkServerReply(status: number, body: string | Uint8Array): void;
/** The version of dtmx. */
export function version(): string;

/** Where the barrier rows live. */
export class BarrierTable {
  constructor(dialect: string, name?: string);
  readonly dialect: string;
  readonly name: string;
  ddl(): string[];
  insertIgnoreSql(): string;
  selectReasonSql(): string;
  /** `sql` with its placeholders in `style`. */
  render(sql: string, style: 'qmark' | 'format' | 'dollar' | 'numeric'): string;
  create(conn: unknown): Promise<void>;
}

/**
 * Options of a guarded call and of the check-back: the barrier table, and whether the
 * client is inside a transaction of the caller's (which is then joined and left to the
 * caller). better-sqlite3 tells it itself; for pg and mysql2 say so (default false: the
 * barrier begins, commits and rolls back its own transaction).
 */
export interface BarrierOptions {
  table?: BarrierTable;
  inTransaction?: boolean;
}

/** What a barrier machine wants done next. */
export interface BarrierStep {
  kind: 'execute' | 'query' | 'done';
  sql?: string;
  params?: string[];
  /** The decision, or `SUCCESS` / `FAILURE` for a check-back (done). */
  result?: string;
}

/** A sans-IO barrier machine: run its steps, feed their results. */
export interface BarrierMachine {
  step(): BarrierStep;
  feedAffected(rows: number): void;
  feedReason(reason: string | null): void;
}

/** A guarded call's machine. */
export interface BarrierCall extends BarrierMachine {
  readonly barrierId: string;
  /** Throws the error the decision carries (DuplicatedError). */
  check(): void;
}

/** A Redis script and the decision for its reply. */
export interface RedisScript<D> {
  readonly script: string;
  readonly keys: string[];
  readonly args: string[];
  decide(reply: string | null): D;
}

/** The Redis msg check-back script. */
export interface RedisQueryPreparedCall extends RedisScript<'SUCCESS' | 'FAILURE'> {
  check(reply: string | null): void;
}

/** A Redis client (ioredis) or its `eval(script, numKeys, ...keysAndArgs)`. */
export type RedisEval = { eval(...args: any[]): Promise<unknown> } | ((...args: any[]) => Promise<unknown>);

/** The sub-transaction barrier of one branch call. */
export class Barrier {
  constructor(transType: string, gid: string, branchId: string, op: string);
  static fromQuery(query: string): Barrier;
  static fromQueryPairs(pairs: Record<string, unknown> | Array<[string, string]>): Barrier;
  static fromBranch(branch: Pick<BranchFields, 'transType' | 'gid' | 'branchId' | 'op'>): Barrier;
  static fromGrpcMetadata(metadata: Record<string, unknown> | Array<[string, string]>): Barrier;
  /** The barrier of msg `gid`'s local work and of its check-back. */
  static forMsg(gid: string): Barrier;
  /** The Redis barrier's default key expiry in seconds (7 days). */
  static readonly redisDefaultExpire: number;
  readonly transType: string;
  readonly gid: string;
  readonly branchId: string;
  readonly op: string;
  nextBarrierId(): string;
  /** Runs `busi(conn)` at most once, in one database transaction with the barrier rows
   * (its own, or the caller's open one, joined). */
  call<T>(conn: unknown, busi: (conn: any) => Promise<T> | T, options?: BarrierOptions): Promise<T | undefined>;
  /** The msg check-back for this barrier's gid on a database client. */
  queryPrepared(conn: unknown, options?: BarrierOptions): Promise<void>;
  redisCheckAdjustAmount(
    redis: RedisEval, key: string, amount: number, expire?: number,
  ): Promise<'applied' | 'null_compensation' | 'duplicate' | 'suspended'>;
  /** The msg check-back for this barrier's gid on Redis. */
  redisQueryPrepared(redis: RedisEval, expire?: number): Promise<void>;
  /** Throws the FailureError a check-back answers for `FAILURE`. */
  checkBack(result: 'SUCCESS' | 'FAILURE' | string): void;
  callMachine(table: BarrierTable): BarrierCall;
  queryPreparedMachine(table: BarrierTable): BarrierMachine;
  xaActionMachine(table: BarrierTable): BarrierCall;
  xaRollbackFence(table: BarrierTable): { sql: string; params: string[] };
  redisCheckAdjustAmountCall(
    key: string, amount: number, expire?: number,
  ): RedisScript<'applied' | 'null_compensation' | 'duplicate' | 'suspended'>;
  redisQueryPreparedCall(expire?: number): RedisQueryPreparedCall;
}

/** What an XA branch call wants done next. */
export interface XaLocalStep {
  kind: 'execute' | 'query' | 'business' | 'send' | 'done';
  sql?: string;
  params?: string[];
  method?: string;
  url?: string;
  headers?: Array<[string, string]>;
  body?: Buffer | null;
}

/** The RM side of one XA branch call as a machine the host drives (what `xaLocal` runs). */
export class XaLocal {
  constructor(branch: BranchFields, table?: BarrierTable);
  step(): XaLocalStep;
  feedAffected(rows: number): void;
  feedReason(reason: string | null): void;
  feedSqlError(error: unknown): void;
  /** Nothing for a success, else what the business work threw. */
  feedBusiness(error?: unknown): void;
  feedReply(status: number, body: string | Uint8Array): void;
  feedSendError(error: unknown): void;
  /** Throws the error to reply to dtm with, if any. */
  finish(): void;
}

/**
 * The RM side of one XA branch call on a dedicated mysql2 or pg connection: `busi(conn)`
 * runs in phase 1 only. Rejects with the error to answer dtm with.
 */
export function xaLocal(
  conn: unknown, branch: BranchFields, busi: (conn: any) => Promise<unknown> | unknown,
  options?: { table?: BarrierTable; timeout?: number },
): Promise<void>;

type Handler<Req> = (req: Req, branch: Branch) => Promise<unknown> | unknown;

/** Express branch handlers. */
export const express: { branch(handler: Handler<any>): (req: any, res: any) => void };
/** Fastify branch handlers. */
export const fastify: { branch(handler: Handler<any>): (request: any, reply: any) => Promise<string> };
