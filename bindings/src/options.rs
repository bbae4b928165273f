//! Transaction options as a host passes them (every field optional), validated once and
//! applied to the core's builders.

use crate::error::{invalid, Result};
use dtmx::TransOptions;

/// Options of a global transaction; `None` leaves the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Process the transaction inside the submit request and report its outcome.
    pub wait_result: Option<bool>,
    /// Seconds after which dtm rolls back.
    pub timeout_to_fail: Option<i64>,
    /// Base retry interval in seconds.
    pub retry_interval: Option<i64>,
    /// Seconds a call may take (dtm's calls to branches and this client's calls to dtm).
    pub request_timeout: Option<i64>,
    /// Saga: immediate retries of an action before rolling back.
    pub retry_limit: Option<i64>,
    /// Headers added to every branch call.
    pub branch_headers: Vec<(String, String)>,
    /// Run the steps concurrently (saga, msg).
    pub concurrent: Option<bool>,
}

impl Options {
    /// Checks every field: numbers not negative, header names HTTP tokens, header values
    /// without control characters.
    pub fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("timeout_to_fail", self.timeout_to_fail),
            ("retry_interval", self.retry_interval),
            ("request_timeout", self.request_timeout),
            ("retry_limit", self.retry_limit),
        ] {
            if let Some(v) = value.filter(|v| *v < 0) {
                return Err(invalid(format!("{name} must not be negative, got {v}")));
            }
        }
        for (name, value) in &self.branch_headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(invalid(format!("invalid branch header name {name:?}")));
            }
            if value.chars().any(|c| c.is_control() && c != '\t') {
                return Err(invalid(format!("invalid value of branch header {name:?}")));
            }
        }
        Ok(())
    }

    /// Validates, then writes the fields that are set into `target`.
    pub fn apply(&self, target: &mut TransOptions) -> Result<()> {
        self.validate()?;
        if let Some(v) = self.wait_result {
            target.wait_result = v;
        }
        if let Some(v) = self.timeout_to_fail {
            target.timeout_to_fail = v;
        }
        if let Some(v) = self.retry_interval {
            target.retry_interval = v;
        }
        if let Some(v) = self.request_timeout {
            target.request_timeout = v;
        }
        if let Some(v) = self.retry_limit {
            target.retry_limit = v;
        }
        if let Some(v) = self.concurrent {
            target.concurrent = v;
        }
        for (k, v) in &self.branch_headers {
            target.branch_headers.insert(k.clone(), v.clone());
        }
        Ok(())
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_applies() {
        let mut t = TransOptions::default();
        let o = Options {
            wait_result: Some(true),
            retry_limit: Some(3),
            branch_headers: vec![("X-Trace".into(), "abc".into())],
            ..Default::default()
        };
        o.apply(&mut t).expect("valid");
        assert!(t.wait_result);
        assert_eq!(t.retry_limit, 3);
        assert_eq!(
            t.branch_headers.get("X-Trace").map(String::as_str),
            Some("abc")
        );
        let bad = Options {
            timeout_to_fail: Some(-1),
            ..Default::default()
        };
        assert_eq!(
            bad.validate().map_err(|e| e.kind()),
            Err(dtmx::ErrorKind::InvalidArgument)
        );
        let bad = Options {
            branch_headers: vec![("a b".into(), "x".into())],
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = Options {
            branch_headers: vec![("a".into(), "x\r\ny".into())],
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
