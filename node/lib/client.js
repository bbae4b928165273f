// Client, Saga, Msg, Tcc and Xa: the core's builders with Promise methods.
'use strict';

const native = require('./native');
const { call, kindOf, promise, byKind } = require('./errors');
const { payload } = require('./payload');

const OPTION_NAMES = [
  'gid', 'waitResult', 'timeoutToFail', 'retryInterval', 'requestTimeout', 'retryLimit', 'branchHeaders', 'concurrent',
];

/** Splits `{gid, ...options}`, refusing unknown names. */
function splitOptions(options) {
  if (options === undefined || options === null) return [undefined, undefined];
  if (typeof options !== 'object') throw new byKind.invalid_argument('options must be an object');
  const rest = {};
  for (const [k, v] of Object.entries(options)) {
    if (!OPTION_NAMES.includes(k)) throw new byKind.invalid_argument(`unknown option ${JSON.stringify(k)}`);
    if (k !== 'gid' && v !== undefined && v !== null) rest[k] = v;
  }
  return [options.gid || undefined, rest];
}

/** The native client of a Client or a server URL. */
function nativeClient(dtm) {
  if (dtm instanceof Client) return dtm.native;
  if (typeof dtm === 'string') return new Client(dtm).native;
  throw new byKind.invalid_argument('expected a dtmx Client or a server URL');
}

/** A branch's reply to a call the client made: `{status, body}`, body a Buffer. */
function checked(reply) {
  call(() => native.checkBranchReply(reply.status, reply.body));
  return reply;
}

/** A DTM server (`http://host:36789/api/dtmsvr`). */
class Client {
  /**
   * A client of `server`. `options.token`: the bearer token for a server with
   * authentication on, sent as `Authorization: Bearer <token>` on every request to the
   * server (not to branches).
   */
  constructor(server, options) {
    let token;
    if (options !== undefined && options !== null) {
      if (typeof options !== 'object') throw new byKind.invalid_argument('options must be an object');
      for (const k of Object.keys(options)) {
        if (k !== 'token') throw new byKind.invalid_argument(`unknown client option ${JSON.stringify(k)}`);
      }
      token = options.token ?? undefined;
      if (token !== undefined && typeof token !== 'string') throw new byKind.invalid_argument('token must be a string');
    }
    this.native = call(() => new native.NativeClient(server, token));
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
    return promise((done) => this.native.newGid(done));
  }

  /** The transaction and its branches (`GET /query`). */
  async query(gid) {
    return JSON.parse(await promise((done) => this.native.query(gid, done)));
  }

  /** Polls until the transaction is final; resolves to its status. */
  waitFinal(gid, { timeout = 10, interval = 0.1 } = {}) {
    return promise((done) => this.native.waitFinal(gid, timeout, interval, done));
  }

  /** A saga. */
  saga(options) {
    return new Saga(this, options);
  }

  /** A two-phase message. */
  msg(options) {
    return new Msg(this, options);
  }

  /** A TCC global transaction. */
  tcc(options) {
    return new Tcc(this, options);
  }

  /** An XA global transaction. */
  xa(options) {
    return new Xa(this, options);
  }

  /** Prepare, `fn(tcc)`, then submit; abort (dtm cancels) and rethrow when `fn` throws. */
  tccGlobalTransaction(fn, options) {
    return this.tcc(options).run(fn);
  }

  /** Prepare, `fn(xa)`, then submit; abort (dtm rolls back) and rethrow when `fn` throws. */
  xaGlobalTransaction(fn, options) {
    return this.xa(options).run(fn);
  }

  /** A TCC nested in the branch a try request describes. */
  tccFromBranch(branch, options) {
    const [, rest] = splitOptions(options);
    return new Tcc(null, null, call(() => this.native.tccFromBranch(branch, rest)));
  }
}

/** A saga: dtm runs each action in order and compensates the done ones on failure. */
class Saga {
  /** `dtm` is a Client or a server URL; options: `{gid, waitResult, ...}`. */
  constructor(dtm, options) {
    const [gid, rest] = splitOptions(options);
    const c = nativeClient(dtm);
    this.native = call(() => c.saga(gid, rest));
  }

  /** The global transaction id. */
  get gid() {
    return this.native.gid;
  }

  /** Adds a step. */
  add(action, compensate, data) {
    call(() => this.native.add(action, compensate, payload(data)));
    return this;
  }

  /** Step `branch` starts after `preBranches` (concurrent sagas). */
  addBranchOrder(branch, preBranches) {
    call(() => this.native.addBranchOrder(branch, preBranches));
    return this;
  }

  /** Runs the actions concurrently. */
  enableConcurrent() {
    this.native.enableConcurrent();
    return this;
  }

  /** Submits the saga. */
  submit() {
    return promise((done) => this.native.submit(done));
  }
}

/** A two-phase message: a local transaction and the steps dtm delivers after it. */
class Msg {
  /** `dtm` is a Client or a server URL; options: `{gid, waitResult, ...}`. */
  constructor(dtm, options) {
    const [gid, rest] = splitOptions(options);
    const c = nativeClient(dtm);
    this.native = call(() => c.msg(gid, rest));
  }

  /** The global transaction id. */
  get gid() {
    return this.native.gid;
  }

  /** Adds a step. */
  add(action, data) {
    call(() => this.native.add(action, payload(data)));
    return this;
  }

  /** Adds a step for every subscriber of `topic`. */
  addTopic(topic, data) {
    call(() => this.native.addTopic(topic, payload(data)));
    return this;
  }

  /** Delivers the steps `seconds` after the submit. */
  setDelay(seconds) {
    call(() => this.native.setDelay(seconds));
    return this;
  }

  /** Delivers the steps concurrently. */
  enableConcurrent() {
    this.native.enableConcurrent();
    return this;
  }

  /** Prepares, with `queryPrepared` as the check-back URL. */
  prepare(queryPrepared) {
    return promise((done) => this.native.prepare(queryPrepared, done));
  }

  /** Submits. */
  submit() {
    return promise((done) => this.native.submit(done));
  }

  /** Aborts a prepared message. */
  abort() {
    return promise((done) => this.native.abort(done));
  }

  /**
   * Prepare, `await busi(branch)` (the local transaction, usually through a barrier),
   * then submit; abort when `busi` throws a FailureError; ask the check-back when it
   * throws anything else. `busi`'s own error is rethrown.
   */
  async doAndSubmit(queryPrepared, busi) {
    let thrown;
    const onBarrier = (resume) => {
      Promise.resolve()
        .then(() => busi(resume.branch))
        .then(
          () => resume.ok(),
          (e) => {
            thrown = { error: e };
            resume.err(kindOf(e), e instanceof Error ? e.message : String(e));
          },
        );
    };
    try {
      await promise((done) => this.native.doAndSubmit(queryPrepared, onBarrier, done));
    } catch (e) {
      throw thrown ? thrown.error : e;
    }
  }
}

/** A TCC global transaction: the client calls each try; dtm confirms or cancels. */
class Tcc {
  /** `dtm` is a Client or a server URL; options: `{gid, waitResult, ...}`. */
  constructor(dtm, options, wrapped) {
    if (wrapped) {
      this.native = wrapped;
      return;
    }
    const [gid, rest] = splitOptions(options);
    const c = nativeClient(dtm);
    this.native = call(() => c.tcc(gid, rest));
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
    return promise((done) => this.native.prepare(done));
  }

  /** Submits: dtm confirms every branch. */
  submit() {
    return promise((done) => this.native.submit(done));
  }

  /** Aborts: dtm cancels every branch; `reason` is recorded. */
  abort(reason = '') {
    return promise((done) => this.native.abort(String(reason), done));
  }

  /** Registers a branch and calls its try; resolves to the try's `{status, body}`,
   * rejects with the error a failed try stands for. */
  async callBranch(data, tryUrl, confirmUrl, cancelUrl) {
    const p = payload(data);
    return checked(await promise((done) => this.native.callBranch(p, tryUrl, confirmUrl, cancelUrl, done)));
  }

  /** Prepare, `await fn(this)`, submit; on error abort with its message and rethrow. */
  async run(fn) {
    await this.prepare();
    try {
      await fn(this);
    } catch (e) {
      await this.abort(e instanceof Error ? e.message : String(e));
      throw e;
    }
    await this.submit();
  }
}

/** An XA global transaction: each branch prepares an XA transaction; dtm commits or rolls back. */
class Xa {
  /** `dtm` is a Client or a server URL; options: `{gid, waitResult, ...}`. */
  constructor(dtm, options) {
    const [gid, rest] = splitOptions(options);
    const c = nativeClient(dtm);
    this.native = call(() => c.xa(gid, rest));
  }

  /** The global transaction id. */
  get gid() {
    return this.native.gid;
  }

  /** Prepares the global transaction. */
  prepare() {
    return promise((done) => this.native.prepare(done));
  }

  /** Submits: dtm commits every branch. */
  submit() {
    return promise((done) => this.native.submit(done));
  }

  /** Aborts: dtm rolls back every branch. */
  abort() {
    return promise((done) => this.native.abort(done));
  }

  /** Calls a new branch at `url`; resolves to its `{status, body}`, rejects with the
   * error a failed branch stands for. */
  async callBranch(data, url) {
    const p = payload(data);
    return checked(await promise((done) => this.native.callBranch(p, url, done)));
  }

  /** Prepare, `await fn(this)`, submit; on error abort and rethrow. */
  async run(fn) {
    await this.prepare();
    try {
      await fn(this);
    } catch (e) {
      await this.abort();
      throw e;
    }
    await this.submit();
  }
}

module.exports = { Client, Saga, Msg, Tcc, Xa };
