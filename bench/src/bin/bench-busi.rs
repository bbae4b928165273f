//! The branch service of the benchmarks. Every `/api/busi/{name}` call answers 200
//! `{"dtm_result":"SUCCESS"}` unless a mode says otherwise, over keep-alive HTTP/1.1
//! with TCP_NODELAY and an accept backlog of 4096, and is counted per
//! (gid, branch_id, op) for the verifier.
//!
//! Usage: `bench-busi [--port P] [--host H] [--fail-step K] [--latency-us N] [--ongoing N]`
//! (or `bench-busi PORT`). Each option has an environment twin: `BUSI_PORT`,
//! `BUSI_HOST`, `BUSI_FAIL_STEP`, `BUSI_LATENCY_US`, `BUSI_ONGOING`.
//!
//! Modes:
//! - `--fail-step K`: the `action` of branch K (branch_id `0K`) answers 409
//!   `{"dtm_result":"FAILURE"}`, so sagas roll back.
//! - `--latency-us N`: every call sleeps N µs before answering (tokio timer: about 1 ms
//!   granularity).
//! - `--ongoing N`: the first N calls of each (gid, branch, op) answer 425
//!   `{"dtm_result":"ONGOING"}`.
//! - down: not running it.
//!
//! Control endpoints (outside `/api/busi`):
//! - `GET /counts?gid=G`: that gid's calls as JSON;
//!   `GET /counts?prefix=P`: text lines `gid branch_id op count` for gids starting with P.
//! - `GET /stats?prefix=P`: `{"gids", "calls", "ops": {"01/action": gids, ...}}`.
//! - `POST /reset`: forget all counts.
//! - `GET /mode`, `POST /mode?fail_step=&latency_us=&ongoing=`: read or change the mode.

use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use dtmx_bench::args::Args;
use dtmx_bench::counts::{self, CountTable};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Default)]
struct Busi {
    table: CountTable,
    /// 0: never fail.
    fail_step: AtomicU64,
    latency_us: AtomicU64,
    ongoing: AtomicU64,
}

const SUCCESS: &str = r#"{"dtm_result":"SUCCESS"}"#;
const FAILURE: &str = r#"{"dtm_result":"FAILURE","message":"bench-busi: fail step"}"#;
const ONGOING: &str = r#"{"dtm_result":"ONGOING"}"#;

/// `gid`, `branch_id` and `op` from DTM's query string (our gids need no decoding).
fn ids(query: &str) -> (&str, &str, &str) {
    let (mut gid, mut branch, mut op) = ("", "", "");
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("gid", v)) => gid = v,
            Some(("branch_id", v)) => branch = v,
            Some(("op", v)) => op = v,
            _ => {}
        }
    }
    (gid, branch, op)
}

async fn branch(
    State(s): State<Arc<Busi>>,
    RawQuery(q): RawQuery,
    _body: bytes::Bytes,
) -> Response {
    let (gid, branch_id, op) = ids(q.as_deref().unwrap_or_default());
    let (branch, op) = (counts::branch_num(branch_id), counts::op_code(op));
    let nth = s.table.record(gid, branch, op);
    let latency = s.latency_us.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_micros(latency)).await;
    }
    let json = [("content-type", "application/json")];
    if u64::from(nth) <= s.ongoing.load(Ordering::Relaxed) {
        return (StatusCode::TOO_EARLY, json, ONGOING).into_response();
    }
    let fail = s.fail_step.load(Ordering::Relaxed);
    if fail > 0 && u64::from(branch) == fail && op == counts::op_code("action") {
        return (StatusCode::CONFLICT, json, FAILURE).into_response();
    }
    (StatusCode::OK, json, SUCCESS).into_response()
}

type Params = Query<HashMap<String, String>>;

async fn counts_of(State(s): State<Arc<Busi>>, Query(p): Params) -> Response {
    if let Some(gid) = p.get("gid") {
        let calls: serde_json::Map<String, serde_json::Value> = s
            .table
            .get(gid)
            .iter()
            .map(|c| (counts::key(c.branch, c.op), json!(c.count)))
            .collect();
        return Json(json!({"gid": gid, "calls": calls})).into_response();
    }
    let mut out = String::new();
    s.table.dump(
        p.get("prefix").map(String::as_str).unwrap_or_default(),
        &mut out,
    );
    out.into_response()
}

async fn stats(State(s): State<Arc<Busi>>, Query(p): Params) -> Json<serde_json::Value> {
    let (gids, calls, ops) = s
        .table
        .stats(p.get("prefix").map(String::as_str).unwrap_or_default());
    Json(json!({"gids": gids, "calls": calls, "ops": ops}))
}

fn mode_json(s: &Busi) -> Json<serde_json::Value> {
    Json(json!({
        "fail_step": s.fail_step.load(Ordering::Relaxed),
        "latency_us": s.latency_us.load(Ordering::Relaxed),
        "ongoing": s.ongoing.load(Ordering::Relaxed),
    }))
}

async fn set_mode(State(s): State<Arc<Busi>>, Query(p): Params) -> Response {
    for (name, field) in [
        ("fail_step", &s.fail_step),
        ("latency_us", &s.latency_us),
        ("ongoing", &s.ongoing),
    ] {
        if let Some(v) = p.get(name) {
            match v.parse() {
                Ok(v) => field.store(v, Ordering::Relaxed),
                Err(_) => {
                    return (StatusCode::BAD_REQUEST, format!("{name}: bad number {v:?}"))
                        .into_response()
                }
            }
        }
    }
    mode_json(&s).into_response()
}

fn options() -> Result<(String, u16, Busi), String> {
    let a = Args::parse(&[], &["port", "host", "fail-step", "latency-us", "ongoing"])?;
    let port = match a.positional.first() {
        Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
        None => a.get("port", Some("BUSI_PORT"), 8082u16)?,
    };
    let host = a
        .str("host", Some("BUSI_HOST"))
        .unwrap_or_else(|| "127.0.0.1".into());
    let busi = Busi::default();
    busi.fail_step.store(
        a.get("fail-step", Some("BUSI_FAIL_STEP"), 0)?,
        Ordering::Relaxed,
    );
    busi.latency_us.store(
        a.get("latency-us", Some("BUSI_LATENCY_US"), 0)?,
        Ordering::Relaxed,
    );
    busi.ongoing.store(
        a.get("ongoing", Some("BUSI_ONGOING"), 0)?,
        Ordering::Relaxed,
    );
    Ok((host, port, busi))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let (host, port, busi) = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench-busi: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let addr: std::net::SocketAddr = match format!("{host}:{port}").parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench-busi: bad address {host}:{port}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let listener = match listen(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bench-busi: cannot listen on {addr}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let state = Arc::new(busi);
    eprintln!(
        "bench-busi on {} (mode {})",
        listener.local_addr().map_or(addr, |a| a),
        mode_json(&state).0
    );
    let app = Router::new()
        .route("/api/busi/{name}", any(branch))
        .route("/counts", get(counts_of))
        .route("/stats", get(stats))
        .route(
            "/reset",
            post(|State(s): State<Arc<Busi>>| async move {
                s.table.clear();
                "reset"
            }),
        )
        .route(
            "/mode",
            get(|State(s): State<Arc<Busi>>| async move { mode_json(&s) }).post(set_mode),
        )
        .with_state(state);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    match axum::serve(listener, app).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-busi: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}
