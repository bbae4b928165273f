//! The JSON-RPC 2.0 front door on `POST /api/json-rpc` (PROTOCOL.md §3): the same service
//! calls as HTTP, always answered with HTTP 200 and DTM's error codes.

use super::http::{json_response, trace_context, Http};
use crate::error::DtmError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dtmx::TransRequest;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Business failure.
pub const FAILURE: i64 = -32901;
/// Not finished yet.
pub const ONGOING: i64 = -32902;
const PARSE_ERROR: i64 = -32700;
const BAD_REQUEST: i64 = -32600;
const NO_METHOD: i64 = -32601;
const INTERNAL: i64 = -32603;

fn reply(id: Value, result: Result<Value, (i64, String)>) -> Response {
    let body = match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "error": null, "result": result}),
        Err((code, message)) => json!({
            "jsonrpc": "2.0", "id": id,
            "error": {"code": code, "message": message},
            "result": null
        }),
    };
    json_response(StatusCode::OK, body)
}

fn code_of(e: DtmError) -> (i64, String) {
    let code = match e {
        DtmError::Failure(_) => FAILURE,
        DtmError::Ongoing(_) => ONGOING,
        DtmError::BadRequest(_) | DtmError::TooLarge(_) | DtmError::Forbidden(_) => BAD_REQUEST,
        DtmError::Server(_) => INTERNAL,
    };
    (code, e.to_string())
}

fn params<T: serde::de::DeserializeOwned>(p: Value) -> Result<T, (i64, String)> {
    serde_json::from_value(p).map_err(|e| (BAD_REQUEST, format!("Bad json request: params: {e}")))
}

/// Handles one JSON-RPC request; the trace context comes from the HTTP request's headers.
pub async fn handle(
    State(s): State<Http>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // Even an unreadable or oversized body gets a JSON-RPC reply (always HTTP 200).
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return reply(
                Value::Null,
                Err((
                    BAD_REQUEST,
                    format!(
                        "Bad json request: cannot read request body: {}",
                        e.body_text()
                    ),
                )),
            )
        }
    };
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return reply(
                Value::Null,
                Err((PARSE_ERROR, format!("Parse json error: {e}"))),
            )
        }
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let valid_id = matches!(&id, Value::String(s) if !s.is_empty());
    if !valid_id || req.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return reply(
            id,
            Err((
                BAD_REQUEST,
                "Bad json request: jsonrpc must be \"2.0\" and id a non-empty string".into(),
            )),
        );
    }
    let method = req
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let p = req.get("params").cloned().unwrap_or(Value::Null);
    let svc = &s.service;
    let result = match method {
        "newGid" => Ok(json!({"gid": svc.new_gid()})),
        "prepare" | "submit" | "abort" => match params::<TransRequest>(p) {
            Ok(t) => {
                let trace = trace_context(&headers);
                let r = match method {
                    "prepare" => svc.prepare(t, trace).await,
                    "submit" => svc.submit(t, trace).await,
                    _ => svc.abort(t, trace).await,
                };
                r.map(|()| Value::Null).map_err(code_of)
            }
            Err(e) => Err(e),
        },
        "registerBranch" => match params::<BTreeMap<String, Option<String>>>(p) {
            Ok(fields) => {
                let fields = fields
                    .into_iter()
                    .map(|(k, v)| (k, v.unwrap_or_default()))
                    .collect();
                svc.register_branch(fields)
                    .await
                    .map(|()| Value::Null)
                    .map_err(code_of)
            }
            Err(e) => Err(e),
        },
        other => Err((NO_METHOD, format!("Method not found: {other}"))),
    };
    reply(id, result)
}
