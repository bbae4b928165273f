// Types of the dtmx-wasm package.

import type { Reply, OutcomeParts, BarrierStep, GuardAction, XaLocalStep } from './pkg/dtmx_wasm.js';
import type { BarrierCall, QueryPrepared, RedisCall, RedisQueryPrepared } from './pkg/dtmx_wasm.js';
import { Barrier as NativeBarrier, BarrierTable as NativeBarrierTable } from './pkg/dtmx_wasm.js';

export type { Reply, OutcomeParts, BarrierStep, GuardAction, XaLocalStep };
export type { BarrierCall, QueryPrepared, RedisCall, RedisQueryPrepared };
export {
  Guard,
  XaLocal,
  outcomeFromHttp,
  outcomeFromGrpc,
  grpcCode,
  checkBranchReply,
  checkServerReply,
  version,
} from './pkg/dtmx_wasm.js';

/** What `init` loads the module from: its URL, bytes, a `Response` or a compiled module. */
export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

/** Loads the module (default: `pkg/dtmx_wasm_bg.wasm`, fetched). Idempotent. */
export function init(input?: InitInput | Promise<InitInput>): Promise<void>;
/** Loads the module synchronously from its bytes or a compiled `WebAssembly.Module`. */
export function initSync(module: BufferSource | WebAssembly.Module): void;
/** True once the module is loaded. */
export function isReady(): boolean;

/** Options of a global transaction; unset ones keep the server's defaults. */
export interface TransOptions {
  /** The global transaction id (default: a new locally unique one). */
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

/** A step's payload: strings and bytes go as they are, anything else as JSON (a value
 * without a JSON form, such as a BigInt, throws an `InvalidArgumentError`). */
export type Payload = string | Uint8Array | object | null | undefined;

/** A branch's reply to a call the client made. */
export interface BranchReply {
  status: number;
  body: Uint8Array;
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
  /** What else failed on the way, oldest first (e.g. `abort failed: ...` after a failed
   * `run()` body). */
  notes: string[];
  /** The status of the transaction the error is about (`failed`, `submitted`, ...), or
   * null. */
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
/** A `waitResult` submit whose transaction dtm is still retrying (`status`: `submitted`,
 * `aborting`, `prepared`; null when it could not be read): not rolled back, not finished. */
export class UnfinishedError extends DtmxError {}

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
  /** From a raw query string (`gid=...&op=...`, with or without `?`), a `URL` or
   * `URLSearchParams`. */
  static fromQuery(query: string | URL | URLSearchParams): Branch;
  /** From decoded query parameters (a parsed query object) or `[key, value]` pairs. */
  static fromQueryPairs(pairs: Record<string, unknown> | Array<[string, string]> | URLSearchParams): Branch;
  /** From gRPC metadata (`dtm-gid`, ...). */
  static fromGrpcMetadata(metadata: Record<string, unknown> | Array<[string, string]>): Branch;
  /** The identity as a query string (sorted, empty fields left out). */
  toQuery(): string;
}

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
  saga(gid?: string | TransOptions, options?: TransOptions): Saga;
  msg(gid?: string | TransOptions, options?: TransOptions): Msg;
  tcc(gid?: string | TransOptions, options?: TransOptions): Tcc;
  xa(gid?: string | TransOptions, options?: TransOptions): Xa;
  /** A TCC nested in the branch a try request describes (its gid is the branch's). */
  tccFromBranch(branch: BranchFields, options?: TransOptions): Tcc;
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
  /** Prepare, `busi(branch)` (the local work, `branch` the msg barrier's identity), then
   * submit (or abort, or ask the check-back); resolves to `busi`'s value, rejects with
   * `busi`'s own error (what failed after it in its `notes`). */
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
  /** Prepare, `fn(this)`, submit; resolves to `fn`'s value, rejects with `fn`'s own error
   * (a failed abort in its `notes`). */
  run<T>(fn: (tcc: Tcc) => Promise<T> | T): Promise<T>;
}

/** An XA global transaction (client side). */
export class Xa {
  constructor(dtm: Client | string, options?: TransOptions);
  readonly gid: string;
  currentBranchId(): string;
  prepare(): Promise<void>;
  submit(): Promise<void>;
  abort(): Promise<void>;
  callBranch(payload: Payload, url: string): Promise<BranchReply>;
  /** Prepare, `fn(this)`, submit; resolves to `fn`'s value, rejects with `fn`'s own error
   * (a failed abort in its `notes`). */
  run<T>(fn: (xa: Xa) => Promise<T> | T): Promise<T>;
}

/** The reply for dtm: success (or `result` as JSON), 409 failure, 425 ongoing, 500 retry. */
export function reply(error?: unknown, result?: unknown): Reply;
/** The reply for an outcome name. */
export function outcomeReply(outcome: OutcomeParts['outcome'], message?: string): Reply;
/** The outcome a handler's thrown error stands for (as `reply` answers it). */
export function outcomeOfError(error: unknown): OutcomeParts;
/** `reply(error, result)` as a fetch `Response` (Workers, Deno, service workers). */
export function replyResponse(error?: unknown, result?: unknown): Response;

/** A database the barrier helpers run their statements on. */
export interface BarrierDb {
  /** The dialect of the default table (`sqlite` when absent). */
  dialect?: string;
  /** Placeholders of the driver (default: the dialect's own SQL, `?` or `$1`). */
  paramStyle?: 'qmark' | 'format' | 'dollar' | 'numeric';
  /** Runs a statement; the rows it affected. */
  execute(sql: string, params: string[]): number | Promise<number>;
  /** Runs a query; the first column of its first row, or null. */
  reason(sql: string, params: string[]): string | null | undefined | Promise<string | null | undefined>;
  /** Whether the connection is inside a transaction now (the driver's fact; a getter such
   * as `get inTransaction() { return conn.inTransaction; }` for better-sqlite3). Absent:
   * not known, counted as not in one. A call's `inTransaction` option overrides it. */
  readonly inTransaction?: boolean;
  /** Runs `work` in one local transaction, rolled back when `work` throws (else
   * begin/commit/rollback are used). */
  transaction?<T>(work: () => Promise<T>): Promise<T>;
  begin?(): unknown;
  commit?(): unknown;
  rollback?(): unknown;
}

/** Options of `Barrier#call` and `Barrier#queryPrepared`. */
export interface BarrierOptions {
  /** The barrier table (default: the dialect's default table). */
  table?: BarrierTable;
  /** The connection is inside the caller's transaction (true: joined, its commit or
   * rollback left to the caller) or not (false: the barrier's own transaction). Default:
   * `db.inTransaction`. For drivers that cannot tell (node-postgres, mysql2). */
  inTransaction?: boolean;
}
/** Runs Lua on Redis: `(script, keys, args) => reply`. */
export type EvalScript = (script: string, keys: string[], args: string[]) => unknown;

/** Where barrier rows live: a dialect and a table name (the module's class, with
 * `create` added by the package). */
export class BarrierTable extends NativeBarrierTable {
  constructor(dialect: string, name?: string | null);
  readonly dialect: string;
  readonly name: string;
  /** The statements creating the table (and schema) when missing. */
  ddl(): string[];
  /** Creates the table on `db` when missing. */
  create(db: Pick<BarrierDb, 'execute'>): Promise<void>;
  insertIgnoreSql(): string;
  selectReasonSql(): string;
  /** `sql` with its placeholders in `style`. */
  render(sql: string, style: 'qmark' | 'format' | 'dollar' | 'numeric'): string;
  free(): void;
}

/** The sub-transaction barrier of one branch call (the module's class, with the
 * operations on a database or Redis added by the package). */
export class Barrier extends NativeBarrier {
  constructor(transType: string, gid: string, branchId: string, op: string);
  static fromQuery(query: string): Barrier;
  static fromQueryPairs(pairs: Record<string, unknown> | Array<[string, string]>): Barrier;
  static fromBranch(branch: Pick<BranchFields, 'transType' | 'gid' | 'branchId' | 'op'>): Barrier;
  static fromGrpcMetadata(metadata: Record<string, unknown> | Array<[string, string]>): Barrier;
  /** The barrier of msg `gid`'s local work and of its check-back (`msg`, gid, `00`, `msg`). */
  static forMsg(gid: string): Barrier;
  /** The Redis barrier's default key expiry in seconds (7 days). */
  static readonly redisDefaultExpire: number;
  readonly transType: string;
  readonly gid: string;
  readonly branchId: string;
  readonly op: string;
  nextBarrierId(): string;
  /** Runs `busi()` at most once for this branch, in one local transaction with the
   * barrier rows (the caller's when the connection is inside one, else its own);
   * `busi`'s result, or undefined when the barrier skipped it. */
  call<T>(db: BarrierDb, busi: () => Promise<T> | T, options?: BarrierOptions): Promise<T | undefined>;
  /** The msg check-back for this barrier's gid on `db`: resolves when its local
   * transaction committed, rejects with a FailureError when it did not. */
  queryPrepared(db: BarrierDb, options?: BarrierOptions): Promise<void>;
  /** The Redis barrier adjusting `key` by `amount` at most once; keys live `expire`
   * seconds (default: a week). */
  redisCheckAdjustAmount(
    evalScript: EvalScript, key: string, amount: number, expire?: number,
  ): Promise<'applied' | 'null_compensation' | 'duplicate' | 'suspended'>;
  /** The msg check-back for this barrier's gid on Redis. */
  redisQueryPrepared(evalScript: EvalScript, expire?: number): Promise<void>;
  /** Throws the FailureError a check-back answers for `FAILURE`. */
  checkBack(result: string): void;
  /** The sans-IO machines. */
  callMachine(table: BarrierTable): BarrierCall;
  queryPreparedMachine(table: BarrierTable): QueryPrepared;
  xaActionMachine(table: BarrierTable): BarrierCall;
  xaRollbackFence(table: BarrierTable): { sql: string; params: string[] };
  redisCheckAdjustAmountCall(key: string, amount: number, expire?: number | null): RedisCall;
  redisQueryPreparedCall(expire?: number | null): RedisQueryPrepared;
  free(): void;
}
