//! The error of a service call, and how each front door encodes it.

use crate::store::StoreError;

/// Why a service call did not succeed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DtmError {
    /// A business refusal or a state conflict (HTTP 409, gRPC Aborted).
    /// The text ends with ` FAILURE`, as DTM's does.
    #[error("{0}")]
    Failure(String),
    /// Not finished yet (HTTP 425, gRPC FailedPrecondition).
    #[error("{0}")]
    Ongoing(String),
    /// The request is invalid in a way DTM does not answer (it would crash): HTTP 400.
    #[error("{0}")]
    BadRequest(String),
    /// The request is over a configured limit: body size, steps, branches, payload size,
    /// branch headers (HTTP 413).
    #[error("{0}")]
    TooLarge(String),
    /// The request names a host that `BranchHostAllowlist` does not list (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// Any other error (HTTP 500): missing rows, store failures, malformed JSON.
    #[error("{0}")]
    Server(String),
}

impl DtmError {
    /// A FAILURE error; ` FAILURE` is appended once.
    pub fn failure(text: impl AsRef<str>) -> DtmError {
        let text = text.as_ref();
        let text = text.strip_suffix(" FAILURE").unwrap_or(text);
        DtmError::Failure(format!("{text} FAILURE"))
    }
}

impl From<StoreError> for DtmError {
    fn from(e: StoreError) -> Self {
        DtmError::Server(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_suffix_once() {
        assert_eq!(DtmError::failure("x").to_string(), "x FAILURE");
        assert_eq!(DtmError::failure("x FAILURE").to_string(), "x FAILURE");
    }
}
