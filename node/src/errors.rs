//! Errors across the boundary: a core error is thrown (or reported) with the kind's name
//! from the bindings' table as its `code`; `index.js` turns it into the error class of
//! that kind.

use dtmx_bindings::error::table;
use dtmx_bindings::{Error, ErrorKind};
use napi_derive::napi;

/// The JS error for a core error.
pub fn to_js(error: Error) -> napi::Error<String> {
    napi::Error::new(
        error.kind().as_str().to_string(),
        error.message().to_string(),
    )
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
