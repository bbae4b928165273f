// Error classes, one per kind of the bindings' error table. Every dtmx error is an
// `Error` whose `name` is its class name and whose `code` is the kind
// (`failure`, `invalid_argument`, ...); `errno` is the kind's stable number.
'use strict';

const native = require('./native');

/** Base class of every dtmx error. */
class DtmxError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = this.constructor.name;
    this.code = this.constructor.kind;
    this.errno = this.constructor.errno;
  }
}
DtmxError.kind = 'internal';
DtmxError.errno = 0;

/** Every class by kind name, built from the native table. */
const byKind = {};
/** Every class by class name. */
const classes = { DtmxError };

for (const row of native.errorTable()) {
  const cls = { [row.className]: class extends DtmxError {} }[row.className];
  cls.kind = row.kind;
  cls.errno = row.code;
  byKind[row.kind] = cls;
  classes[row.className] = cls;
}

/** The dtmx error of kind `kind` with `message`. */
function makeError(kind, message) {
  const cls = byKind[kind] || byKind.internal;
  return new cls(message);
}

/** A native error (thrown with the kind as `code`) as its dtmx class; others unchanged. */
function fromNative(e) {
  if (e instanceof DtmxError || !(e instanceof Error) || !byKind[e.code]) return e;
  return makeError(e.code, e.message);
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
  return e instanceof DtmxError ? e.code : null;
}

/** Runs a native callback-style call as a Promise: `start(done)`, `done(kind, message, value)`. */
function promise(start) {
  return new Promise((resolve, reject) => {
    call(() =>
      start((kind, message, value) => {
        if (kind === null || kind === undefined) resolve(value);
        else reject(makeError(kind, message));
      }),
    );
  });
}

module.exports = { DtmxError, byKind, classes, call, kindOf, promise };
