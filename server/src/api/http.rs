//! The HTTP front door on `HttpPort` (PROTOCOL.md §1.1, §1.3): DTM's routes, its reply
//! envelope (200 / 409 / 425 / 500 with `dtm_result`) and lenient JSON bodies.

use super::auth::{guard, Style};
use super::json::{branch_json, kv_json, trans_json, TimeFormat};
use crate::auth::Scope;
use crate::error::DtmError;
use crate::metrics::Metrics;
use crate::service::{Service, DEFAULT_PAGE};
use crate::store::ScanQuery;
use crate::trace::TraceContext;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::Request;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::Router;
use dtmx::TransRequest;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// State shared by the handlers.
#[derive(Clone)]
pub struct Http {
    pub service: Service,
    pub time: TimeFormat,
}

/// What a handler returns: the SUCCESS envelope or a JSON value.
enum Reply {
    Success,
    Json(Value),
}

type Answer = Result<Reply, DtmError>;
type Params = Query<HashMap<String, String>>;

/// The router with every DTM route (and the test hooks when enabled).
pub fn router(state: Http) -> Router {
    let config = &state.service.engine.config;
    let limit = config.http_max_body_bytes;
    let cors = super::cors::Cors::from_list(&config.http_cors_allowed_origins);
    let tokens = &config.auth;
    // The transaction API: what DTM's SDKs call.
    let transactions = Router::new()
        .route("/version", get(version))
        .route("/newGid", get(new_gid))
        .route("/prepare", post(prepare))
        .route("/submit", post(submit))
        .route("/abort", post(abort))
        .route("/registerBranch", post(register_branch))
        .route("/prepareWorkflow", post(prepare_workflow))
        .route("/registerXaBranch", post(register_branch))
        .route("/registerTccBranch", post(register_branch))
        .route("/query", get(query));
    // Operations: force-stop, listings, resets, topics (the console's calls).
    let mut operations = Router::new()
        .route("/forceStop", post(force_stop))
        .route("/all", get(all))
        .route("/resetCronTime", get(reset_cron_time))
        .route("/resetNextCronTime", post(reset_next_cron_time))
        .route("/subscribe", get(subscribe))
        .route("/unsubscribe", get(unsubscribe))
        .route("/topic/{name}", delete(delete_topic))
        .route("/queryKV", get(query_kv))
        .route("/scanKV", get(scan_kv));
    if config.test_hooks {
        operations = operations.route("/test/forward", post(forward));
    }
    let dtm = guard(transactions, tokens, Scope::Submit, Style::Rest).merge(guard(
        operations,
        tokens,
        Scope::Admin,
        Style::Rest,
    ));
    let json_rpc = Router::new().route("/api/json-rpc", post(super::jsonrpc::handle));
    let metrics = Router::new().route("/api/metrics", get(metrics));
    let app = Router::new()
        .route(
            "/api/ping",
            any(|| async { json_response(StatusCode::OK, json!({"msg": "pong"})) }),
        )
        .merge(guard(json_rpc, tokens, Scope::Submit, Style::JsonRpc))
        .merge(guard(metrics, tokens, Scope::Metrics, Style::Rest))
        .nest("/api/dtmsvr", dtm)
        .merge(super::admin::routes(&config.admin_base_path))
        .fallback(|| async {
            json_response(StatusCode::NOT_FOUND, json!({"message": "no such route"}))
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            FrontDoor {
                metrics: state.service.engine.metrics.clone(),
                limits: HeaderLimits {
                    count: config.http_max_headers,
                    bytes: config.http_max_header_bytes,
                },
            },
            front_door,
        ))
        .with_state(state);
    match cors {
        Some(policy) => app.layer(middleware::from_fn_with_state(policy, super::cors::cors)),
        None => app,
    }
}

/// A JSON response with DTM's content type.
pub fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, JSON_TYPE)],
        body.to_string(),
    )
        .into_response()
}

/// DTM's content type for JSON replies.
const JSON_TYPE: &str = "application/json; charset=utf-8";

/// DTM's SUCCESS reply, the answer to most calls, written once instead of per reply.
const SUCCESS_BODY: &str = r#"{"dtm_result":"SUCCESS"}"#;

/// Encodes an answer in DTM's envelope.
fn envelope(answer: Answer) -> Response {
    match answer {
        Ok(Reply::Success) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, JSON_TYPE)],
            SUCCESS_BODY,
        )
            .into_response(),
        Ok(Reply::Json(v)) => json_response(StatusCode::OK, v),
        Err(DtmError::Failure(m)) => json_response(
            StatusCode::CONFLICT,
            json!({"dtm_result": "FAILURE", "message": m}),
        ),
        Err(DtmError::Ongoing(m)) => json_response(
            StatusCode::TOO_EARLY,
            json!({"dtm_result": "ONGOING", "message": m}),
        ),
        Err(DtmError::BadRequest(m)) => {
            json_response(StatusCode::BAD_REQUEST, json!({"message": m}))
        }
        Err(DtmError::TooLarge(m)) => {
            json_response(StatusCode::PAYLOAD_TOO_LARGE, json!({"message": m}))
        }
        Err(DtmError::Forbidden(m)) => json_response(StatusCode::FORBIDDEN, json!({"message": m})),
        Err(DtmError::Server(m)) => {
            json_response(StatusCode::INTERNAL_SERVER_ERROR, json!({"message": m}))
        }
    }
}

/// Reads a body: 413 when it is over the limit, 400 when it cannot be read.
fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, DtmError> {
    body.map_err(|e| {
        let message = format!("cannot read request body: {}", e.body_text());
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            DtmError::TooLarge(message)
        } else {
            DtmError::BadRequest(message)
        }
    })
}

/// Decodes a TransGlobal body; malformed JSON is a 500, as in DTM.
fn trans_body(body: &[u8]) -> Result<TransRequest, DtmError> {
    serde_json::from_slice(body).map_err(|e| DtmError::Server(format!("invalid request body: {e}")))
}

async fn with_trans<F, Fut>(body: Result<Bytes, BytesRejection>, f: F) -> Response
where
    F: FnOnce(TransRequest) -> Fut,
    Fut: std::future::Future<Output = Result<(), DtmError>>,
{
    let body = match body_bytes(body) {
        Ok(b) => b,
        Err(e) => return envelope(Err(e)),
    };
    let answer = match trans_body(&body) {
        Ok(req) => f(req).await.map(|()| Reply::Success),
        Err(e) => Err(e),
    };
    envelope(answer)
}

async fn version() -> Response {
    envelope(Ok(Reply::Json(
        json!({"version": concat!("v", env!("CARGO_PKG_VERSION"))}),
    )))
}

async fn new_gid(State(s): State<Http>) -> Response {
    envelope(Ok(Reply::Json(
        json!({"gid": s.service.new_gid(), "dtm_result": "SUCCESS"}),
    )))
}

/// The W3C trace context of a request's `traceparent` and `tracestate` headers; None
/// when absent or invalid.
pub fn trace_context(headers: &HeaderMap) -> Option<TraceContext> {
    let values = |name| {
        headers
            .get_all(name)
            .into_iter()
            .map(|v| v.to_str().unwrap_or_default())
    };
    TraceContext::extract(values("traceparent"), values("tracestate"))
}

async fn prepare(
    State(s): State<Http>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let trace = trace_context(&headers);
    with_trans(body, |req| s.service.prepare(req, trace)).await
}

async fn submit(
    State(s): State<Http>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let trace = trace_context(&headers);
    with_trans(body, |req| s.service.submit(req, trace)).await
}

async fn abort(
    State(s): State<Http>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let trace = trace_context(&headers);
    with_trans(body, |req| s.service.abort(req, trace)).await
}

async fn force_stop(State(s): State<Http>, body: Result<Bytes, BytesRejection>) -> Response {
    with_trans(
        body,
        |req| async move { s.service.force_stop(&req.gid).await },
    )
    .await
}

async fn prepare_workflow(
    State(s): State<Http>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body_bytes(body) {
        Ok(b) => b,
        Err(e) => return envelope(Err(e)),
    };
    let answer = match trans_body(&body) {
        Ok(req) => s
            .service
            .prepare_workflow(req, trace_context(&headers))
            .await
            .map(|(trans, progresses)| {
                let progresses: Vec<Value> =
                    progresses.iter().map(|b| branch_json(b, s.time)).collect();
                Reply::Json(
                    json!({"transaction": trans_json(&trans, s.time), "progresses": progresses}),
                )
            }),
        Err(e) => Err(e),
    };
    envelope(answer)
}

async fn reset_next_cron_time(
    State(s): State<Http>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    with_trans(body, |req| async move {
        s.service.reset_next_cron_time(&req.gid).await
    })
    .await
}

async fn register_branch(State(s): State<Http>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body_bytes(body) {
        Ok(b) => b,
        Err(e) => return envelope(Err(e)),
    };
    let fields: BTreeMap<String, Option<String>> = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => {
            return envelope(Err(DtmError::BadRequest(format!(
                "registerBranch takes a JSON object of strings: {e}"
            ))))
        }
    };
    let fields = fields
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    envelope(
        s.service
            .register_branch(fields)
            .await
            .map(|()| Reply::Success),
    )
}

async fn query(State(s): State<Http>, Query(p): Params) -> Response {
    let gid = p.get("gid").map(String::as_str).unwrap_or_default();
    let answer = s.service.query(gid).await.map(|(trans, branches)| {
        let trans = trans.map_or(Value::Null, |t| trans_json(&t, s.time));
        let branches: Vec<Value> = branches.iter().map(|b| branch_json(b, s.time)).collect();
        Reply::Json(json!({"transaction": trans, "branches": branches}))
    });
    envelope(answer)
}

fn int_param(p: &HashMap<String, String>, key: &str, default: i64) -> Result<i64, DtmError> {
    match p.get(key).map(String::as_str) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| DtmError::BadRequest(format!("{key} must be an integer, got {v:?}"))),
    }
}

fn time_param(p: &HashMap<String, String>, key: &str) -> Result<Option<i64>, DtmError> {
    match p.get(key).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(|ms| Some(ms / 1000 * 1000))
            .map_err(|_| {
                DtmError::BadRequest(format!("{key} must be epoch milliseconds, got {v:?}"))
            }),
    }
}

async fn all(State(s): State<Http>, Query(p): Params) -> Response {
    let answer = async {
        let get = |k: &str| p.get(k).cloned().unwrap_or_default();
        let limit = int_param(&p, "limit", DEFAULT_PAGE)?;
        if limit <= 0 {
            return Err(DtmError::BadRequest("limit must be positive".into()));
        }
        let position = get("position");
        if !position.is_empty() && position.parse::<i64>().is_err() {
            return Err(DtmError::BadRequest(format!(
                "position must be a value returned as next_position, got {position:?}"
            )));
        }
        let q = ScanQuery {
            position,
            limit,
            status: get("status"),
            trans_type: get("transType"),
            create_time_start: time_param(&p, "createTimeStart")?,
            create_time_end: time_param(&p, "createTimeEnd")?,
        };
        let (rows, next) = s.service.all(&get("gid"), q).await?;
        let rows = rows.map_or(Value::Null, |rows| {
            Value::Array(rows.iter().map(|t| trans_json(t, s.time)).collect())
        });
        Ok(Reply::Json(
            json!({"transactions": rows, "next_position": next}),
        ))
    };
    envelope(answer.await)
}

async fn reset_cron_time(State(s): State<Http>, Query(p): Params) -> Response {
    let answer = async {
        let config = &s.service.engine.config;
        let timeout = int_param(&p, "timeout", 3 * config.timeout_to_fail)?;
        let limit = int_param(&p, "limit", DEFAULT_PAGE)?;
        if limit <= 0 {
            return Err(DtmError::BadRequest("limit must be positive".into()));
        }
        let (count, remaining) = s.service.reset_cron_time(timeout, limit).await?;
        Ok(Reply::Json(
            json!({"has_remaining": remaining, "succeed_count": count}),
        ))
    };
    envelope(answer.await)
}

fn param<'a>(p: &'a HashMap<String, String>, key: &str) -> &'a str {
    p.get(key).map(String::as_str).unwrap_or_default()
}

async fn subscribe(State(s): State<Http>, Query(p): Params) -> Response {
    let answer = s
        .service
        .subscribe(param(&p, "topic"), param(&p, "url"), param(&p, "remark"))
        .await;
    envelope(answer.map(|()| Reply::Success))
}

async fn unsubscribe(State(s): State<Http>, Query(p): Params) -> Response {
    let answer = s
        .service
        .unsubscribe(param(&p, "topic"), param(&p, "url"))
        .await;
    envelope(answer.map(|()| Reply::Success))
}

async fn delete_topic(State(s): State<Http>, Path(name): Path<String>) -> Response {
    envelope(s.service.delete_topic(&name).await.map(|()| Reply::Success))
}

async fn query_kv(State(s): State<Http>, Query(p): Params) -> Response {
    let answer = s
        .service
        .query_kv(param(&p, "cat"), param(&p, "key"))
        .await
        .map(|rows| {
            let kv: Vec<Value> = rows.iter().map(|r| kv_json(r, s.time)).collect();
            Reply::Json(json!({"kv": kv}))
        });
    envelope(answer)
}

async fn scan_kv(State(s): State<Http>, Query(p): Params) -> Response {
    let answer = async {
        let limit = int_param(&p, "limit", DEFAULT_PAGE)?;
        if limit <= 0 {
            return Err(DtmError::BadRequest("limit must be positive".into()));
        }
        let position = param(&p, "position");
        if !position.is_empty() && position.parse::<i64>().is_err() {
            return Err(DtmError::BadRequest(format!(
                "position must be a value returned as next_position, got {position:?}"
            )));
        }
        let (rows, next) = s.service.scan_kv(param(&p, "cat"), position, limit).await?;
        let kv: Vec<Value> = rows.iter().map(|r| kv_json(r, s.time)).collect();
        Ok(Reply::Json(json!({"kv": kv, "next_position": next})))
    };
    envelope(answer.await)
}

/// What the front door of every request needs.
#[derive(Clone)]
struct FrontDoor {
    metrics: Arc<Metrics>,
    limits: HeaderLimits,
}

/// The one middleware every request passes (one layer, not three, to keep the per-request
/// cost down): refuses oversized header sets, turns a handler panic into a 500, and
/// counts and times the request.
async fn front_door(State(door): State<FrontDoor>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let api = api_label(req.uri().path());
    let resp = match header_refusal(req.headers(), door.limits) {
        Some(refusal) => refusal,
        None => run_catching_panics(req, next).await,
    };
    // Only the fallback answers 404: no route matched.
    let api = if resp.status() == StatusCode::NOT_FOUND {
        UNKNOWN_API
    } else if resp
        .extensions()
        .get::<super::admin::ConsolePage>()
        .is_some()
    {
        "admin"
    } else {
        &api
    };
    let ok = resp.status().as_u16() < 400;
    door.metrics.request("http", api, ok, started.elapsed());
    resp
}

/// Runs the rest of the stack, turning a panic inside a handler into a 500 with the panic
/// text, as DTM's recovery does; the server keeps serving.
async fn run_catching_panics(req: Request, next: Next) -> Response {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(next.run(req))
        .catch_unwind()
        .await
    {
        Ok(resp) => resp,
        Err(panic) => {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!("handler panicked: {text}");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": format!("internal error: {text}")}),
            )
        }
    }
}

/// `HttpMaxHeaders` and `HttpMaxHeaderBytes`.
#[derive(Clone, Copy)]
struct HeaderLimits {
    count: usize,
    bytes: usize,
}

/// The 431 for a request with more header fields than `HttpMaxHeaders`, or more header
/// bytes (names and values) than `HttpMaxHeaderBytes`; None when it is within both. (Past
/// hyper's own caps, 100 fields or a 400 KiB head, hyper answers 431 before routing.)
fn header_refusal(headers: &HeaderMap, limits: HeaderLimits) -> Option<Response> {
    let message = if headers.len() > limits.count {
        format!(
            "{} header fields, more than HttpMaxHeaders ({})",
            headers.len(),
            limits.count
        )
    } else {
        let bytes: usize = headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.as_bytes().len())
            .sum();
        if bytes <= limits.bytes {
            return None;
        }
        format!(
            "{bytes} bytes of headers, more than HttpMaxHeaderBytes ({})",
            limits.bytes
        )
    };
    Some(json_response(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        json!({ "message": message }),
    ))
}

/// `api` label of requests that matched no route.
const UNKNOWN_API: &str = "unknown";

/// The `api` label of a request path in `dtm_server_process_total`: its last segment
/// (never the query string). Labels only ever name a route: the topic deletion is `topic`
/// (not the topic's name) and unmatched paths become `unknown` once answered, so no
/// client-chosen text (gids, names) becomes a label and the series stay bounded.
fn api_label(path: &str) -> String {
    if path.starts_with("/api/dtmsvr/topic/") {
        "topic".to_string()
    } else {
        path.rsplit('/').next().unwrap_or_default().to_string()
    }
}

async fn metrics(State(s): State<Http>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.service.engine.metrics.render(),
    )
        .into_response()
}

/// Test hook: moves the server clock forward by `seconds`.
async fn forward(State(s): State<Http>, Query(p): Params) -> Response {
    let answer = int_param(&p, "seconds", 0).map(|secs| {
        s.service.engine.clock.forward(secs);
        Reply::Success
    });
    envelope(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    /// A router of two routes behind the front door, one of them panicking.
    fn app(metrics: Arc<Metrics>) -> Router {
        let door = FrontDoor {
            metrics,
            limits: HeaderLimits {
                count: 4,
                bytes: 1024,
            },
        };
        Router::new()
            .route("/api/dtmsvr/boom", get(boom))
            .route("/api/dtmsvr/fine", get(|| async { "ok" }))
            .layer(middleware::from_fn_with_state(door, front_door))
    }

    async fn boom() -> &'static str {
        panic!("boom")
    }

    async fn get_path(app: Router, path: &str, headers: usize) -> Response {
        let mut req = Request::get(path);
        for i in 0..headers {
            req = req.header(format!("x-h{i}"), "v");
        }
        let req = req.body(Body::empty()).expect("request");
        app.oneshot(req).await.expect("infallible")
    }

    async fn body_text(resp: Response) -> String {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .expect("body");
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn a_handler_panic_is_a_500_and_counted() {
        let metrics = Arc::new(Metrics::default());
        let resp = get_path(app(metrics.clone()), "/api/dtmsvr/boom", 0).await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body_text(resp).await.contains("internal error: boom"));
        let fine = get_path(app(metrics.clone()), "/api/dtmsvr/fine", 0).await;
        assert_eq!(fine.status(), StatusCode::OK);
        let text = metrics.render();
        assert!(
            text.contains(r#"dtm_server_process_total{type="http",api="boom",status="fail"} 1"#)
        );
        assert!(text.contains(r#"dtm_server_process_total{type="http",api="fine",status="ok"} 1"#));
    }

    #[tokio::test]
    async fn too_many_headers_get_431_before_the_handler() {
        let metrics = Arc::new(Metrics::default());
        let resp = get_path(app(metrics.clone()), "/api/dtmsvr/boom", 5).await;
        assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        assert!(body_text(resp)
            .await
            .contains("more than HttpMaxHeaders (4)"));
    }
}
