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

/// How a host spells option names: `wait_result` (Python, C, PHP, Ruby) or `waitResult`
/// (JavaScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `snake_case`.
    Snake,
    /// `camelCase`.
    Camel,
}

/// The options, each as `(snake_case, camelCase)`, in documentation order.
pub const NAMES: [(&str, &str); 7] = [
    ("wait_result", "waitResult"),
    ("timeout_to_fail", "timeoutToFail"),
    ("retry_interval", "retryInterval"),
    ("request_timeout", "requestTimeout"),
    ("retry_limit", "retryLimit"),
    ("branch_headers", "branchHeaders"),
    ("concurrent", "concurrent"),
];

impl Options {
    /// Reads options from a JSON object as a host hands them over (a dict, an object, an
    /// associative array, JSON text), names spelt as `naming` says. `null` values keep the
    /// default. Every host gets the same errors, all `InvalidArgument`:
    /// `unknown option "wait_reslt"`, `option "retry_limit" must be an integer, got "3"`,
    /// `options must be an object, got [1]`; then [`Options::validate`].
    pub fn from_json(value: &serde_json::Value, naming: Naming) -> Result<Options> {
        use serde_json::Value;
        let mut o = Options::default();
        let map = match value {
            Value::Null => return Ok(o),
            Value::Object(map) => map,
            other => return Err(invalid(format!("options must be an object, got {other}"))),
        };
        for (given, v) in map {
            let Some(&(name, _)) = NAMES.iter().find(|(snake, camel)| {
                given
                    == match naming {
                        Naming::Snake => snake,
                        Naming::Camel => camel,
                    }
            }) else {
                return Err(invalid(format!("unknown option {given:?}")));
            };
            if v.is_null() {
                continue;
            }
            let wrong = |what: &str| invalid(format!("option {given:?} must be {what}, got {v}"));
            let int = || v.as_i64().ok_or_else(|| wrong("an integer"));
            let boolean = || v.as_bool().ok_or_else(|| wrong("a boolean"));
            match name {
                "wait_result" => o.wait_result = Some(boolean()?),
                "concurrent" => o.concurrent = Some(boolean()?),
                "timeout_to_fail" => o.timeout_to_fail = Some(int()?),
                "retry_interval" => o.retry_interval = Some(int()?),
                "request_timeout" => o.request_timeout = Some(int()?),
                "retry_limit" => o.retry_limit = Some(int()?),
                _ => {
                    let headers = v.as_object().ok_or_else(|| wrong("an object of strings"))?;
                    for (k, hv) in headers {
                        let hv = hv.as_str().ok_or_else(|| wrong("an object of strings"))?;
                        o.branch_headers.push((k.clone(), hv.to_string()));
                    }
                }
            }
        }
        o.validate()?;
        Ok(o)
    }

    /// [`Options::from_json`] of JSON text (empty: the defaults).
    pub fn from_json_text(text: &str, naming: Naming) -> Result<Options> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Options::default());
        }
        let value = serde_json::from_str(text)
            .map_err(|e| invalid(format!("options are not valid JSON: {e}")))?;
        Options::from_json(&value, naming)
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_with_one_set_of_errors() {
        let o = Options::from_json_text(
            r#"{"waitResult":true,"retryLimit":3,"branchHeaders":{"X":"1"},"concurrent":null}"#,
            Naming::Camel,
        )
        .expect("valid");
        assert_eq!(o.wait_result, Some(true));
        assert_eq!(o.retry_limit, Some(3));
        assert_eq!(o.concurrent, None);
        assert_eq!(o.branch_headers, [("X".to_string(), "1".to_string())]);
        for (text, naming, message) in [
            (
                r#"{"wait_reslt":true}"#,
                Naming::Snake,
                r#"unknown option "wait_reslt""#,
            ),
            (
                r#"{"waitResult":true}"#,
                Naming::Snake,
                r#"unknown option "waitResult""#,
            ),
            (
                r#"{"retry_limit":"3"}"#,
                Naming::Snake,
                r#"option "retry_limit" must be an integer, got "3""#,
            ),
            (
                r#"{"branchHeaders":{"X":1}}"#,
                Naming::Camel,
                r#"option "branchHeaders" must be an object of strings, got {"X":1}"#,
            ),
            ("[1]", Naming::Snake, "options must be an object, got [1]"),
            (
                r#"{"retry_limit":-1}"#,
                Naming::Snake,
                "retry_limit must not be negative, got -1",
            ),
        ] {
            let e = Options::from_json_text(text, naming).expect_err(text);
            assert_eq!(e.message(), message);
        }
        assert_eq!(
            Options::from_json_text("  ", Naming::Snake).expect("empty"),
            Options::default()
        );
    }

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
