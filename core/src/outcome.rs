//! Branch outcomes and how a branch reply maps to one (PROTOCOL.md §1.6).

use crate::protocol::DtmResult;

/// The result of calling a branch, or of any DTM operation.
///
/// Outcomes are not errors: `Failure` is a business decision (roll back), `Ongoing` asks to
/// retry later without backoff, `Unknown` (a transport error, a timeout, an unexpected
/// status) is retried with backoff and never treated as a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// HTTP 200, gRPC OK.
    Success,
    /// HTTP 409, gRPC Aborted: the branch refused; carries the reply text.
    Failure(String),
    /// HTTP 425, gRPC FailedPrecondition: not finished yet; carries the reply text.
    Ongoing(String),
    /// Anything else: retry later with backoff; carries a description.
    Unknown(String),
}

impl Outcome {
    /// Maps an HTTP reply from a branch to an outcome.
    ///
    /// 425 or a body containing `ONGOING` is ongoing; else 409 or a body containing
    /// `FAILURE` is a failure (the substring checks keep pre-v1.10 services that answered
    /// `200 {"dtm_result":"FAILURE"}` working); else any status but 200 is unknown.
    pub fn from_http(status: u16, body: &[u8]) -> Outcome {
        let text = || String::from_utf8_lossy(body).into_owned();
        if status == 425 || contains(body, DtmResult::Ongoing.as_str()) {
            Outcome::Ongoing(text())
        } else if status == 409 || contains(body, DtmResult::Failure.as_str()) {
            Outcome::Failure(text())
        } else if status != 200 {
            Outcome::Unknown(format!("http status {status}: {}", text()))
        } else {
            Outcome::Success
        }
    }

    /// True for [`Outcome::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_mapping() {
        assert_eq!(Outcome::from_http(200, b""), Outcome::Success);
        assert_eq!(
            Outcome::from_http(200, br#"{"dtm_result":"SUCCESS"}"#),
            Outcome::Success
        );
        assert!(matches!(Outcome::from_http(409, b"x"), Outcome::Failure(_)));
        assert!(matches!(Outcome::from_http(425, b""), Outcome::Ongoing(_)));
        assert!(matches!(
            Outcome::from_http(200, br#"{"dtm_result":"FAILURE"}"#),
            Outcome::Failure(_)
        ));
        assert!(matches!(
            Outcome::from_http(200, br#"{"dtm_result":"ONGOING"}"#),
            Outcome::Ongoing(_)
        ));
        // ONGOING wins over FAILURE, as in the reference.
        assert!(matches!(
            Outcome::from_http(409, b"ONGOING"),
            Outcome::Ongoing(_)
        ));
        assert!(matches!(Outcome::from_http(500, b""), Outcome::Unknown(_)));
        assert!(matches!(Outcome::from_http(404, b""), Outcome::Unknown(_)));
    }
}
