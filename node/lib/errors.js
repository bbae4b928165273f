// Error classes, one per kind of the bindings' error table. Every dtmx error is an
// `Error` whose `name` is its class name and whose `kind` is the kind (`failure`,
// `invalid_argument`, ...); `code` is the kind's stable number (c/include/dtmx.h's
// DtmxCode), `notes` what
// else failed on the way (e.g. the abort after a failed body) and `status` the status of
// the transaction the error is about (or null).
'use strict';

const native = require('./native');

/** Base class of every dtmx error. */
class DtmxError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = this.constructor.name;
    /** The kind: `failure`, `invalid_argument`, ... */
    this.kind = this.constructor.kind;
    /** The kind's stable number (1 `invalid_argument` ... 10 `unfinished`). */
    this.code = this.constructor.code;
    /** What else failed on the way, oldest first (strings). */
    this.notes = [];
    /** The status of the transaction the error is about (`submitted`, `failed`, ...), or null. */
    this.status = null;
  }
}
DtmxError.kind = 'internal';
DtmxError.code = 0;

/** Every class by kind name, built from the native table. */
const byKind = {};
/** Every class by class name. */
const classes = { DtmxError };

for (const row of native.errorTable()) {
  const cls = { [row.className]: class extends DtmxError {} }[row.className];
  cls.kind = row.kind;
  cls.code = row.code;
  byKind[row.kind] = cls;
  classes[row.className] = cls;
}

/** The dtmx error a native error description `{kind, message, notes, status}` stands for. */
function makeError({ kind, message, notes, status }) {
  const cls = byKind[kind] || byKind.internal;
  const e = new cls(message);
  e.notes = notes || [];
  e.status = status ?? null;
  return e;
}

/** A native error (thrown with its description as JSON in `code`) as its dtmx class;
 * anything else unchanged. */
function fromNative(e) {
  if (e instanceof DtmxError || !(e instanceof Error) || typeof e.code !== 'string' || !e.code.startsWith('{')) return e;
  return makeError({ ...JSON.parse(e.code), message: e.message });
}

/** Calls `fn`, rethrowing native errors as dtmx errors. */
function call(fn) {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}

/** The kind of a dtmx error, or null for anything else. */
function kindOf(e) {
  return e instanceof DtmxError ? e.kind : null;
}

/** The message of anything thrown. */
function messageOf(e) {
  return e instanceof Error ? e.message : String(e);
}

/** `original` (anything JavaScript code threw) with `notes` added to its `notes` (what
 * failed after it, as the core reports it); values that cannot carry them stay as they are. */
function withNotes(original, notes) {
  if (original !== null && (typeof original === 'object' || typeof original === 'function')) {
    try {
      original.notes = [...(Array.isArray(original.notes) ? original.notes : []), ...(notes || [])];
    } catch {
      // a frozen object keeps what it has
    }
  }
  return original;
}

/** Runs a native callback-style call as a Promise: `start(done)`, `done(error, value)`
 * with `error` null or a native error description. */
function promise(start) {
  return new Promise((resolve, reject) => {
    call(() =>
      start((error, value) => {
        if (error === null || error === undefined) resolve(value);
        else reject(makeError(error));
      }),
    );
  });
}

module.exports = { DtmxError, byKind, classes, call, kindOf, messageOf, makeError, withNotes, promise };
