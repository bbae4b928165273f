//! Request bodies encoded as Go's `encoding/json` encodes the SDK's structs: the same keys
//! in the same order, the same `omitempty` rules, `<`, `>`, `&`, U+2028 and U+2029 escaped.

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::TransRequest;
use serde::Serialize;
use std::collections::BTreeMap;

/// Go's field order of `dtmimp.TransBase` (with `TransOptions` inlined).
#[derive(Serialize)]
struct GoTransBase<'a> {
    gid: &'a str,
    trans_type: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    custom_data: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    wait_result: bool,
    #[serde(skip_serializing_if = "is_zero")]
    timeout_to_fail: i64,
    #[serde(skip_serializing_if = "is_zero")]
    request_timeout: i64,
    #[serde(skip_serializing_if = "is_zero")]
    retry_interval: i64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    branch_headers: &'a BTreeMap<String, String>,
    concurrent: bool,
    #[serde(skip_serializing_if = "is_zero")]
    retry_limit: i64,
    #[serde(skip_serializing_if = "is_zero")]
    retry_count: i64,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    steps: &'a [BTreeMap<String, String>],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    payloads: &'a [String],
    #[serde(skip_serializing_if = "str::is_empty")]
    query_prepared: &'a str,
    protocol: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    rollback_reason: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    req_extra: &'a BTreeMap<String, String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The body of `prepare`, `submit` and `abort` for `trans`, byte for byte as the Go SDK
/// encodes its `TransBase`.
pub fn encode_trans(trans: &TransRequest) -> Result<Vec<u8>> {
    let o = &trans.options;
    let go = GoTransBase {
        gid: &trans.gid,
        trans_type: &trans.trans_type,
        custom_data: &trans.custom_data,
        wait_result: o.wait_result,
        timeout_to_fail: o.timeout_to_fail,
        request_timeout: o.request_timeout,
        retry_interval: o.retry_interval,
        branch_headers: &o.branch_headers,
        concurrent: o.concurrent,
        retry_limit: o.retry_limit,
        retry_count: o.retry_count,
        steps: &trans.steps,
        payloads: &trans.payloads,
        query_prepared: &trans.query_prepared,
        protocol: &trans.protocol,
        rollback_reason: &trans.rollback_reason,
        req_extra: &trans.req_extra,
    };
    go_json(&go)
}

/// The body of `registerBranch`: a flat object of strings, keys sorted (Go map order).
pub fn encode_register(fields: &BTreeMap<&str, &str>) -> Result<Vec<u8>> {
    go_json(fields)
}

/// JSON as Go's `json.Marshal` writes it (keys in the given order).
pub(crate) fn go_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let raw = serde_json::to_vec(value)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("encode json: {e}")).with_source(e))?;
    Ok(escape_html(raw))
}

/// Go escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings; they only occur inside
/// strings in JSON text, so a byte-level rewrite is exact.
fn escape_html(raw: Vec<u8>) -> Vec<u8> {
    let needs = raw
        .iter()
        .enumerate()
        .any(|(i, &b)| matches!(b, b'<' | b'>' | b'&') || is_line_sep(&raw, i));
    if !needs {
        return raw;
    }
    let mut out = Vec::with_capacity(raw.len() + 16);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            _ if is_line_sep(&raw, i) => {
                out.extend_from_slice(if raw[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn is_line_sep(raw: &[u8], i: usize) -> bool {
    raw[i] == 0xE2 && raw.get(i + 1) == Some(&0x80) && matches!(raw.get(i + 2), Some(0xA8 | 0xA9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_order_and_escaping() {
        let mut t = TransRequest {
            gid: "g<1>".into(),
            trans_type: "saga".into(),
            ..Default::default()
        };
        t.options.wait_result = true;
        t.steps
            .push([("action".to_string(), "http://a/x?a=1&b=2".to_string())].into());
        t.payloads.push("\u{2028}".into());
        let body = String::from_utf8(encode_trans(&t).expect("encodes")).expect("utf8");
        assert_eq!(
            body,
            r#"{"gid":"g\u003c1\u003e","trans_type":"saga","wait_result":true,"concurrent":false,"steps":[{"action":"http://a/x?a=1\u0026b=2"}],"payloads":["\u2028"],"protocol":""}"#
        );
    }
}
