//! The business-service side: the branch identity from a request, and the reply for an
//! outcome or for whatever the handler raised.

pub use dtmx::rm::{outcome_reply, Branch, HttpReply};
use dtmx::ErrorKind;
pub use dtmx::Outcome;

/// The outcome a handler's error stands for: `kind` is the dtmx kind of the error, `None`
/// for any other host exception. Only `failure` and `ongoing` keep their meaning; anything
/// else is `Unknown` and dtm retries it (never a rollback).
pub fn outcome_of_error(kind: Option<ErrorKind>, message: &str) -> Outcome {
    match kind {
        Some(ErrorKind::Failure) => Outcome::Failure(message.to_string()),
        Some(ErrorKind::Ongoing) => Outcome::Ongoing(message.to_string()),
        Some(k) => Outcome::Unknown(format!("{k}: {message}")),
        None => Outcome::Unknown(message.to_string()),
    }
}

/// Parses an outcome name (`success`, `failure`, `ongoing`, `unknown`) with its message.
pub fn outcome_named(name: &str, message: &str) -> Option<Outcome> {
    let m = message.to_string();
    match name {
        "success" => Some(Outcome::Success),
        "failure" => Some(Outcome::Failure(m)),
        "ongoing" => Some(Outcome::Ongoing(m)),
        "unknown" => Some(Outcome::Unknown(m)),
        _ => None,
    }
}

/// The name of an outcome (`success`, `failure`, `ongoing`, `unknown`) and its message.
pub fn outcome_parts(outcome: &Outcome) -> (&'static str, &str) {
    match outcome {
        Outcome::Success => ("success", ""),
        Outcome::Failure(m) => ("failure", m),
        Outcome::Ongoing(m) => ("ongoing", m),
        Outcome::Unknown(m) => ("unknown", m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_outcomes() {
        assert_eq!(
            outcome_of_error(Some(ErrorKind::Failure), "no"),
            Outcome::Failure("no".into())
        );
        assert!(matches!(
            outcome_of_error(Some(ErrorKind::Database), "x"),
            Outcome::Unknown(_)
        ));
        assert_eq!(
            outcome_of_error(None, "boom"),
            Outcome::Unknown("boom".into())
        );
        for name in ["success", "failure", "ongoing", "unknown"] {
            let o = outcome_named(name, "m").expect("known");
            assert_eq!(outcome_parts(&o).0, name);
        }
        assert!(outcome_named("maybe", "").is_none());
    }
}
