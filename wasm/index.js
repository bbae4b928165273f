// dtmx-wasm: DTM transactions for browsers, Deno, Cloudflare Workers and Node.js through
// WebAssembly. Load the module once with `await init()` (browsers, Deno: fetched next to
// this file) or `initSync(bytesOrModule)` (Workers: the imported .wasm module); the
// `node` export condition (node.js) does it on import.
//
// Client, Saga, Msg, Tcc and Xa are the core's builders with Promise methods; every call
// to dtm goes through `fetch`. Errors are the classes of errors.js. The public names are
// those of tests/vectors/api.json (checked by test/api-manifest.test.mjs).

import initWasm, * as native from './pkg/dtmx_wasm.js';
import { installTable, makeError, kindOf, InternalError, InvalidArgumentError } from './errors.js';

export {
  DtmxError,
  InvalidArgumentError,
  TransportError,
  ServerError,
  FailureError,
  OngoingError,
  DuplicatedError,
  TimeoutError,
  DatabaseError,
  InternalError,
  UnfinishedError,
} from './errors.js';
export { Barrier, BarrierTable } from './barrier.js';
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

let ready = false;

function setup() {
  installTable(native.errorTable());
  native.setErrorClasses(makeError, kindOf);
  ready = true;
}

/** Loads the module: `input` is its URL, bytes, a `Response` or a `WebAssembly.Module`
 * (default: `dtmx_wasm_bg.wasm` next to pkg/dtmx_wasm.js, fetched). Idempotent. */
export async function init(input) {
  if (ready) return;
  await initWasm(input === undefined ? undefined : { module_or_path: input });
  if (!ready) setup();
}

/** Loads the module synchronously from its bytes or a compiled `WebAssembly.Module`. */
export function initSync(module) {
  if (ready) return;
  native.initSync({ module });
  setup();
}

/** True once the module is loaded. */
export function isReady() {
  return ready;
}

function loaded() {
  if (!ready) throw new InternalError('dtmx-wasm is not loaded: await init() first');
}

/** `saga(gid, options)` or `saga(options)`: the options with the gid in them. */
function withGid(gid, options) {
  if (typeof gid === 'string') return { ...(options || {}), gid };
  if (gid === undefined || gid === null) return options;
  return gid;
}

/** The native client of a Client or a server URL. */
function nativeClient(dtm) {
  if (dtm instanceof Client) return dtm.native;
  if (typeof dtm === 'string') return new Client(dtm).native;
  throw new InvalidArgumentError('expected a dtmx Client or a server URL');
}

/** A DTM server (`http://host:36789/api/dtmsvr`). */
export class Client {
  /**
   * A client of `server`. `options.token`: the bearer token for a server with
   * authentication on, sent as `Authorization: Bearer <token>` on every request to the
   * server (not to branches).
   */
  constructor(server, options) {
    loaded();
    let token;
    if (options !== undefined && options !== null) {
      if (typeof options !== 'object') throw new InvalidArgumentError('options must be an object');
      for (const k of Object.keys(options)) {
        if (k !== 'token') throw new InvalidArgumentError(`unknown client option ${JSON.stringify(k)}`);
      }
      token = options.token ?? undefined;
      if (token !== undefined && typeof token !== 'string') throw new InvalidArgumentError('token must be a string');
    }
    this.native = new native.NativeClient(server, token);
  }

  /** The server URL. */
  get server() {
    return this.native.server;
  }

  /** A new gid made locally (no request). */
  localGid() {
    return this.native.localGid();
  }

  /** A new gid from the server. */
  newGid() {
    return this.native.newGid();
  }

  /** The transaction and its branches (`GET /query`). */
  async query(gid) {
    return JSON.parse(await this.native.query(gid));
  }

  /** Polls until the transaction is final; resolves to its status. */
  waitFinal(gid, { timeout = 10, interval = 0.1 } = {}) {
    return this.native.waitFinal(gid, timeout, interval);
  }

  /** A saga: `saga(gid?, options?)` or `saga({gid, ...options})`. */
  saga(gid, options) {
    return new Saga(this, withGid(gid, options));
  }

  /** A two-phase message. */
  msg(gid, options) {
    return new Msg(this, withGid(gid, options));
  }

  /** A TCC global transaction. */
  tcc(gid, options) {
    return new Tcc(this, withGid(gid, options));
  }

  /** An XA global transaction (client side). */
  xa(gid, options) {
    return new Xa(this, withGid(gid, options));
  }

  /** A TCC nested in the branch a try request describes. */
  tccFromBranch(branch, options) {
    return new Tcc(null, null, this.native.tccFromBranch(branch, options));
  }
}

/** A saga: dtm runs each action in order and compensates the done ones on failure. */
export class Saga {
  /** `dtm` is a Client or a server URL; options: `{gid, waitResult, ...}`. */
  constructor(dtm, options) {
    this.native = nativeClient(dtm).saga(options);
  }

  /** The global transaction id. */
  get gid() {
    return this.native.gid;
  }

  /** Adds a step. */
  add(action, compensate, payload) {
    this.native.add(action, compensate, payload);
    return this;
  }

  /** Step `branch` starts after `preBranches` (concurrent sagas). */
  addBranchOrder(branch, preBranches) {
    this.native.addBranchOrder(branch, Uint32Array.from(preBranches));
    return this;
  }

  /** Runs the actions concurrently. */
  enableConcurrent() {
    this.native.enableConcurrent();
    return this;
  }

  /** Submits the saga. */
  submit() {
    return this.native.submit();
  }
}

/** A two-phase message: a local transaction and the steps dtm delivers after it. */
export class Msg {
  /** `dtm` is a Client or a server URL; options: `{gid, waitResult, ...}`. */
  constructor(dtm, options) {
    this.native = nativeClient(dtm).msg(options);
  }

  /** The global transaction id. */
  get gid() {
    return this.native.gid;
  }

  /** Adds a step. */
  add(action, payload) {
    this.native.add(action, payload);
    return this;
  }

  /** Adds a step for every subscriber of `topic`. */
  addTopic(topic, payload) {
    this.native.addTopic(topic, payload);
    return this;
  }

  /** Delivers the steps `seconds` after the submit. */
  setDelay(seconds) {
    this.native.setDelay(seconds);
    return this;
  }

  /** Delivers the steps concurrently. */
  enableConcurrent() {
    this.native.enableConcurrent();
    return this;
  }

  /** Prepares, with `queryPrepared` as the check-back URL. */
  async prepare(queryPrepared) {
    return this.native.prepare(queryPrepared);
  }

  /** Submits. */
  async submit() {
    return this.native.submit();
  }

  /** Aborts a prepared message. */
  abort() {
    return this.native.abort();
  }

  /**
   * Prepare, `await busi(branch)` (the local transaction, usually through a barrier),
   * then submit; abort when `busi` throws a FailureError; ask the check-back when it
   * throws anything else. Resolves to `busi`'s value; `busi`'s own error is rethrown,
   * with what failed after it (abort, check-back, submit) in its `notes`.
   */
  doAndSubmit(queryPrepared, busi) {
    return this.native.doAndSubmit(queryPrepared, busi);
  }
}

/** A TCC global transaction: the client calls each try; dtm confirms or cancels. */
export class Tcc {
  /** `dtm` is a Client or a server URL; options: `{gid, waitResult, ...}`. */
  constructor(dtm, options, wrapped) {
    this.native = wrapped || nativeClient(dtm).tcc(options);
  }

  /** The global transaction id. */
  get gid() {
    return this.native.gid;
  }

  /** The id of the last branch created. */
  currentBranchId() {
    return this.native.currentBranchId();
  }

  /** Prepares the global transaction. */
  prepare() {
    return this.native.prepare();
  }

  /** Submits: dtm confirms every branch. */
  submit() {
    return this.native.submit();
  }

  /** Aborts: dtm cancels every branch; `reason` is recorded. */
  abort(reason = '') {
    return this.native.abort(String(reason));
  }

  /** Registers a branch and calls its try; resolves to the try's `{status, body}`,
   * rejects with the error a failed try stands for. */
  async callBranch(payload, tryUrl, confirmUrl, cancelUrl) {
    return this.native.callBranch(payload, tryUrl, confirmUrl, cancelUrl);
  }

  /** Prepare, `await fn(this)`, submit; resolves to `fn`'s value. When `fn` throws:
   * abort with its message as the rollback reason and rethrow its error, with a failed
   * abort in its `notes`. */
  run(fn) {
    return this.native.run(() => fn(this));
  }
}

/** An XA global transaction (client side): each branch prepares an XA transaction on its
 * own database; dtm commits or rolls back. */
export class Xa {
  /** `dtm` is a Client or a server URL; options: `{gid, waitResult, ...}`. */
  constructor(dtm, options) {
    this.native = nativeClient(dtm).xa(options);
  }

  /** The global transaction id. */
  get gid() {
    return this.native.gid;
  }

  /** The id of the last branch created. */
  currentBranchId() {
    return this.native.currentBranchId();
  }

  /** Prepares the global transaction. */
  prepare() {
    return this.native.prepare();
  }

  /** Submits: dtm commits every branch. */
  submit() {
    return this.native.submit();
  }

  /** Aborts: dtm rolls back every branch. */
  abort() {
    return this.native.abort();
  }

  /** Calls a new branch at `url`; resolves to its `{status, body}`. */
  async callBranch(payload, url) {
    return this.native.callBranch(payload, url);
  }

  /** Prepare, `await fn(this)`, submit; resolves to `fn`'s value. When `fn` throws:
   * abort and rethrow its error, with a failed abort in its `notes`. */
  run(fn) {
    return this.native.run(() => fn(this));
  }
}

/**
 * The reply `{status, body}` (body JSON text) dtm expects from a branch handler: 200
 * SUCCESS without an error (or `result` as JSON when given), 409 for a FailureError, 425
 * for an OngoingError, 500 (dtm retries) for any other error.
 */
export function reply(error, result) {
  loaded();
  if (error === undefined || error === null) {
    if (result === undefined || result === null) return native.outcomeReply('success', '');
    return { status: 200, body: JSON.stringify(result) };
  }
  return native.errorReply(...described(error));
}

/** The dtmx kind (null for anything else) and the message the core sees of a thrown value. */
function described(error) {
  const kind = kindOf(error);
  if (kind) return [kind, error.message];
  return [null, error instanceof Error ? `${error.name}: ${error.message}` : String(error)];
}

/** The outcome `{outcome, message}` a handler's thrown `error` stands for, as `reply`
 * answers it: `failure` for a FailureError, `ongoing` for an OngoingError, `unknown`
 * (dtm retries) for anything else; `success` for null or undefined. */
export function outcomeOfError(error) {
  loaded();
  if (error === undefined || error === null) return { outcome: 'success', message: '' };
  return native.errorOutcome(...described(error));
}

/**
 * The identity of a branch call dtm (or a Tcc/Xa client) made: `gid`, `transType`,
 * `branchId`, `op`, `dtm` (the server URL of TCC and XA calls) and `phase2Url` (XA). Read
 * one from a request with the static `fromQuery` (a raw query string, a `URL` or
 * `URLSearchParams`), `fromQueryPairs` (a parsed query object, or `[key, value]` pairs)
 * or `fromGrpcMetadata`. Every function taking a branch also takes a plain object with
 * these fields.
 */
export class Branch {
  constructor(fields) {
    const f = fields || {};
    this.gid = f.gid || '';
    this.transType = f.transType || '';
    this.branchId = f.branchId || '';
    this.op = f.op || '';
    this.dtm = f.dtm || '';
    this.phase2Url = f.phase2Url || '';
  }

  /** From a raw query string (`gid=...&op=...`, with or without `?`), a `URL` or
   * `URLSearchParams`. */
  static fromQuery(query) {
    loaded();
    if (typeof URL !== 'undefined' && query instanceof URL) return new Branch(native.parseBranch(query.search));
    if (typeof URLSearchParams !== 'undefined' && query instanceof URLSearchParams) return new Branch(native.parseBranch(query.toString()));
    return new Branch(native.parseBranch(String(query ?? '')));
  }

  /** From decoded query parameters: an object (`req.query`; for a repeated key the first
   * value counts) or `[key, value]` pairs. */
  static fromQueryPairs(pairs) {
    loaded();
    if (typeof pairs === 'string') throw new InvalidArgumentError('fromQueryPairs takes an object or pairs: use Branch.fromQuery for a query string');
    if (typeof URLSearchParams !== 'undefined' && pairs instanceof URLSearchParams) return new Branch(native.parseBranch([...pairs]));
    return new Branch(native.parseBranch(pairs ?? {}));
  }

  /** From gRPC metadata (`dtm-gid`, ...): an object or `[key, value]` pairs. */
  static fromGrpcMetadata(metadata) {
    loaded();
    return new Branch(native.branchFromGrpcMetadata(metadata ?? {}));
  }

  /** The identity as a query string (sorted, empty fields left out), what dtm sends. */
  toQuery() {
    loaded();
    return native.branchToQuery(this);
  }
}

/** The reply `{status, body}` for an outcome name (`success`, `failure`, `ongoing`,
 * `unknown`). */
export function outcomeReply(outcome, message = '') {
  loaded();
  return native.outcomeReply(String(outcome), String(message));
}

/** A `Response` (fetch API: Workers, Deno, service workers) for `reply(error, result)`. */
export function replyResponse(error, result) {
  const r = reply(error, result);
  return new Response(r.body, { status: r.status, headers: { 'content-type': 'application/json' } });
}
