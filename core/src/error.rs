//! The one error type of the core, with a stable kind that bindings switch on
//! (DESIGN.md §3). Messages are for people; kinds and codes are for programs.

use crate::protocol::TransStatus;
use std::fmt;

/// What went wrong, stable across versions and languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller passed something invalid (a missing gid, a bad URL, ...).
    InvalidArgument,
    /// The request could not be sent or its reply not read (connection refused, reset, ...).
    Transport,
    /// The server answered with an error that is neither FAILURE nor ONGOING (HTTP 5xx, ...).
    Server,
    /// A business refusal: roll back (HTTP 409, gRPC Aborted).
    Failure,
    /// Not finished yet: retry later (HTTP 425, gRPC FailedPrecondition).
    Ongoing,
    /// The operation already ran (a msg barrier that exists).
    Duplicated,
    /// A deadline passed.
    Timeout,
    /// The caller's database failed while running the barrier.
    Database,
    /// A bug or an impossible state inside dtmx.
    Internal,
    /// A transaction submitted with `wait_result` has not finished yet: dtm is still
    /// retrying it (status `submitted`, `aborting`, `prepared`); it is not rolled back.
    Unfinished,
}

impl ErrorKind {
    /// Every kind, in code order.
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::InvalidArgument,
        ErrorKind::Transport,
        ErrorKind::Server,
        ErrorKind::Failure,
        ErrorKind::Ongoing,
        ErrorKind::Duplicated,
        ErrorKind::Timeout,
        ErrorKind::Database,
        ErrorKind::Internal,
        ErrorKind::Unfinished,
    ];

    /// The stable name, e.g. `invalid_argument`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Transport => "transport",
            ErrorKind::Server => "server",
            ErrorKind::Failure => "failure",
            ErrorKind::Ongoing => "ongoing",
            ErrorKind::Duplicated => "duplicated",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Database => "database",
            ErrorKind::Internal => "internal",
            ErrorKind::Unfinished => "unfinished",
        }
    }

    /// The stable numeric code bindings expose (0 is reserved for "no error").
    pub fn code(self) -> i32 {
        match self {
            ErrorKind::InvalidArgument => 1,
            ErrorKind::Transport => 2,
            ErrorKind::Server => 3,
            ErrorKind::Failure => 4,
            ErrorKind::Ongoing => 5,
            ErrorKind::Duplicated => 6,
            ErrorKind::Timeout => 7,
            ErrorKind::Database => 8,
            ErrorKind::Internal => 9,
            ErrorKind::Unfinished => 10,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of the dtmx core: a kind, a message and, when there is one, the cause.
///
/// Notes record what else went wrong on the way without replacing the error (the abort
/// that failed after a transaction's code raised it); an error of kind `Unfinished`
/// carries the transaction's status.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    notes: Vec<String>,
    status: Option<TransStatus>,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
            notes: Vec::new(),
            status: None,
        }
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Adds a note: something else that went wrong, which does not replace this error.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// The notes, oldest first.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Records the status of the transaction the error is about.
    pub fn with_status(mut self, status: TransStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// The status of the transaction the error is about, when known (errors of kind
    /// `Unfinished` and `Failure` after a `wait_result` submit).
    pub fn status(&self) -> Option<TransStatus> {
        self.status
    }

    /// Attaches the underlying cause and appends its text, and that of every cause under
    /// it, to the message (`: `-separated, the first line of each, a text the message
    /// already holds skipped), so that a person reading the message sees why
    /// (`connection refused`, a DNS failure).
    pub fn with_cause(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&cause);
        while let Some(c) = next {
            // One line per cause: a JavaScript error's text carries its stack after it.
            let text = c.to_string();
            let part = text.lines().next().unwrap_or_default().trim_end();
            if !part.is_empty() && !self.message.contains(part) {
                self.message.push_str(": ");
                self.message.push_str(part);
            }
            next = c.source();
        }
        self.with_source(cause)
    }

    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Result of the dtmx core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_distinct() {
        let codes: Vec<i32> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes, (1..=10).collect::<Vec<_>>());
        let e = Error::new(ErrorKind::Failure, "no money");
        assert_eq!(e.to_string(), "failure: no money");
        assert_eq!(e.kind().as_str(), "failure");
    }

    #[test]
    fn causes_are_chained_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::new(ErrorKind::Transport, "http://x").with_cause(io);
        assert_eq!(e.message(), "http://x: refused");
        assert!(std::error::Error::source(&e).is_some());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::new(ErrorKind::Transport, "http://x: refused").with_cause(io);
        assert_eq!(e.message(), "http://x: refused");
        let e = e
            .with_note("abort failed")
            .with_status(TransStatus::Submitted);
        assert_eq!(e.notes(), ["abort failed".to_string()]);
        assert_eq!(e.status(), Some(TransStatus::Submitted));
    }
}
