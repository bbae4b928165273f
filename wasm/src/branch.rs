//! The business-service side: branch identities from requests, outcomes to replies and
//! back, and what a reply to the client's own calls means.

use crate::convert::{
    bad, branch_from_js, branch_to_js, js, kind_named, object, pairs, payload, JsResult,
};
use dtmx_bindings::branch::{
    self, outcome_named, outcome_of_error, outcome_parts, Branch, Outcome,
};
use dtmx_bindings::dtmx::{rm, tm};
use wasm_bindgen::prelude::*;

/// The identity of a branch call from a query string (`gid=...&op=...`, with or without
/// `?`) or from decoded query parameters (an object or `[key, value]` pairs; the first
/// value of a repeated key counts).
#[wasm_bindgen(js_name = parseBranch, unchecked_return_type = "Branch")]
pub fn parse_branch(
    #[wasm_bindgen(
        unchecked_param_type = "string | Record<string, unknown> | Array<[string, string]>"
    )]
    query: JsValue,
) -> JsResult<JsValue> {
    let b = match query.as_string() {
        Some(s) => Branch::from_query(&s),
        None => Branch::from_query_pairs(pairs(&query, "query")?),
    };
    Ok(branch_to_js(&b))
}

/// The identity of a gRPC branch call from its metadata (`dtm-gid`, ...: an object or
/// `[key, value]` pairs).
#[wasm_bindgen(js_name = branchFromGrpcMetadata, unchecked_return_type = "Branch")]
pub fn branch_from_grpc_metadata(
    #[wasm_bindgen(unchecked_param_type = "Record<string, unknown> | Array<[string, string]>")]
    metadata: JsValue,
) -> JsResult<JsValue> {
    Ok(branch_to_js(&Branch::from_grpc_metadata(pairs(
        &metadata, "metadata",
    )?)))
}

/// The identity as a query string (sorted, empty fields left out).
#[wasm_bindgen(js_name = branchToQuery)]
pub fn branch_to_query(
    #[wasm_bindgen(unchecked_param_type = "Branch")] branch: JsValue,
) -> JsResult<String> {
    let b = branch_from_js(&branch)?;
    let mut out = String::new();
    for (k, v) in b.to_query() {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&encode(k));
        out.push('=');
        out.push_str(&encode(v));
    }
    Ok(out)
}

/// `text` percent-encoded for a query (unreserved characters kept).
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte))
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn parts(o: &Outcome) -> JsValue {
    let (name, message) = outcome_parts(o);
    object(&[("outcome", name.into()), ("message", message.into())])
}

fn reply(o: &Outcome) -> JsValue {
    let r = branch::outcome_reply(o);
    object(&[("status", r.status.into()), ("body", r.body.into())])
}

fn status(code: u32) -> u16 {
    u16::try_from(code).unwrap_or(u16::MAX)
}

/// The reply `{status, body}` for an outcome (`success`, `failure`, `ongoing`, `unknown`).
#[wasm_bindgen(js_name = outcomeReply, unchecked_return_type = "Reply")]
pub fn outcome_reply(outcome: &str, message: &str) -> JsResult<JsValue> {
    let o = outcome_named(outcome, message)
        .ok_or_else(|| bad(format!("unknown outcome {outcome:?}")))?;
    Ok(reply(&o))
}

/// The reply for a handler's error of dtmx kind `kind` (`null`: not a dtmx error, which
/// dtm retries, never a rollback).
#[wasm_bindgen(js_name = errorReply, unchecked_return_type = "Reply")]
pub fn error_reply(kind: Option<String>, message: &str) -> JsValue {
    reply(&outcome_of_error(
        kind.as_deref().and_then(kind_named),
        message,
    ))
}

/// The outcome `{outcome, message}` of a handler's error, as [`error_reply`] decides it.
#[wasm_bindgen(js_name = errorOutcome, unchecked_return_type = "OutcomeParts")]
pub fn error_outcome(kind: Option<String>, message: &str) -> JsValue {
    parts(&outcome_of_error(
        kind.as_deref().and_then(kind_named),
        message,
    ))
}

/// How dtm reads a branch's HTTP reply: `{outcome, message}`.
#[wasm_bindgen(js_name = outcomeFromHttp, unchecked_return_type = "OutcomeParts")]
pub fn outcome_from_http(
    code: u32,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] body: JsValue,
) -> JsResult<JsValue> {
    Ok(parts(&Outcome::from_http(status(code), &payload(&body)?)))
}

/// How dtm reads a branch's gRPC status `code` and message: `{outcome, message}`.
#[wasm_bindgen(js_name = outcomeFromGrpc, unchecked_return_type = "OutcomeParts")]
pub fn outcome_from_grpc(code: i32, message: &str) -> JsValue {
    parts(&rm::outcome_from_grpc(code, message))
}

/// The gRPC status code for an outcome (`success`, `failure`, `ongoing`, `unknown`).
#[wasm_bindgen(js_name = grpcCode)]
pub fn grpc_code(outcome: &str, message: &str) -> JsResult<i32> {
    let o = outcome_named(outcome, message)
        .ok_or_else(|| bad(format!("unknown outcome {outcome:?}")))?;
    Ok(rm::grpc_code(&o).code())
}

/// The version of dtmx.
#[wasm_bindgen]
pub fn version() -> String {
    dtmx_bindings::dtmx::VERSION.to_string()
}

/// Throws the error a branch's reply to the client's own call stands for (TCC try, XA
/// action, msg check-back).
#[wasm_bindgen(js_name = checkBranchReply)]
pub fn check_branch_reply(
    code: u32,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] body: JsValue,
) -> JsResult<()> {
    js(tm::check_branch_reply(status(code), &payload(&body)?))
}

/// Throws the error a reply of the DTM server stands for.
#[wasm_bindgen(js_name = checkServerReply)]
pub fn check_server_reply(
    code: u32,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] body: JsValue,
) -> JsResult<()> {
    js(tm::check_server_reply(status(code), &payload(&body)?))
}
