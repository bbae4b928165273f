//! Errors across the boundary: a core error reaches JavaScript as its description
//! `{kind, message, notes, status}` ([`describe`]): as the `code` (JSON text) of a thrown
//! error, or as the first argument of a `done` callback. `lib/errors.js` turns it into the
//! error class of that kind, with `notes` and `status`.

use dtmx_bindings::error::{host_error, invalid_payload as payload_error, table};
use dtmx_bindings::{Error, ErrorKind};
use napi_derive::napi;
use serde_json::{json, Value};

/// What JavaScript gets of a core error: its kind's name (the error's `code`), message,
/// notes and the status of the transaction it is about (`null` for none).
pub fn describe(error: &Error) -> Value {
    json!({
        "kind": error.kind().as_str(),
        "message": error.message(),
        "notes": error.notes(),
        "status": error.status().map(|s| s.as_str()),
    })
}

/// The JS error for a core error: its description as JSON text in `code`.
pub fn to_js(error: Error) -> napi::Error<String> {
    napi::Error::new(describe(&error).to_string(), error.message().to_string())
}

/// A core result as a thrown-on-error result.
pub fn js<T>(r: dtmx_bindings::Result<T>) -> napi::Result<T, String> {
    r.map_err(to_js)
}

/// A napi failure (e.g. a callback that cannot be made) as an `internal` error.
pub fn from_napi(e: napi::Error) -> napi::Error<String> {
    to_js(Error::new(ErrorKind::Internal, e.reason))
}

/// The kind named `name` (`failure`, `database`, ...); `None` for other names.
pub fn kind_named(name: &str) -> Option<ErrorKind> {
    ErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
}

/// What the core sees of an error JavaScript code threw (a body of `run()`, the local
/// work of `do_and_submit()`, an XA branch's business): a dtmx error of kind `kind`, or
/// for anything else (`kind` `null`) the bindings' [`host_error`].
pub fn thrown(kind: Option<&str>, message: String) -> Error {
    match kind.and_then(kind_named) {
        Some(k) => Error::new(k, message),
        None => host_error(message),
    }
}

/// One row of the error table.
#[napi(object)]
pub struct ErrorRow {
    /// The stable code, 1 and up.
    pub code: i32,
    /// The kind's name, e.g. `invalid_argument` (an error's `code` in JavaScript).
    pub kind: String,
    /// The error class name, e.g. `InvalidArgumentError`.
    pub class_name: String,
}

/// The bindings' error table, in code order.
#[napi(catch_unwind)]
pub fn error_table() -> Vec<ErrorRow> {
    table()
        .into_iter()
        .map(|r| ErrorRow {
            code: r.code,
            kind: r.name.to_string(),
            class_name: r.class.to_string(),
        })
        .collect()
}

/// The description of the error for a payload JavaScript cannot encode as JSON
/// (`detail`: why, e.g. the message of `JSON.stringify`'s TypeError).
#[napi(catch_unwind)]
pub fn invalid_payload(detail: String) -> Value {
    describe(&payload_error(&detail))
}
