// Client, Saga, Msg, Tcc and Xa: the core's builders with Promise methods.
'use strict';

const native = require('./native');
const { call, kindOf, messageOf, promise, byKind, withNotes } = require('./errors');
const { payload } = require('./payload');

/**
 * Splits a factory's options `{gid, ...options}`: `gid` is the transaction's id (default:
 * a new local one); the rest goes to the core as it is, which checks it.
 */
function withGid(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return [undefined, options];
  const { gid, ...rest } = options;
  return [gid, rest];
}

/**
 * Runs JavaScript code inside a native call (`Tcc.run`, `Xa.run`, `Msg.doAndSubmit`):
 * `start(onBody, done)` starts it; the core calls `onBody(resume)`, which runs
 * `body(resume)` and resumes the core with its outcome. Resolves to the body's value when
 * the core succeeds. When the body threw, rejects with that same thrown value, the
 * core's notes set on it as `notes` (the abort or check-back that failed after it);
 * otherwise with the core's error.
 */
async function runBody(start, body) {
  let value;
  let thrown = null;
  const onBody = (resume) => {
    Promise.resolve()
      .then(() => body(resume))
      .then(
        (v) => {
          value = v;
          resume.ok();
        },
        (e) => {
          thrown = { error: e };
          resume.err(kindOf(e), messageOf(e));
        },
      );
  };
  try {
    await promise((done) => start(onBody, done));
  } catch (e) {
    if (thrown === null) throw e;
    throw withNotes(thrown.error, e.notes);
  }
  return value;
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

  /** A TCC nested in the branch a try request describes (its gid is the branch's: no
   * `gid` option). */
  tccFromBranch(branch, options) {
    return new Tcc(null, null, call(() => this.native.tccFromBranch(branch, options)));
  }
}

/** A saga: dtm runs each action in order and compensates the done ones on failure. */
class Saga {
  /** `dtm` is a Client or a server URL; options: `{gid, waitResult, ...}`. */
  constructor(dtm, options) {
    const [gid, rest] = withGid(options);
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
    const [gid, rest] = withGid(options);
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
   * The core's do-and-submit: prepare, `await busi(branch)` (the local transaction,
   * usually through a barrier), then submit; abort when `busi` throws a FailureError; ask
   * the check-back when it throws anything else. Resolves to `busi`'s value; when `busi`
   * throws, rejects with its own error, what failed after it in `notes`.
   */
  doAndSubmit(queryPrepared, busi) {
    return runBody((onBody, done) => this.native.doAndSubmit(queryPrepared, onBody, done), (resume) => busi(resume.branch));
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
    const [gid, rest] = withGid(options);
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

  /**
   * The core's run: prepare, `await fn(this)`, submit; when `fn` throws, abort (its
   * message the rollback reason). Resolves to `fn`'s value; when `fn` throws, rejects
   * with its own error, a failed abort in `notes`.
   */
  run(fn) {
    return runBody((onBody, done) => this.native.run(onBody, done), () => fn(this));
  }
}

/** An XA global transaction: each branch prepares an XA transaction; dtm commits or rolls back. */
class Xa {
  /** `dtm` is a Client or a server URL; options: `{gid, waitResult, ...}`. */
  constructor(dtm, options) {
    const [gid, rest] = withGid(options);
    const c = nativeClient(dtm);
    this.native = call(() => c.xa(gid, rest));
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

  /**
   * The core's run: prepare, `await fn(this)`, submit; when `fn` throws, abort. Resolves
   * to `fn`'s value; when `fn` throws, rejects with its own error, a failed abort in
   * `notes`.
   */
  run(fn) {
    return runBody((onBody, done) => this.native.run(onBody, done), () => fn(this));
  }
}

module.exports = { Client, Saga, Msg, Tcc, Xa };
