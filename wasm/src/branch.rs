//! The business-service side: branch identities from requests, outcomes to replies and
//! back, and what a reply to the client's own calls means.

use crate::convert::{bad, branch_to_js, js, kind_named, object, pairs, payload, JsResult};
use dtmx_bindings::branch::{
    http_reply, outcome_named, outcome_of_error, outcome_parts, BranchRequest, Outcome,
};
use dtmx_bindings::dtmx::tm::{branch_reply_error, check_dtm_reply};
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
        Some(s) => BranchRequest::from_query_string(&s),
        None => BranchRequest::from_query(pairs(&query, "query")?),
    };
    Ok(branch_to_js(&b))
}

fn parts(o: &Outcome) -> JsValue {
    let (name, message) = outcome_parts(o);
    object(&[("outcome", name.into()), ("message", message.into())])
}

fn reply(o: &Outcome) -> JsValue {
    let r = http_reply(o);
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
#[wasm_bindgen(js_name = outcomeOf, unchecked_return_type = "OutcomeParts")]
pub fn outcome_of(
    code: u32,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] body: JsValue,
) -> JsResult<JsValue> {
    Ok(parts(&Outcome::from_http(status(code), &payload(&body)?)))
}

/// Throws the error a branch's reply to the client's own call stands for (TCC try, XA
/// action, msg check-back).
#[wasm_bindgen(js_name = checkBranchReply)]
pub fn check_branch_reply(
    code: u32,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] body: JsValue,
) -> JsResult<()> {
    js(branch_reply_error(status(code), &payload(&body)?))
}

/// Throws the error a reply of the DTM server stands for.
#[wasm_bindgen(js_name = checkServerReply)]
pub fn check_server_reply(
    code: u32,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] body: JsValue,
) -> JsResult<()> {
    js(check_dtm_reply(status(code), &payload(&body)?))
}
