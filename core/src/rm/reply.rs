//! Outcomes on the wire, RM side: what a business service answers dtm (PROTOCOL.md §1.6,
//! §2.3), and the reverse mapping for gRPC replies.
//!
//! dtm reads a reply body with substring checks (`ONGOING` first, then `FAILURE`), so a
//! message is rewritten to keep those words out where they would change the outcome: a host
//! error is always retried ([`Outcome::Unknown`]), never taken for a failure.

use crate::error::{Error, ErrorKind};
use crate::outcome::Outcome;
use crate::protocol::DtmResult;

/// An HTTP reply for dtm: status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// 200 success, 409 failure, 425 ongoing, 500 anything else.
    pub status: u16,
    /// `{"dtm_result":"SUCCESS"}`, `{"dtm_result":"FAILURE","message":..}`,
    /// `{"dtm_result":"ONGOING","message":..}` or `{"message":..}`.
    pub body: String,
}

/// The content type of [`HttpReply::body`].
pub const CONTENT_TYPE: &str = "application/json";

/// The HTTP reply for `outcome`: 200 SUCCESS, 409 FAILURE, 425 ONGOING, 500 otherwise.
///
/// The message is left out when empty. A failure's message never contains `ONGOING` and an
/// unknown outcome's never contains `FAILURE` or `ONGOING` (they are lower-cased), so dtm
/// reads the reply as the outcome it is.
pub fn outcome_reply(outcome: &Outcome) -> HttpReply {
    let (status, result, message) = match outcome {
        Outcome::Success => (200, Some(DtmResult::Success), String::new()),
        Outcome::Failure(m) => (409, Some(DtmResult::Failure), defuse(m, &["ONGOING"])),
        Outcome::Ongoing(m) => (425, Some(DtmResult::Ongoing), m.clone()),
        Outcome::Unknown(m) => (500, None, defuse(m, &["FAILURE", "ONGOING"])),
    };
    let mut body = serde_json::Map::new();
    if let Some(r) = result {
        body.insert("dtm_result".into(), r.as_str().into());
    }
    if !message.is_empty() {
        body.insert("message".into(), message.into());
    }
    HttpReply {
        status,
        body: serde_json::Value::Object(body).to_string(),
    }
}

fn defuse(message: &str, words: &[&str]) -> String {
    let mut out = message.to_string();
    for w in words {
        if out.contains(w) {
            out = out.replace(w, &w.to_ascii_lowercase());
        }
    }
    out
}

/// The gRPC status codes that carry an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum GrpcCode {
    /// 0: success.
    Ok = 0,
    /// 2: anything else, retried.
    Unknown = 2,
    /// 9: ongoing.
    FailedPrecondition = 9,
    /// 10: failure.
    Aborted = 10,
}

impl GrpcCode {
    /// The numeric code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The canonical name (`OK`, `UNKNOWN`, `FAILED_PRECONDITION`, `ABORTED`).
    pub fn as_str(self) -> &'static str {
        match self {
            GrpcCode::Ok => "OK",
            GrpcCode::Unknown => "UNKNOWN",
            GrpcCode::FailedPrecondition => "FAILED_PRECONDITION",
            GrpcCode::Aborted => "ABORTED",
        }
    }
}

/// The gRPC status code for `outcome`: OK, Aborted (failure), FailedPrecondition
/// (ongoing), Unknown (anything else). The status message is the outcome's text.
pub fn grpc_code(outcome: &Outcome) -> GrpcCode {
    match outcome {
        Outcome::Success => GrpcCode::Ok,
        Outcome::Failure(_) => GrpcCode::Aborted,
        Outcome::Ongoing(_) => GrpcCode::FailedPrecondition,
        Outcome::Unknown(_) => GrpcCode::Unknown,
    }
}

/// The outcome of a gRPC reply: OK success; Aborted failure, except the message exactly
/// `ONGOING` (SDKs before v1.10); FailedPrecondition ongoing; any other code unknown.
pub fn outcome_from_grpc(code: i32, message: &str) -> Outcome {
    match code {
        0 => Outcome::Success,
        10 if message == DtmResult::Ongoing.as_str() => Outcome::Ongoing(message.to_string()),
        10 => Outcome::Failure(message.to_string()),
        9 => Outcome::Ongoing(message.to_string()),
        _ => Outcome::Unknown(format!("grpc code {code}: {message}")),
    }
}

/// The outcome a business handler's error stands for: kind `failure` is a failure, kind
/// `ongoing` is ongoing, every other kind (a database error, a transport error, a
/// duplicate...) is unknown and will be retried.
pub fn outcome_of_error(error: &Error) -> Outcome {
    match error.kind() {
        ErrorKind::Failure => Outcome::Failure(error.message().to_string()),
        ErrorKind::Ongoing => Outcome::Ongoing(error.message().to_string()),
        _ => Outcome::Unknown(error.to_string()),
    }
}

/// The outcome of a business handler's result (see [`outcome_of_error`]).
pub fn outcome_from_result<T>(result: &Result<T, Error>) -> Outcome {
    match result {
        Ok(_) => Outcome::Success,
        Err(e) => outcome_of_error(e),
    }
}

/// The HTTP reply of a business handler: its error's outcome ([`outcome_of_error`]); on
/// success `{"dtm_result":"SUCCESS"}`, or the handler's own JSON value with status 200 when
/// it returned one (not `null`).
pub fn reply(result: &Result<serde_json::Value, Error>) -> HttpReply {
    match result {
        Ok(serde_json::Value::Null) => outcome_reply(&Outcome::Success),
        Ok(value) => HttpReply {
            status: 200,
            body: value.to_string(),
        },
        Err(e) => outcome_reply(&outcome_of_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_replies() {
        assert_eq!(
            reply(&Ok(serde_json::Value::Null)).body,
            r#"{"dtm_result":"SUCCESS"}"#
        );
        let own = reply(&Ok(serde_json::json!({"n": 1})));
        assert_eq!((own.status, own.body.as_str()), (200, r#"{"n":1}"#));
        let failed = reply(&Err(Error::new(ErrorKind::Failure, "no stock")));
        assert_eq!(failed.status, 409);
        assert_eq!(
            reply(&Err(Error::new(ErrorKind::Database, "gone"))).status,
            500
        );
    }

    #[test]
    fn replies() {
        let r = outcome_reply(&Outcome::Success);
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, r#"{"dtm_result":"SUCCESS"}"#)
        );
        let r = outcome_reply(&Outcome::Unknown("db FAILURE, ONGOING".into()));
        assert_eq!(r.status, 500);
        assert_eq!(r.body, r#"{"message":"db failure, ongoing"}"#);
        assert_eq!(
            Outcome::from_http(r.status, r.body.as_bytes()),
            Outcome::Unknown(format!("http status 500: {}", r.body))
        );
        let r = outcome_reply(&Outcome::Failure("no ONGOING money".into()));
        assert!(matches!(
            Outcome::from_http(r.status, r.body.as_bytes()),
            Outcome::Failure(_)
        ));
    }

    #[test]
    fn grpc() {
        assert_eq!(grpc_code(&Outcome::Failure(String::new())).code(), 10);
        assert_eq!(
            outcome_from_grpc(10, "ONGOING"),
            Outcome::Ongoing("ONGOING".into())
        );
        assert!(matches!(outcome_from_grpc(14, "x"), Outcome::Unknown(_)));
    }
}
