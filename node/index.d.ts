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

/** The identity of a branch call. */
export interface Branch {
  gid: string;
  transType: string;
  branchId: string;
  op: string;
  /** The DTM server URL (TCC and XA calls). */
  dtm: string;
  /** XA phase-2 URL. */
  phase2Url: string;
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

/** The kinds of dtmx errors (an error's `code`). */
export type ErrorKind =
  | 'invalid_argument' | 'transport' | 'server' | 'failure' | 'ongoing' | 'duplicated'
  | 'timeout' | 'database' | 'internal' | 'unfinished';

/** Base class of every dtmx error. */
export class DtmxError extends Error {
  /** The error class name, e.g. `FailureError`. */
  readonly name: string;
  /** The kind. */
  readonly code: ErrorKind;
  /** The kind's stable number (the C API's code). */
  readonly errno: number;
  /** What else failed on the way, oldest first (e.g. `abort failed: server: store down`
   * after a `run()` body threw). */
  notes: string[];
  /** The status of the transaction the error is about (`failed` for a FailureError and
   * the status of an UnfinishedError after a `waitResult` submit), else null. */
  status: string | null;
  static readonly kind: ErrorKind;
  static readonly errno: number;
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
  tccGlobalTransaction<T>(fn: (tcc: Tcc) => Promise<T> | T, options?: TransOptions): Promise<T>;
  xaGlobalTransaction<T>(fn: (xa: Xa) => Promise<T> | T, options?: TransOptions): Promise<T>;
  tccFromBranch(branch: Branch, options?: Omit<TransOptions, 'gid'>): Tcc;
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
  doAndSubmit<T>(queryPrepared: string, busi: (branch: Branch) => Promise<T> | T): Promise<T>;
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
  prepare(): Promise<void>;
  submit(): Promise<void>;
  abort(): Promise<void>;
  callBranch(payload: Payload, url: string): Promise<BranchReply>;
  /** Prepare, `fn(this)`, submit (or abort); resolves to `fn`'s value; rejects with
   * `fn`'s own error (notes added) when it throws. */
  run<T>(fn: (xa: Xa) => Promise<T> | T): Promise<T>;
}

/** A branch's identity from a query string or a parsed query object. */
export function parseBranch(query: string | Record<string, unknown>): Branch;
/** A gRPC branch's identity from its metadata. */
export function parseGrpcBranch(metadata: Record<string, unknown>): Branch;
/** The reply for dtm: success (or `result` as JSON), 409 failure, 425 ongoing, 500 retry. */
export function reply(error?: unknown, result?: unknown): Reply;
/** How dtm reads a branch's HTTP reply. */
export function outcomeOf(status: number, body: string | Uint8Array): OutcomeParts;
/** The reply for an outcome name. */
export function outcomeReply(outcome: OutcomeParts['outcome'], message?: string): Reply;

/** Where the barrier rows live. */
export class BarrierTable {
  constructor(dialect: string, name?: string);
  readonly dialect: string;
  readonly name: string;
  ddl(): string[];
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

/** The barrier of one branch call. */
export class Barrier {
  constructor(branch: Pick<Branch, 'transType' | 'gid' | 'branchId' | 'op'> & Partial<Branch>);
  /** Runs `busi(conn)` at most once, in one database transaction with the barrier rows
   * (its own, or the caller's open one, joined). */
  call<T>(conn: unknown, busi: (conn: any) => Promise<T> | T, options?: BarrierOptions): Promise<T | undefined>;
  redisCheckAdjustAmount(
    redis: unknown, key: string, amount: number, expire?: number,
  ): Promise<'applied' | 'null_compensation' | 'duplicate' | 'suspended'>;
}

/** The msg check-back on a database client. */
export function queryPrepared(conn: unknown, branch: Branch, options?: BarrierOptions): Promise<void>;
/** The msg check-back on Redis. */
export function redisQueryPrepared(redis: unknown, branch: Branch, expire?: number): Promise<void>;

/**
 * The RM side of one XA branch call on a dedicated mysql2 or pg connection: `busi(conn)`
 * runs in phase 1 only. Rejects with the error to answer dtm with.
 */
export function xaLocal(
  conn: unknown, branch: Branch, busi: (conn: any) => Promise<unknown> | unknown,
  options?: { table?: BarrierTable; timeout?: number },
): Promise<void>;

type Handler<Req> = (req: Req, branch: Branch) => Promise<unknown> | unknown;

/** Express branch handlers. */
export const express: { branch(handler: Handler<any>): (req: any, res: any) => void };
/** Fastify branch handlers. */
export const fastify: { branch(handler: Handler<any>): (request: any, reply: any) => Promise<string> };
