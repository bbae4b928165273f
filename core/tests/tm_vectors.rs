//! Replays every case of `tests/vectors/requests.json` and `tests/vectors/replies.json`
//! (format: tests/vectors/README.md) against the TM, transport and RM sides of the core,
//! through a fake transport that records the requests and answers with the scripted
//! replies.

use dtmx::barrier::{BarrierTable, Dialect};
use dtmx::rm::{self, Branch, XaLocal, XaStep};
use dtmx::tm::{check_branch_reply, check_server_reply, Client};
use dtmx::transport::{BoxFuture, HttpRequest, HttpResponse, Transport};
use dtmx::{Error, ErrorKind, Outcome, Result, TransOptions};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

// ---------------------------------------------------------------------------------------
// A transport that records requests and plays scripted replies

#[derive(Default)]
struct Fake {
    replies: Vec<(String, u16, String)>,
    default: (u16, String),
    log: Mutex<Vec<HttpRequest>>,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Fake {
    fn new(file: &Value, case: &Value, events: Arc<Mutex<Vec<Value>>>) -> Fake {
        let d = &file["default_reply"];
        Fake {
            replies: arr(case, "replies")
                .iter()
                .map(|r| {
                    (
                        s(r, "url").to_string(),
                        r["status"].as_u64().unwrap_or(200) as u16,
                        s(r, "body").to_string(),
                    )
                })
                .collect(),
            default: (
                d["status"].as_u64().unwrap_or(200) as u16,
                s(d, "body").to_string(),
            ),
            log: Mutex::new(Vec::new()),
            events,
        }
    }

    fn requests(&self) -> Vec<HttpRequest> {
        self.log.lock().expect("log").clone()
    }
}

impl Transport for Fake {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>> {
        let (status, body) = self
            .replies
            .iter()
            .find(|(url, _, _)| url == request.path())
            .map(|(_, st, b)| (*st, b.clone()))
            .unwrap_or_else(|| self.default.clone());
        self.events
            .lock()
            .expect("events")
            .push(json!({ "request": request_json(&request) }));
        self.log.lock().expect("log").push(request);
        Box::pin(async move {
            Ok(HttpResponse {
                status,
                body: body.into_bytes(),
            })
        })
    }
}

fn request_json(r: &HttpRequest) -> Value {
    let query: Map<String, Value> = r
        .query()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let headers: Map<String, Value> = r
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let body = match &r.body {
        None => Value::Null,
        Some(b) if b.is_empty() => Value::Null,
        Some(b) => serde_json::from_slice(b)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned())),
    };
    json!({"method": r.method.as_str(), "url": r.path(), "query": query,
           "headers": headers, "body": body})
}

/// Compares an actual request (as JSON) with an expected one: method, URL, query (exact),
/// headers (the expected ones must be there, names case-insensitive), body (equal JSON
/// values; for DTM bodies also the same key order, Go's).
fn check_request(case: &str, i: usize, actual: &Value, expected: &Value) {
    let ctx = format!("{case}: request {i}: actual {actual}\nexpected {expected}");
    assert_eq!(actual["method"], expected["method"], "{ctx}");
    assert_eq!(actual["url"], expected["url"], "{ctx}");
    let no_query = json!({});
    let want_query = expected.get("query").unwrap_or(&no_query);
    assert_eq!(&actual["query"], want_query, "{ctx}");
    if let Some(want) = expected.get("headers").and_then(Value::as_object) {
        let have = actual["headers"].as_object().expect("headers");
        for (k, v) in want {
            let found = have
                .iter()
                .rev()
                .find(|(hk, _)| hk.eq_ignore_ascii_case(k))
                .map(|(_, hv)| hv);
            assert_eq!(found, Some(v), "{ctx}: header {k}");
        }
    }
    assert_eq!(actual["body"], expected["body"], "{ctx}");
    if let (Some(a), Some(e)) = (actual["body"].as_object(), expected["body"].as_object()) {
        let ak: Vec<&String> = a.keys().collect();
        let ek: Vec<&String> = e.keys().collect();
        assert_eq!(ak, ek, "{ctx}: key order");
    }
}

fn result_name<T>(r: &Result<T>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.kind().as_str().into(),
    }
}

fn busi_result(name: &str) -> Result<()> {
    match name {
        "ok" | "" => Ok(()),
        "failure" => Err(Error::new(ErrorKind::Failure, "business failure FAILURE")),
        "ongoing" => Err(Error::new(ErrorKind::Ongoing, "business ongoing")),
        _ => Err(Error::new(ErrorKind::Database, "business error")),
    }
}

// ---------------------------------------------------------------------------------------
// requests.json

async fn run_case(file: &Value, case: &Value) -> (Result<Option<String>>, Vec<Value>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let fake = Arc::new(Fake::new(file, case, events.clone()));
    let client = Client::new(s(file, "dtm"), fake.clone());
    let options: TransOptions =
        serde_json::from_value(case.get("options").cloned().unwrap_or(json!({}))).expect("options");
    let gid = s(case, "gid");
    let calls = arr(case, "calls");
    let result: Result<Option<String>> = match s(case, "kind") {
        "saga" => {
            let mut saga = client.saga(gid);
            saga.set_options(options);
            let mut r = Ok(None);
            for c in calls {
                match s(c, "call") {
                    "add" => {
                        saga.add(s(c, "action"), s(c, "compensate"), s(c, "payload"));
                    }
                    "add_branch_order" => {
                        let pre: Vec<usize> = arr(c, "pre_branches")
                            .iter()
                            .map(|v| v.as_u64().expect("index") as usize)
                            .collect();
                        saga.add_branch_order(c["branch"].as_u64().expect("branch") as usize, &pre);
                    }
                    "enable_concurrent" => {
                        saga.enable_concurrent();
                    }
                    "submit" => r = saga.submit().await.map(|_| None),
                    other => panic!("saga call {other}"),
                }
            }
            r
        }
        "msg" => {
            let mut msg = client.msg(gid);
            msg.set_options(options);
            let mut r = Ok(None);
            for c in calls {
                let step = match s(c, "call") {
                    "add" => {
                        msg.add(s(c, "action"), s(c, "payload"));
                        Ok(())
                    }
                    "add_topic" => {
                        msg.add_topic(s(c, "topic"), s(c, "payload"));
                        Ok(())
                    }
                    "set_delay" => {
                        msg.set_delay(c["seconds"].as_u64().expect("seconds"));
                        Ok(())
                    }
                    "enable_concurrent" => {
                        msg.enable_concurrent();
                        Ok(())
                    }
                    "prepare" => msg.prepare(s(c, "query_prepared")).await,
                    "submit" => msg.submit().await,
                    "abort" => msg.abort().await,
                    "do_and_submit" => {
                        let busi = s(c, "busi").to_string();
                        let expect_gid = gid.to_string();
                        msg.do_and_submit(s(c, "query_prepared"), |barrier| async move {
                            assert_eq!(
                                (barrier.trans_type.as_str(), barrier.gid.as_str()),
                                ("msg", expect_gid.as_str())
                            );
                            assert_eq!(
                                (barrier.branch_id.as_str(), barrier.op.as_str()),
                                ("00", "msg")
                            );
                            busi_result(&busi)
                        })
                        .await
                    }
                    other => panic!("msg call {other}"),
                };
                if let Err(e) = step {
                    r = Err(e);
                    break;
                }
            }
            r
        }
        "tcc" | "tcc_nested" => {
            let mut tcc = if s(case, "kind") == "tcc" {
                client.tcc(gid)
            } else {
                let branch = Branch::from_query_pairs(
                    case["branch"]
                        .as_object()
                        .expect("branch")
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())),
                );
                client.tcc_from_branch(&branch).expect("nested tcc")
            };
            tcc.set_options(options);
            let calls = calls.to_vec();
            let body = |tcc: dtmx::Tcc| async move {
                for c in &calls {
                    tcc.call_branch(
                        s(c, "payload").as_bytes(),
                        s(c, "try"),
                        s(c, "confirm"),
                        s(c, "cancel"),
                    )
                    .await?;
                }
                Ok(None)
            };
            if s(case, "kind") == "tcc" {
                tcc.run(body).await
            } else {
                body(tcc).await
            }
        }
        "xa" => {
            let mut xa = client.xa(gid);
            xa.set_options(options);
            let calls = calls.to_vec();
            xa.run(|xa| async move {
                for c in &calls {
                    xa.call_branch(s(c, "payload").as_bytes(), s(c, "url"))
                        .await?;
                }
                Ok(None)
            })
            .await
        }
        "xa_local" => run_xa_local(&client, case, &events).await.map(|_| None),
        "new_gid" => client.new_gid().await.map(Some),
        other => panic!("unknown kind {other}"),
    };
    let requests = fake.requests().iter().map(request_json).collect();
    let events = events.lock().expect("events").clone();
    if s(case, "kind") == "xa_local" {
        (result, events)
    } else {
        (result, requests)
    }
}

async fn run_xa_local(client: &Client, case: &Value, events: &Mutex<Vec<Value>>) -> Result<()> {
    let branch = Branch::from_query_pairs(
        case["branch"]
            .as_object()
            .expect("branch")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())),
    );
    let table = BarrierTable::new(Dialect::parse(s(case, "dialect"))?);
    let mut xa = XaLocal::new(&branch, &table)?;
    let push = |v: Value| events.lock().expect("events").push(v);
    loop {
        match xa.step().clone() {
            XaStep::Execute(stmt) => {
                if stmt.sql.starts_with("insert") {
                    push(json!({ "barrier_insert": stmt.params }));
                } else {
                    push(json!({ "sql": stmt.sql }));
                }
                match case["sql_errors"].get(&stmt.sql).and_then(Value::as_str) {
                    Some(message) => xa.feed_sql_error(message)?,
                    None => xa.feed_affected(1)?,
                };
            }
            XaStep::QueryReason(stmt) => {
                push(json!({ "query_reason": stmt.params }));
                xa.feed_reason(None)?;
            }
            XaStep::RunBusiness => {
                push(json!({ "business": true }));
                xa.feed_business(busi_result(s(case, "business")))?;
            }
            XaStep::Send(request) => match client.send(request).await {
                Ok(reply) => {
                    xa.feed_reply(reply.status, &reply.body)?;
                }
                Err(e) => {
                    xa.feed_send_error(e)?;
                }
            },
            XaStep::Done => break,
        }
    }
    xa.finish()
}

#[tokio::test]
async fn request_vectors() {
    let file = load("requests.json");
    let cases = arr(&file, "cases");
    assert!(cases.len() >= 40, "too few request cases");
    for case in cases {
        let name = s(case, "name");
        let (result, seen) = run_case(&file, case).await;
        assert_eq!(
            result_name(&result),
            s(case, "result"),
            "{name}: result {result:?}"
        );
        if let Some(v) = case.get("value") {
            assert_eq!(
                result.as_ref().ok().cloned().flatten().as_deref(),
                v.as_str(),
                "{name}"
            );
        }
        if s(case, "kind") == "xa_local" {
            let want = arr(case, "events");
            let seen: Vec<Value> = seen
                .into_iter()
                .map(|e| match e.get("request") {
                    Some(r) => json!({ "request": r }),
                    None => e,
                })
                .collect();
            assert_eq!(seen.len(), want.len(), "{name}: events {seen:#?}");
            for (i, (a, e)) in seen.iter().zip(want).enumerate() {
                match (a.get("request"), e.get("request")) {
                    (Some(a), Some(e)) => check_request(name, i, a, e),
                    _ => assert_eq!(a, e, "{name}: event {i}"),
                }
            }
        } else {
            let want = arr(case, "requests");
            assert_eq!(seen.len(), want.len(), "{name}: requests {seen:#?}");
            for (i, (a, e)) in seen.iter().zip(want).enumerate() {
                check_request(name, i, a, e);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// replies.json

fn outcome_json(o: &Outcome) -> Value {
    match o {
        Outcome::Success => json!({"outcome": "success"}),
        Outcome::Failure(m) => json!({"outcome": "failure", "message": m}),
        Outcome::Ongoing(m) => json!({"outcome": "ongoing", "message": m}),
        Outcome::Unknown(m) => json!({"outcome": "unknown", "message": m}),
    }
}

fn outcome_from(v: &Value) -> Outcome {
    let m = s(v, "message").to_string();
    match s(v, "outcome") {
        "success" => Outcome::Success,
        "failure" => Outcome::Failure(m),
        "ongoing" => Outcome::Ongoing(m),
        "unknown" => Outcome::Unknown(m),
        other => panic!("unknown outcome {other}"),
    }
}

fn kind_json(r: Result<()>) -> Value {
    match r {
        Ok(()) => json!({"kind": "ok"}),
        Err(e) => json!({"kind": e.kind().as_str(), "message": e.message()}),
    }
}

/// `expected` fields must match `actual` (a missing `message` is not checked).
fn check_fields(what: &str, actual: &Value, expected: &Value) {
    for (k, v) in expected.as_object().expect("object") {
        assert_eq!(&actual[k], v, "{what}: {k}: actual {actual}");
    }
}

#[test]
fn reply_vectors() {
    let file = load("replies.json");
    for c in arr(&file, "branch_replies") {
        let o = Outcome::from_http(
            c["status"].as_u64().expect("status") as u16,
            s(c, "body").as_bytes(),
        );
        let mut want = json!({"outcome": c["outcome"]});
        if let Some(m) = c.get("message") {
            want["message"] = m.clone();
        }
        check_fields(&format!("branch reply {c}"), &outcome_json(&o), &want);
    }
    for c in arr(&file, "client_branch_replies") {
        let r = check_branch_reply(
            c["status"].as_u64().expect("status") as u16,
            s(c, "body").as_bytes(),
        );
        let mut want = json!({"kind": c["kind"]});
        if let Some(m) = c.get("message") {
            want["message"] = m.clone();
        }
        check_fields(&format!("client branch reply {c}"), &kind_json(r), &want);
    }
    for c in arr(&file, "server_replies") {
        let r = check_server_reply(
            c["status"].as_u64().expect("status") as u16,
            s(c, "body").as_bytes(),
        );
        let mut want = json!({"kind": c["kind"]});
        if let Some(m) = c.get("message") {
            want["message"] = m.clone();
        }
        check_fields(&format!("server reply {c}"), &kind_json(r), &want);
    }
    for c in arr(&file, "outcome_replies") {
        let o = outcome_from(c);
        let http = rm::outcome_reply(&o);
        assert_eq!(
            u64::from(http.status),
            c["http_status"].as_u64().expect("status"),
            "{c}"
        );
        let body: Value = serde_json::from_str(&http.body).expect("json body");
        assert_eq!(body, c["http_body"], "{c}");
        assert_eq!(
            i64::from(rm::grpc_code(&o).code()),
            c["grpc_code"].as_i64().expect("code"),
            "{c}"
        );
        // dtm reads the reply back as the same outcome.
        let back = Outcome::from_http(http.status, http.body.as_bytes());
        assert_eq!(
            outcome_json(&back)["outcome"],
            c["outcome"],
            "{c}: read back"
        );
    }
    for c in arr(&file, "grpc_replies") {
        let o = rm::outcome_from_grpc(c["code"].as_i64().expect("code") as i32, s(c, "message"));
        assert_eq!(outcome_json(&o)["outcome"], c["outcome"], "{c}");
    }
    for c in arr(&file, "error_outcomes") {
        let kind = *ErrorKind::ALL
            .iter()
            .find(|k| k.as_str() == s(c, "kind"))
            .expect("kind");
        let o = rm::outcome_of_error(&Error::new(kind, s(c, "message")));
        assert_eq!(outcome_json(&o)["outcome"], c["outcome"], "{c}");
    }
    for c in arr(&file, "branch_requests") {
        let b = match c.get("query").and_then(Value::as_str) {
            Some(q) => Branch::from_query(q),
            None => Branch::from_grpc_metadata(
                c["metadata"]
                    .as_object()
                    .expect("metadata")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())),
            ),
        };
        let got = json!({"gid": b.gid, "trans_type": b.trans_type, "branch_id": b.branch_id,
                         "op": b.op, "dtm": b.dtm, "phase2_url": b.phase2_url});
        assert_eq!(got, c["branch"], "{c}");
    }
}
