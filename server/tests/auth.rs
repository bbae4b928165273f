//! Bearer-token authentication (`Auth.*`): each scope enforced on HTTP, JSON-RPC and gRPC
//! when tokens are configured, refused calls changing nothing, and everything open
//! (DTM's behaviour) when none are.

mod common;
mod grpc_busi;

use common::*;
use dtmx_server::api::grpc::pb::dtmgimp::{DtmRequest, DtmTopicRequest};
use grpc_busi::dtm_client;
use reqwest::Method;
use serde_json::{json, Value};
use tonic::Code;

const SUBMIT: &str = "submit-token-aaaaaaaaaaaaaaaa";
const ADMIN: &str = "admin-token-bbbbbbbbbbbbbbbbbb";
const METRICS: &str = "metrics-token-cccccccccccccccc";

async fn start_with_auth() -> Dtmx {
    Dtmx::start_with_env(&[
        ("AUTH_SUBMIT_TOKENS", SUBMIT),
        ("AUTH_ADMIN_TOKENS", ADMIN),
        ("AUTH_METRICS_TOKENS", METRICS),
    ])
    .await
}

/// A reply: status, `WWW-Authenticate` ("" if absent) and the body as JSON (or a string).
struct Reply {
    status: u16,
    challenge: String,
    body: Value,
}

/// Sends `method path` with an optional bearer token (and `body` as JSON for POST).
async fn call(dtm: &Dtmx, method: Method, path: &str, token: Option<&str>, body: Value) -> Reply {
    let client = reqwest::Client::new();
    let mut req = client.request(method.clone(), format!("{}{path}", dtm.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if method == Method::POST {
        req = req
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        challenge,
        body,
    }
}

fn saga(gid: &str) -> Value {
    json!({"gid": gid, "trans_type": "saga", "steps": [], "payloads": []})
}

/// Every operation that needs `admin`, as (method, path, body).
fn admin_calls(gid: &str) -> Vec<(Method, String, Value)> {
    vec![
        (
            Method::POST,
            "/api/dtmsvr/forceStop".into(),
            json!({"gid": gid}),
        ),
        (Method::GET, "/api/dtmsvr/all".into(), Value::Null),
        (Method::GET, "/api/dtmsvr/resetCronTime".into(), Value::Null),
        (
            Method::POST,
            "/api/dtmsvr/resetNextCronTime".into(),
            json!({"gid": gid}),
        ),
        (
            Method::GET,
            "/api/dtmsvr/subscribe?topic=auth-t&url=http://busi.test/a&remark=r".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/dtmsvr/queryKV?cat=topics&key=auth-t".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/dtmsvr/scanKV?cat=topics".into(),
            Value::Null,
        ),
        (
            Method::GET,
            "/api/dtmsvr/unsubscribe?topic=auth-t&url=http://busi.test/a".into(),
            Value::Null,
        ),
        (
            Method::DELETE,
            "/api/dtmsvr/topic/auth-gone".into(),
            Value::Null,
        ),
    ]
}

#[tokio::test]
async fn http_scopes_are_enforced() {
    let dtm = start_with_auth().await;

    // Open without a token: the health check, the console's page, unknown routes (404).
    assert_eq!(
        call(&dtm, Method::GET, "/api/ping", None, Value::Null)
            .await
            .status,
        200
    );
    assert_eq!(
        call(&dtm, Method::GET, "/", None, Value::Null).await.status,
        200
    );
    assert_eq!(
        call(&dtm, Method::GET, "/api/nope", None, Value::Null)
            .await
            .status,
        404
    );

    // The transaction API: no token, a wrong one, then the submit token.
    let r = call(&dtm, Method::GET, "/api/dtmsvr/newGid", None, Value::Null).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.challenge, r#"Bearer realm="dtmx""#);
    assert!(r.body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("Bearer"));
    let r = call(
        &dtm,
        Method::POST,
        "/api/dtmsvr/submit",
        Some("wrong-token-xxxxxxxxxxxx"),
        saga("auth-1"),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(
        r.challenge.contains(r#"error="invalid_token""#),
        "{}",
        r.challenge
    );
    let q = call(
        &dtm,
        Method::GET,
        "/api/dtmsvr/query?gid=auth-1",
        Some(SUBMIT),
        Value::Null,
    )
    .await;
    assert_eq!(
        q.body["transaction"],
        Value::Null,
        "a refused submit stores nothing"
    );
    for token in [SUBMIT, ADMIN] {
        let r = call(
            &dtm,
            Method::GET,
            "/api/dtmsvr/newGid",
            Some(token),
            Value::Null,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = call(
        &dtm,
        Method::POST,
        "/api/dtmsvr/submit",
        Some(SUBMIT),
        saga("auth-1"),
    )
    .await;
    assert_eq!(
        (r.status, r.body["dtm_result"].as_str()),
        (200, Some("SUCCESS"))
    );
    let q = call(
        &dtm,
        Method::GET,
        "/api/dtmsvr/query?gid=auth-1",
        Some(SUBMIT),
        Value::Null,
    )
    .await;
    assert_eq!(q.body["transaction"]["gid"], "auth-1");
    let r = call(
        &dtm,
        Method::POST,
        "/api/dtmsvr/prepare",
        Some(METRICS),
        saga("auth-2"),
    )
    .await;
    assert_eq!(r.status, 403, "the metrics token cannot submit");

    // Operations on a prepared msg: refused (403, naming the scope) to the submit token, done for admin.
    let msg = json!({"gid": "auth-msg", "trans_type": "msg", "steps": [], "payloads": [],
                     "query_prepared": "http://busi.test/query"});
    let r = call(&dtm, Method::POST, "/api/dtmsvr/prepare", Some(SUBMIT), msg).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (method, path, body) in admin_calls("auth-msg") {
        let r = call(&dtm, method.clone(), &path, None, body.clone()).await;
        assert_eq!(r.status, 401, "{method} {path} without a token");
        let r = call(&dtm, method.clone(), &path, Some(SUBMIT), body.clone()).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        assert!(
            r.challenge
                .contains(r#"error="insufficient_scope", scope="admin""#),
            "{}",
            r.challenge
        );
    }
    let kv = call(
        &dtm,
        Method::GET,
        "/api/dtmsvr/queryKV?cat=topics&key=auth-t",
        Some(ADMIN),
        Value::Null,
    )
    .await;
    assert_eq!(
        kv.body["kv"],
        json!([]),
        "the refused subscribe stored nothing"
    );
    let q = call(
        &dtm,
        Method::GET,
        "/api/dtmsvr/query?gid=auth-msg",
        Some(SUBMIT),
        Value::Null,
    )
    .await;
    assert_eq!(
        q.body["transaction"]["status"], "prepared",
        "the refused forceStop did nothing"
    );
    for (method, path, body) in admin_calls("auth-msg") {
        let r = call(&dtm, method.clone(), &path, Some(ADMIN), body).await;
        // Past the guard; deleting a topic that does not exist is DTM's 500 NotFound.
        let expected = if path.contains("auth-gone") { 500 } else { 200 };
        assert!(
            r.status == expected,
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
    }
    let r = call(
        &dtm,
        Method::GET,
        "/api/dtmsvr/all",
        Some(ADMIN),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["transactions"][0]["gid"], "auth-msg");
    assert_eq!(
        r.body["transactions"][0]["status"], "failed",
        "admin force-stopped it"
    );

    // Metrics: its own scope, or admin.
    let r = call(&dtm, Method::GET, "/api/metrics", Some(SUBMIT), Value::Null).await;
    assert_eq!(r.status, 403);
    assert!(
        r.challenge.contains(r#"scope="metrics""#),
        "{}",
        r.challenge
    );
    for token in [METRICS, ADMIN] {
        let r = call(&dtm, Method::GET, "/api/metrics", Some(token), Value::Null).await;
        assert_eq!(r.status, 200);
        assert!(r
            .body
            .as_str()
            .unwrap_or_default()
            .contains("dtm_server_process_total"));
    }
}

#[tokio::test]
async fn json_rpc_needs_the_submit_scope() {
    let dtm = start_with_auth().await;
    let request =
        json!({"jsonrpc": "2.0", "id": "1", "method": "submit", "params": saga("auth-rpc")});
    let r = call(&dtm, Method::POST, "/api/json-rpc", None, request.clone()).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["code"], -32001, "{}", r.body);
    assert_eq!(r.body["jsonrpc"], "2.0");
    let r = call(
        &dtm,
        Method::POST,
        "/api/json-rpc",
        Some(METRICS),
        request.clone(),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"]["code"], -32003, "{}", r.body);
    let q = call(
        &dtm,
        Method::GET,
        "/api/dtmsvr/query?gid=auth-rpc",
        Some(SUBMIT),
        Value::Null,
    )
    .await;
    assert_eq!(
        q.body["transaction"],
        Value::Null,
        "refused calls store nothing"
    );
    for (i, token) in [SUBMIT, ADMIN].into_iter().enumerate() {
        let mut request = request.clone();
        request["params"]["gid"] = json!(format!("auth-rpc-{i}"));
        let r = call(&dtm, Method::POST, "/api/json-rpc", Some(token), request).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["error"], Value::Null, "{}", r.body);
    }
}

/// A gRPC request carrying `token` as `authorization` metadata.
fn with_token<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    if let Some(t) = token {
        let value = format!("Bearer {t}").parse().expect("metadata value");
        req.metadata_mut().insert("authorization", value);
    }
    req
}

/// The code of a refused call; `None` when it succeeded.
fn code<T>(r: Result<tonic::Response<T>, tonic::Status>) -> Option<Code> {
    r.err().map(|s| s.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_scopes_are_enforced() {
    let dtm = start_with_auth().await;
    let mut client = dtm_client(dtm.grpc_port).await;

    assert_eq!(
        code(client.new_gid(with_token((), None)).await),
        Some(Code::Unauthenticated)
    );
    assert_eq!(
        code(
            client
                .new_gid(with_token((), Some("wrong-token-xxxxxxxxxxxx")))
                .await
        ),
        Some(Code::Unauthenticated)
    );
    let gid = client
        .new_gid(with_token((), Some(SUBMIT)))
        .await
        .expect("NewGid with the submit token")
        .into_inner()
        .gid;
    assert_eq!(gid.len(), 22);
    assert_eq!(
        code(client.new_gid(with_token((), Some(METRICS))).await),
        Some(Code::PermissionDenied)
    );

    let submit = |gid: &str| DtmRequest {
        gid: gid.into(),
        trans_type: "saga".into(),
        steps: "[]".into(),
        ..Default::default()
    };
    assert_eq!(
        code(client.submit(with_token(submit("auth-g1"), None)).await),
        Some(Code::Unauthenticated)
    );
    client
        .submit(with_token(submit("auth-g2"), Some(SUBMIT)))
        .await
        .expect("submit with the submit token");
    let q = call(
        &dtm,
        Method::GET,
        "/api/dtmsvr/query?gid=auth-g1",
        Some(SUBMIT),
        Value::Null,
    )
    .await;
    assert_eq!(
        q.body["transaction"],
        Value::Null,
        "the refused submit stored nothing"
    );
    // The submit returns once the saga is stored; it finishes on its own right after.
    let mut status = Value::Null;
    for _ in 0..100 {
        let q = call(
            &dtm,
            Method::GET,
            "/api/dtmsvr/query?gid=auth-g2",
            Some(SUBMIT),
            Value::Null,
        )
        .await;
        status = q.body["transaction"]["status"].clone();
        if status == "succeed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        status, "succeed",
        "the accepted submit stored a saga that finished"
    );

    let topic = || DtmTopicRequest {
        topic: "auth-grpc".into(),
        url: "http://busi.test/a".into(),
        remark: String::new(),
    };
    let denied = client
        .subscribe(with_token(topic(), Some(SUBMIT)))
        .await
        .expect_err("submit cannot subscribe");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("admin"), "{}", denied.message());
    let kv = call(
        &dtm,
        Method::GET,
        "/api/dtmsvr/queryKV?cat=topics&key=auth-grpc",
        Some(ADMIN),
        Value::Null,
    )
    .await;
    assert_eq!(kv.body["kv"], json!([]));
    client
        .subscribe(with_token(topic(), Some(ADMIN)))
        .await
        .expect("admin subscribes");
    client
        .unsubscribe(with_token(topic(), Some(ADMIN)))
        .await
        .expect("admin unsubscribes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_by_default_everything_is_open() {
    let dtm = Dtmx::start().await;
    for token in [None, Some("anything-at-all-is-ignored")] {
        for path in ["/api/dtmsvr/newGid", "/api/dtmsvr/all", "/api/metrics"] {
            let r = call(&dtm, Method::GET, path, token, Value::Null).await;
            assert_eq!(r.status, 200, "{path} {token:?}");
            assert_eq!(r.challenge, "");
        }
        let rpc = json!({"jsonrpc": "2.0", "id": "1", "method": "newGid"});
        let r = call(&dtm, Method::POST, "/api/json-rpc", token, rpc).await;
        assert_eq!((r.status, &r.body["error"]), (200, &Value::Null));
    }
    let mut client = dtm_client(dtm.grpc_port).await;
    client.new_gid(()).await.expect("NewGid without a token");
    let topic = DtmTopicRequest {
        topic: "open".into(),
        url: "http://busi.test/a".into(),
        remark: String::new(),
    };
    client
        .subscribe(topic)
        .await
        .expect("Subscribe without a token");
}

#[test]
fn a_weak_token_stops_the_server_from_starting() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtmx"))
        .env("AUTH_ADMIN_TOKENS", "short")
        .env("STORE_PATH", unique_dir("auth-weak").join("dtmx.db"))
        .env("HTTP_PORT", free_port().to_string())
        .env("GRPC_PORT", free_port().to_string())
        .output()
        .expect("run dtmx");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("AUTH_ADMIN_TOKENS") && stderr.contains("16"),
        "{stderr}"
    );
}
