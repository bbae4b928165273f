//! Wire types of DTM's protocol (PROTOCOL.md §0, §1.2).

use crate::json::{nullable, nullable_steps, nullable_string_map, nullable_strings};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire spelling; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Status of a global transaction or of a branch.
    TransStatus {
        /// Created by `prepare`, or a branch not yet done.
        Prepared => "prepared",
        /// Submitted: the manager drives it forward.
        Submitted => "submitted",
        /// Rolling back.
        Aborting => "aborting",
        /// Finished successfully.
        Succeed => "succeed",
        /// Finished after rolling back (or a saga action that failed).
        Failed => "failed",
    }
);

impl TransStatus {
    /// True for `succeed` and `failed`.
    pub fn is_final(self) -> bool {
        matches!(self, TransStatus::Succeed | TransStatus::Failed)
    }
}

string_enum!(
    /// Kind of global transaction.
    TransType {
        /// Saga: actions in order, compensations in reverse on failure.
        Saga => "saga",
        /// Two-phase message (outbox).
        Msg => "msg",
        /// Try-Confirm-Cancel.
        Tcc => "tcc",
        /// XA two-phase commit.
        Xa => "xa",
        /// Workflow.
        Workflow => "workflow",
    }
);

string_enum!(
    /// Operation of a branch.
    BranchOp {
        /// Forward action (saga, msg; client-side for xa).
        Action => "action",
        /// Saga compensation.
        Compensate => "compensate",
        /// TCC try (called by the client, never by the manager).
        Try => "try",
        /// TCC confirm.
        Confirm => "confirm",
        /// TCC cancel.
        Cancel => "cancel",
        /// XA phase-2 commit.
        Commit => "commit",
        /// XA phase-2 rollback.
        Rollback => "rollback",
        /// Msg check-back and its barrier.
        Msg => "msg",
    }
);

string_enum!(
    /// Result word carried in `dtm_result`.
    DtmResult {
        /// Done.
        Success => "SUCCESS",
        /// Refused: roll back.
        Failure => "FAILURE",
        /// Not done yet: retry later.
        Ongoing => "ONGOING",
    }
);

string_enum!(
    /// How branch URLs are called.
    Protocol {
        /// Plain HTTP (the default when empty).
        Http => "http",
        /// gRPC generic unary calls.
        Grpc => "grpc",
        /// JSON-RPC 2.0 over HTTP.
        JsonRpc => "json-rpc",
    }
);

/// Branch id of the saga or msg step with 0-based index `i`: `01`, `02`, ...
pub fn branch_id(i: usize) -> String {
    format!("{:02}", i + 1)
}

/// Options of a global transaction, as persisted in the `options` column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransOptions {
    /// Process synchronously inside the submit request and report the outcome.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub wait_result: bool,
    /// Seconds after creation when the transaction times out (0: default).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub timeout_to_fail: i64,
    /// Seconds a branch call may take (0: the server's `RequestTimeout`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub request_timeout: i64,
    /// Base retry interval in seconds (0: derived).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub retry_interval: i64,
    /// Extra headers sent with every branch call.
    #[serde(
        default,
        deserialize_with = "nullable_string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub branch_headers: BTreeMap<String, String>,
    /// Msg only: run all branches concurrently.
    #[serde(default, deserialize_with = "nullable")]
    pub concurrent: bool,
    /// Saga only: immediate retries of a non-final action within one pass.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub retry_limit: i64,
    /// Saga bookkeeping.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub retry_count: i64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The global-transaction request body ("TransGlobal JSON") of `prepare`, `submit`,
/// `abort`, `forceStop`, `resetNextCronTime` and `prepareWorkflow`.
///
/// Decoding is lenient: unknown keys are ignored and `null` means absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransRequest {
    /// Global transaction id.
    #[serde(default, deserialize_with = "nullable")]
    pub gid: String,
    /// `saga`, `msg`, `tcc`, `xa` or `workflow`.
    #[serde(default, deserialize_with = "nullable")]
    pub trans_type: String,
    /// Saga `{"action","compensate"}` or msg `{"action"}` per step; legacy `data` payloads.
    #[serde(
        default,
        deserialize_with = "nullable_steps",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub steps: Vec<BTreeMap<String, String>>,
    /// One payload per step, sent verbatim as the branch request body.
    #[serde(
        default,
        deserialize_with = "nullable_strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub payloads: Vec<String>,
    /// Type-specific extras as JSON text (saga concurrency and orders, msg delay).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub custom_data: String,
    /// Msg check-back URL, workflow resume URL.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub query_prepared: String,
    /// `http` (default when empty), `grpc` or `json-rpc`.
    #[serde(default, deserialize_with = "nullable")]
    pub protocol: String,
    /// Client-supplied status (ignored by the server except for stripping).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub status: String,
    /// Reason recorded when a tcc/xa transaction is aborted.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub rollback_reason: String,
    /// Workflow submit extras: `status`, `rollback_reason`, `result`.
    #[serde(
        default,
        deserialize_with = "nullable_string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub req_extra: BTreeMap<String, String>,
    /// The options, inlined at the top level of the JSON.
    #[serde(flatten)]
    pub options: TransOptions,
}

impl TransRequest {
    /// Removes `\n`, `\r` and `;` from `gid` and `status`, as DTM does with request bodies.
    pub fn strip_unsafe_chars(&mut self) {
        strip(&mut self.gid);
        strip(&mut self.status);
    }
}

/// Removes `\n`, `\r` and `;` from an id, as DTM does with gids in bodies and queries.
pub fn strip(s: &mut String) {
    if s.contains(['\n', '\r', ';']) {
        s.retain(|c| !matches!(c, '\n' | '\r' | ';'));
    }
}

/// Saga extras in `custom_data`: concurrency and step orders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaCustomData {
    /// Run actions concurrently, constrained by `orders`.
    #[serde(default, deserialize_with = "nullable")]
    pub concurrent: bool,
    /// `orders[s]` lists the steps whose actions must succeed before step `s` starts.
    #[serde(default, deserialize_with = "nullable")]
    pub orders: BTreeMap<String, Vec<usize>>,
}

/// Msg extras in `custom_data`: the delivery delay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgCustomData {
    /// Seconds after creation before the message is delivered.
    #[serde(default, deserialize_with = "nullable")]
    pub delay: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_go_sdk_saga() {
        let body = r#"{"gid":"g1","trans_type":"saga","wait_result":true,"concurrent":false,
          "steps":[{"action":"http://svc/api/TransOut","compensate":"http://svc/api/TransOutRevert"}],
          "payloads":["{\"amount\":30}"],"protocol":"","passthrough_headers":null}"#;
        let req: TransRequest = serde_json::from_str(body).expect("decodes");
        assert_eq!(req.gid, "g1");
        assert!(req.options.wait_result);
        assert_eq!(req.steps[0]["compensate"], "http://svc/api/TransOutRevert");
        assert_eq!(req.payloads, vec![r#"{"amount":30}"#]);
    }

    #[test]
    fn nulls_are_defaults() {
        let body = r#"{"gid":null,"steps":[null,{"action":null}],"payloads":null,
          "branch_headers":{"a":null},"timeout_to_fail":null,"custom_data":null}"#;
        let req: TransRequest = serde_json::from_str(body).expect("decodes");
        assert_eq!(req.gid, "");
        assert_eq!(req.steps.len(), 2);
        assert_eq!(req.steps[1]["action"], "");
        assert_eq!(req.options.branch_headers["a"], "");
    }

    #[test]
    fn options_json_keeps_concurrent() {
        let json = serde_json::to_string(&TransOptions::default()).expect("encodes");
        assert_eq!(json, r#"{"concurrent":false}"#);
    }

    #[test]
    fn strips_ids() {
        let mut req = TransRequest {
            gid: "a;b\nc\r".into(),
            ..Default::default()
        };
        req.strip_unsafe_chars();
        assert_eq!(req.gid, "abc");
    }

    #[test]
    fn branch_ids() {
        assert_eq!(branch_id(0), "01");
        assert_eq!(branch_id(11), "12");
    }
}
