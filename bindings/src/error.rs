//! The one table from error kinds to the codes and names every binding exposes: C's enum
//! values, Node's `code`, Python's exception classes. Bindings switch on these, never on
//! message text.

pub use dtmx::{Error, ErrorKind, Result};

/// The code of "no error" (`DTMX_OK` in C).
pub const OK: i32 = 0;

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    /// The kind.
    pub kind: ErrorKind,
    /// Its stable code, 1 and up.
    pub code: i32,
    /// Its stable name, e.g. `invalid_argument`.
    pub name: &'static str,
    /// The class or error name bindings give it, e.g. `InvalidArgumentError`.
    pub class: &'static str,
}

/// Every kind with its code, name and class name, in code order.
pub fn table() -> Vec<ErrorCode> {
    ErrorKind::ALL.iter().map(|&k| row(k)).collect()
}

/// The row of `kind`.
pub fn row(kind: ErrorKind) -> ErrorCode {
    ErrorCode {
        kind,
        code: kind.code(),
        name: kind.as_str(),
        class: class_name(kind),
    }
}

/// The kind of a code; `None` for 0 and unknown codes.
pub fn kind_of(code: i32) -> Option<ErrorKind> {
    ErrorKind::ALL.into_iter().find(|k| k.code() == code)
}

/// The class name bindings give errors of `kind`.
pub fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidArgument => "InvalidArgumentError",
        ErrorKind::Transport => "TransportError",
        ErrorKind::Server => "ServerError",
        ErrorKind::Failure => "FailureError",
        ErrorKind::Ongoing => "OngoingError",
        ErrorKind::Duplicated => "DuplicatedError",
        ErrorKind::Timeout => "TimeoutError",
        ErrorKind::Database => "DatabaseError",
        ErrorKind::Unfinished => "UnfinishedError",
        _ => "InternalError",
    }
}

/// An `InvalidArgument` error.
pub fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// The error of a payload the host cannot encode as JSON (`detail`: the host's reason),
/// an `InvalidArgument` whose message starts as the core's own payload errors do.
pub fn invalid_payload(detail: &str) -> Error {
    invalid(format!(
        "{}: cannot encode it as JSON: {detail}",
        dtmx::tm::INVALID_PAYLOAD
    ))
}

/// What the core sees of an exception a host's code raised that is not a dtmx error
/// (a business body of `run()`, the local work of `do_and_submit()`): an error of kind
/// `database`, so that it is never taken for a refusal (`failure`) and, for a msg, the
/// check-back decides. The host re-raises its own exception, not this one.
pub fn host_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Database, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_reversible() {
        let t = table();
        assert_eq!(t.len(), ErrorKind::ALL.len());
        for r in &t {
            assert_eq!(kind_of(r.code), Some(r.kind));
            assert!(r.class.ends_with("Error"));
        }
        let mut classes: Vec<_> = t.iter().map(|r| r.class).collect();
        classes.dedup();
        assert_eq!(classes.len(), t.len());
        assert_eq!(kind_of(OK), None);
        assert_eq!(kind_of(99), None);
    }
}
