//! Tracing (issue 12): the W3C `traceparent` of a submit reaches every branch call, over
//! HTTP and gRPC, after a recovery pass and a restart too; with `Tracing.OtlpEndpoint`
//! set, spans of the submit, each branch call and each recovery pass reach an OTLP/HTTP
//! collector (a real one in this test process); `LOG_FORMAT=json` writes JSON lines.

mod common;
mod grpc_busi;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use common::*;
use grpc_busi::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// POSTs `body` to `path` of the server with extra request headers.
async fn post_with(dtm: &Dtmx, path: &str, body: &Value, headers: &[(&str, &str)]) -> u16 {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", dtm.base))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request").status().as_u16()
}

/// The (trace id, parent id) of a valid version-00 `traceparent`.
fn split(traceparent: &str) -> (String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent:?}");
    assert_eq!(parts[0], "00", "{traceparent:?}");
    assert_eq!(parts[1].len(), 32, "{traceparent:?}");
    assert_eq!(parts[2].len(), 16, "{traceparent:?}");
    assert_eq!(parts[3].len(), 2, "{traceparent:?}");
    let hex = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    };
    assert!(parts[1..].iter().all(|p| hex(p)), "{traceparent:?}");
    (parts[1].to_string(), parts[2].to_string())
}

/// The one `traceparent` header of a branch call.
fn traceparent_of(call: &Call) -> String {
    let values = call.header_values("traceparent");
    assert_eq!(values.len(), 1, "one traceparent: {call:?}");
    values[0].clone()
}

/// An OTLP/HTTP collector: every span of every `POST /v1/traces`, flattened with the
/// batch's `service.name` as `service`.
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start() -> Collector {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v1/traces", post(collect))
            .with_state(spans.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind collector");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Collector { url, spans, task }
    }

    /// Waits until `n` spans named `name` arrived; returns them.
    async fn wait(&self, name: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let found: Vec<Value> = self
                .spans
                .lock()
                .expect("spans")
                .iter()
                .filter(|s| s["name"] == name)
                .cloned()
                .collect();
            if found.len() >= n {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} {name} spans, got {:#?}",
                self.spans.lock().expect("spans")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn collect(State(spans): State<Arc<Mutex<Vec<Value>>>>, body: Bytes) -> &'static str {
    let v: Value = serde_json::from_slice(&body).expect("OTLP JSON");
    for rs in v["resourceSpans"].as_array().expect("resourceSpans") {
        let service = rs["resource"]["attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|kv| kv["key"] == "service.name"))
            .map(|kv| kv["value"]["stringValue"].clone())
            .unwrap_or(Value::Null);
        for ss in rs["scopeSpans"].as_array().expect("scopeSpans") {
            for span in ss["spans"].as_array().expect("spans") {
                let mut span = span.clone();
                span["service"] = service.clone();
                spans.lock().expect("spans").push(span);
            }
        }
    }
    "{}"
}

/// The string or integer value of attribute `key` of an OTLP span.
fn attr(span: &Value, key: &str) -> Value {
    span["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .map(|kv| {
            let v = &kv["value"];
            v.get("stringValue")
                .or_else(|| v.get("intValue"))
                .cloned()
                .unwrap_or(Value::Null)
        })
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceparent_of_a_submit_reaches_every_branch_unchanged_without_export() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "trace-http-off";
    let body = transfer(&busi, gid, json!({"wait_result": true}));
    let headers = [("traceparent", TRACEPARENT), ("tracestate", "vendor=x")];
    assert_eq!(
        post_with(&dtm, "/api/dtmsvr/submit", &body, &headers).await,
        200
    );
    let calls = busi.wait_calls(gid, 2, PROMPT).await;
    assert_eq!(busi.names(gid), strs(&["TransOut", "TransIn"]));
    for c in &calls {
        assert_eq!(traceparent_of(c), TRACEPARENT, "forwarded unchanged: {c:?}");
        assert_eq!(c.header_values("tracestate"), strs(&["vendor=x"]), "{c:?}");
    }
    let q = dtm.query(gid).await;
    let ext: Value = serde_json::from_str(q["transaction"]["ext_data"].as_str().unwrap_or(""))
        .expect("ext_data is JSON");
    assert_eq!(
        ext,
        json!({"trace": {"traceparent": TRACEPARENT, "tracestate": "vendor=x"}})
    );

    // Without a traceparent nothing is sent, as in DTM.
    let plain = "trace-http-none";
    let r = dtm
        .submit(&transfer(&busi, plain, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for c in busi.wait_calls(plain, 2, PROMPT).await {
        assert!(c.header_values("traceparent").is_empty(), "{c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rpc_submit_takes_the_http_headers() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "trace-json-rpc";
    let body = json!({
        "jsonrpc": "2.0",
        "id": "1",
        "method": "submit",
        "params": transfer(&busi, gid, json!({"wait_result": true})),
    });
    let headers = [("traceparent", TRACEPARENT)];
    assert_eq!(post_with(&dtm, "/api/json-rpc", &body, &headers).await, 200);
    for c in busi.wait_calls(gid, 2, PROMPT).await {
        assert_eq!(traceparent_of(&c), TRACEPARENT, "{c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_traceparent_is_ignored() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    for (i, bad) in [
        "garbage",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ]
    .iter()
    .enumerate()
    {
        let gid = format!("trace-invalid-{i}");
        let body = transfer(&busi, &gid, json!({"wait_result": true}));
        let headers = [("traceparent", *bad), ("tracestate", "vendor=x")];
        assert_eq!(
            post_with(&dtm, "/api/dtmsvr/submit", &body, &headers).await,
            200
        );
        for c in busi.wait_calls(&gid, 2, PROMPT).await {
            assert!(c.header_values("traceparent").is_empty(), "{bad}: {c:?}");
            assert!(c.header_values("tracestate").is_empty(), "{bad}: {c:?}");
        }
        let q = dtm.query(&gid).await;
        let ext = q["transaction"]["ext_data"].as_str().unwrap_or_default();
        assert!(ext.is_empty(), "nothing stored: {q}");
    }
    assert!(dtm.ping().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_branch_headers_win_over_the_trace() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "trace-user-header";
    let mine = "00-11111111111111111111111111111111-2222222222222222-01";
    let body = transfer(
        &busi,
        gid,
        json!({"wait_result": true, "branch_headers": {"traceparent": mine}}),
    );
    let headers = [("traceparent", TRACEPARENT)];
    assert_eq!(
        post_with(&dtm, "/api/dtmsvr/submit", &body, &headers).await,
        200
    );
    for c in busi.wait_calls(gid, 2, PROMPT).await {
        assert_eq!(traceparent_of(&c), mine, "{c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_check_back_carries_the_prepare_context() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "trace-msg";
    let body = msg(&busi, gid, &["TransOut"], &["{}"], json!({}));
    let headers = [("traceparent", TRACEPARENT)];
    assert_eq!(
        post_with(&dtm, "/api/dtmsvr/prepare", &body, &headers).await,
        200
    );
    dtm.forward(40).await;
    dtm.wait_status(gid, "succeed", PROMPT).await;
    let calls = busi.calls(gid);
    assert_eq!(busi.names(gid), strs(&["QueryPrepared", "TransOut"]));
    for c in &calls {
        assert_eq!(traceparent_of(c), TRACEPARENT, "{c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_resume_carries_the_prepare_context() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "trace-workflow";
    let body = json!({
        "gid": gid,
        "trans_type": "workflow",
        "protocol": "",
        "query_prepared": busi.url("WfResume"),
        "custom_data": json!({"name": "wf1", "data": ""}).to_string(),
    });
    let headers = [("traceparent", TRACEPARENT)];
    assert_eq!(
        post_with(&dtm, "/api/dtmsvr/prepareWorkflow", &body, &headers).await,
        200
    );
    dtm.forward(11).await;
    let calls = busi.wait_calls(gid, 1, PROMPT).await;
    assert_eq!(calls[0].name, "WfResume");
    assert_eq!(traceparent_of(&calls[0]), TRACEPARENT, "{:?}", calls[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceparent_in_grpc_metadata_reaches_the_branches() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let gid = "trace-grpc";
    let steps = json!([
        {"action": busi.url("TransOut"), "compensate": busi.url("TransOutRevert")},
        {"action": busi.url("TransIn"), "compensate": busi.url("TransInRevert")},
    ]);
    let req = dtmx_server::api::grpc::pb::dtmgimp::DtmRequest {
        gid: gid.into(),
        trans_type: "saga".into(),
        steps: steps.to_string(),
        bin_payloads: vec![BusiReq::bytes(1, "a"), BusiReq::bytes(1, "b")],
        trans_options: Some(dtmx_server::api::grpc::pb::dtmgimp::DtmTransOptions {
            wait_result: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut req = tonic::Request::new(req);
    req.metadata_mut()
        .insert("traceparent", TRACEPARENT.parse().expect("ascii"));
    req.metadata_mut()
        .insert("tracestate", "vendor=g".parse().expect("ascii"));
    client.submit(req).await.expect("submit");
    let calls = busi.wait_calls(gid, 2, PROMPT).await;
    assert_eq!(busi.methods(gid), strs(&["TransOut", "TransIn"]));
    for c in &calls {
        assert_eq!(c.md("traceparent"), TRACEPARENT, "{c:?}");
        assert_eq!(c.md("tracestate"), "vendor=g", "{c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_of_submit_and_branches_are_exported_over_otlp() {
    let collector = Collector::start().await;
    let dtm = Dtmx::start_with_env(&[
        ("TRACING_OTLP_ENDPOINT", &collector.url),
        ("TRACING_SERVICE_NAME", "dtmx-test"),
    ])
    .await;
    let busi = Busi::start().await;
    let gid = "trace-otlp";
    let body = transfer(&busi, gid, json!({"wait_result": true}));
    let headers = [("traceparent", TRACEPARENT)];
    assert_eq!(
        post_with(&dtm, "/api/dtmsvr/submit", &body, &headers).await,
        200
    );
    let calls = busi.wait_calls(gid, 2, PROMPT).await;

    let submit = &collector.wait("submit", 1).await[0];
    assert_eq!(submit["traceId"], TRACE_ID, "{submit}");
    assert_eq!(submit["parentSpanId"], PARENT_ID, "{submit}");
    assert_eq!(submit["kind"], 2, "SERVER: {submit}");
    assert_eq!(submit["service"], "dtmx-test");
    assert_eq!(attr(submit, "dtm.gid"), gid);
    let submit_id = submit["spanId"].as_str().expect("spanId").to_string();

    let branches = collector.wait("branch", 2).await;
    for span in &branches {
        assert_eq!(span["traceId"], TRACE_ID, "{span}");
        assert_eq!(
            span["parentSpanId"].as_str(),
            Some(submit_id.as_str()),
            "{span}"
        );
        assert_eq!(span["kind"], 3, "CLIENT: {span}");
        assert_eq!(span["status"]["code"], 1, "{span}");
        assert_eq!(attr(span, "dtm.trans_type"), "saga");
        assert_eq!(attr(span, "dtm.op"), "action");
        assert_eq!(attr(span, "http.response.status_code"), "200");
        let start: u128 = span["startTimeUnixNano"]
            .as_str()
            .expect("start")
            .parse()
            .expect("n");
        let end: u128 = span["endTimeUnixNano"]
            .as_str()
            .expect("end")
            .parse()
            .expect("n");
        assert!(start <= end, "{span}");
    }
    for c in &calls {
        let (trace, parent) = split(&traceparent_of(c));
        assert_eq!(trace, TRACE_ID, "{c:?}");
        let span = branches
            .iter()
            .find(|s| s["spanId"] == parent.as_str())
            .unwrap_or_else(|| panic!("no exported span {parent}: {branches:#?}"));
        assert_eq!(attr(span, "dtm.branch_id"), c.q("branch_id"));
        assert!(attr(span, "url.full")
            .as_str()
            .unwrap_or("")
            .contains(&c.name));
    }

    // A submit without a traceparent starts a trace of its own, and branches get it.
    let root = "trace-otlp-root";
    let r = dtm
        .submit(&transfer(&busi, root, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let traces: Vec<String> = busi
        .wait_calls(root, 2, PROMPT)
        .await
        .iter()
        .map(|c| split(&traceparent_of(c)).0)
        .collect();
    assert_eq!(traces[0], traces[1]);
    assert_ne!(traces[0], TRACE_ID);
    let submits = collector.wait("submit", 2).await;
    let own = submits
        .iter()
        .find(|s| attr(s, "dtm.gid") == root)
        .expect("submit span of the new trace");
    assert_eq!(own["traceId"].as_str(), Some(traces[0].as_str()));
    assert!(own.get("parentSpanId").is_none(), "a root span: {own}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_after_a_restart_continues_the_trace() {
    let collector = Collector::start().await;
    let mut dtm = Dtmx::start_with_env(&[("TRACING_OTLP_ENDPOINT", &collector.url)]).await;
    let busi = Busi::start().await;
    let gid = "trace-recovery";
    busi.plan(gid, "TransIn", [Reply::error()]);
    let body = transfer(&busi, gid, json!({}));
    let headers = [("traceparent", TRACEPARENT)];
    assert_eq!(
        post_with(&dtm, "/api/dtmsvr/submit", &body, &headers).await,
        200
    );
    busi.wait_calls(gid, 2, PROMPT).await;
    collector.wait("branch", 2).await;

    // The stored context survives a restart; the cron's pass continues the trace.
    dtm.restart().await;
    dtm.forward(11).await;
    dtm.wait_status(gid, "succeed", PROMPT).await;
    let calls = busi.calls(gid);
    assert_eq!(busi.names(gid), strs(&["TransOut", "TransIn", "TransIn"]));
    let (trace, parent) = split(&traceparent_of(&calls[2]));
    assert_eq!(trace, TRACE_ID);

    let recovery = &collector.wait("recovery", 1).await[0];
    assert_eq!(recovery["traceId"], TRACE_ID, "{recovery}");
    assert_eq!(recovery["parentSpanId"], PARENT_ID, "{recovery}");
    assert_eq!(recovery["kind"], 1, "INTERNAL: {recovery}");
    assert_eq!(attr(recovery, "dtm.gid"), gid);
    let branches = collector.wait("branch", 3).await;
    let retry = branches
        .iter()
        .find(|s| s["spanId"] == parent.as_str())
        .unwrap_or_else(|| panic!("no exported span {parent}: {branches:#?}"));
    assert_eq!(retry["parentSpanId"], recovery["spanId"], "{retry}");
    let failed = branches
        .iter()
        .find(|s| attr(s, "http.response.status_code") == "500")
        .expect("the failed call's span");
    assert_eq!(failed["status"]["code"], 2, "ERROR: {failed}");
    assert_eq!(attr(failed, "dtm.outcome"), "error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_format_writes_one_object_per_line() {
    let dtm = Dtmx::start_with_env(&[("LOG_FORMAT", "json"), ("LOG_LEVEL", "info")]).await;
    assert!(dtm.ping().await);
    let log = std::fs::read_to_string(dtm.log_path()).expect("log");
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "some log lines");
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for key in ["timestamp", "level", "target", "message"] {
            assert!(v[key].is_string(), "{key} in {line}");
        }
        assert!(v["fields"].is_object(), "{line}");
    }
    assert!(lines.iter().any(|l| l.contains("dtmx listening")), "{log}");
}
