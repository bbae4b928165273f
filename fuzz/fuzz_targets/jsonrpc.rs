//! The JSON-RPC 2.0 front door (`POST /api/json-rpc`, `dtmx_server::api::jsonrpc`): the
//! whole input is the request body, decoded as a JSON-RPC call (or batch) and dispatched
//! to the service layer against a live embedded store. A 5xx answer, an "internal error"
//! reply (code -32603) other than DTM's own (`documented_server_error`) or a panic is a
//! finding.
#![no_main]

use axum::body::Body;
use axum::http::{header, Request};
use dtmx_fuzz::{documented_server_error, Harness};
use libfuzzer_sys::fuzz_target;
use std::sync::Mutex;

static HARNESS: Mutex<Option<Harness>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let req = Request::post("/api/json-rpc")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(data.to_vec()))
        .expect("json-rpc request");
    let mut guard = HARNESS.lock().unwrap_or_else(|e| e.into_inner());
    let (_, reply) = guard.get_or_insert_with(Harness::new).http(req);
    let reply: serde_json::Value =
        serde_json::from_slice(&reply).expect("a JSON-RPC reply is JSON");
    if reply.pointer("/error/code").and_then(|c| c.as_i64()) == Some(-32603) {
        let message = reply.pointer("/error/message").and_then(|m| m.as_str());
        assert!(
            message.is_some_and(documented_server_error),
            "internal error: {reply}"
        );
    }
});
