// Error classes, one per kind of the bindings' error table. Every dtmx error is an
// `Error` whose `name` is its class name (`FailureError`, ...) and whose `kind` is the
// kind (`failure`, `invalid_argument`, ...); `code` is the kind's stable number (c/include/
// dtmx.h's DtmxCode), `notes`
// what else failed on the way (e.g. the abort after a failed body) and `status` the status
// of the transaction the error is about (or null).
//
// The classes are declared here so that they can be imported before the module is
// loaded; `installTable` checks them against the module's table when it loads. index.js
// re-exports only the classes; the helpers below are the package's own.

/** Base class of every dtmx error. */
export class DtmxError extends Error {
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

/** Every class by kind name. */
export const byKind = {};

function define(kind, name) {
  const cls = { [name]: class extends DtmxError {} }[name];
  cls.kind = kind;
  cls.code = 0;
  byKind[kind] = cls;
  return cls;
}

export const InvalidArgumentError = define('invalid_argument', 'InvalidArgumentError');
export const TransportError = define('transport', 'TransportError');
export const ServerError = define('server', 'ServerError');
/** The branch or transaction failed (HTTP 409, FAILURE): dtm rolls back. */
export const FailureError = define('failure', 'FailureError');
/** Not finished yet (HTTP 425, ONGOING): dtm retries later. */
export const OngoingError = define('ongoing', 'OngoingError');
export const DuplicatedError = define('duplicated', 'DuplicatedError');
export const TimeoutError = define('timeout', 'TimeoutError');
export const DatabaseError = define('database', 'DatabaseError');
export const InternalError = define('internal', 'InternalError');
/** A `waitResult` submit whose transaction dtm is still retrying (its `status`:
 * `submitted`, `aborting`, `prepared`): not rolled back, not finished. */
export const UnfinishedError = define('unfinished', 'UnfinishedError');

/** Checks the classes against the module's table (`[{code, kind, className}]`) and sets
 * each class's `code`. */
export function installTable(rows) {
  for (const row of rows) {
    const cls = byKind[row.kind];
    if (!cls || cls.name !== row.className) {
      throw new Error(`dtmx-wasm: error kind ${row.kind} (${row.className}) has no class; rebuild the package`);
    }
    cls.code = row.code;
  }
}

/** The dtmx error of kind `kind` with `message`, `notes` and `status`. */
export function makeError(kind, message, notes, status) {
  const cls = byKind[kind] || InternalError;
  const e = new cls(message);
  e.notes = notes || [];
  e.status = status ?? null;
  return e;
}

/** The kind of a dtmx error, or null for anything else. */
export function kindOf(e) {
  return e instanceof DtmxError ? e.kind : null;
}
