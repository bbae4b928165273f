//! Every route of the HTTP API (`dtmx_server::api::http::router`): JSON bodies, query
//! strings, path parameters and methods, through every middleware layer, against a live
//! embedded store.
//!
//! Input: the first line is `METHOD /path?query`, the rest is the body (sent as
//! `application/json`). When a request answers 200 with a `gid`, or submits one, the
//! transaction is read back with `/api/dtmsvr/query`, so stored rows go through the
//! store's encoding and the JSON shapes of replies. A 5xx answer or a panic is a finding.
#![no_main]

use axum::body::Body;
use axum::http::{header, Method, Request};
use dtmx_fuzz::Harness;
use libfuzzer_sys::fuzz_target;
use std::sync::Mutex;

static HARNESS: Mutex<Option<Harness>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let Ok(head) = std::str::from_utf8(head) else {
        return;
    };
    let (method, target) = head.split_once(' ').unwrap_or(("GET", head));
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let Ok(req) = Request::builder()
        .method(method)
        .uri(target)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
    else {
        return;
    };
    let mut guard = HARNESS.lock().unwrap_or_else(|e| e.into_inner());
    let harness = guard.get_or_insert_with(Harness::new);
    let (status, reply) = harness.http(req);
    if !status.is_success() {
        return;
    }
    let gid = [&reply[..], body]
        .iter()
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .find_map(|v| v.get("gid").and_then(|g| g.as_str()).map(str::to_owned));
    if let Some(gid) = gid {
        let query = dtmx::transport::encode_query(&[("gid", gid.as_str())]);
        let req = Request::get(format!("/api/dtmsvr/query?{query}"))
            .body(Body::empty())
            .expect("query request");
        harness.http(req);
    }
});
