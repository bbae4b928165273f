//! JSON-RPC conformance: the `/api/json-rpc` front door (PROTOCOL.md §3) and JSON-RPC
//! branch calls of a `protocol: "json-rpc"` transaction (§1.5, §1.6; COMPATIBILITY.md).

mod common;

use common::*;
use serde_json::{json, Value};

fn rpc(id: &str, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// Posts a JSON-RPC request; asserts HTTP 200 and the envelope keys; returns the body.
async fn call(dtm: &Dtmx, body: &Value) -> Value {
    let r = dtm.json_rpc(body).await;
    check_envelope(&r)
}

fn check_envelope(r: &Resp) -> Value {
    assert_eq!(r.status, 200, "JSON-RPC always answers 200: {:?}", r.body);
    assert!(
        r.content_type.starts_with("application/json"),
        "{}",
        r.content_type
    );
    let keys: Vec<&String> = r.body.as_object().expect("object").keys().collect();
    let mut keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["error", "id", "jsonrpc", "result"], "{:?}", r.body);
    assert_eq!(r.body["jsonrpc"], "2.0");
    r.body.clone()
}

/// Asserts a success reply with `result`.
fn assert_ok(reply: &Value, id: &str, result: Value) {
    assert_eq!(
        reply,
        &json!({"jsonrpc": "2.0", "id": id, "error": null, "result": result})
    );
}

/// Asserts an error reply with `code`; returns its message.
fn assert_err(reply: &Value, id: Value, code: i64) -> String {
    assert_eq!(reply["id"], id, "{reply}");
    assert_eq!(reply["error"]["code"], code, "{reply}");
    assert_eq!(reply["result"], Value::Null, "{reply}");
    reply["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("error message in {reply}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_and_result_shapes() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;

    let reply = call(
        &dtm,
        &json!({"jsonrpc": "2.0", "id": "g", "method": "newGid"}),
    )
    .await;
    assert_eq!(reply["error"], Value::Null, "{reply}");
    assert_eq!(reply["id"], "g");
    let gid = reply["result"]["gid"].as_str().expect("gid").to_string();
    assert_eq!(gid.len(), 22, "{gid}");
    assert_eq!(
        reply["result"].as_object().map(|o| o.len()),
        Some(1),
        "only the gid, no dtm_result: {reply}"
    );
    let other = call(&dtm, &rpc("g2", "newGid", json!(null))).await;
    assert_ne!(other["result"]["gid"], reply["result"]["gid"]);

    // a TCC driven entirely over JSON-RPC
    let tcc = json!({"gid": gid, "trans_type": "tcc", "concurrent": false, "protocol": ""});
    assert_ok(
        &call(&dtm, &rpc("1", "prepare", tcc.clone())).await,
        "1",
        Value::Null,
    );
    assert_eq!(dtm.status(&gid).await, "prepared");
    let branch = json!({
        "gid": gid, "trans_type": "tcc", "branch_id": "01", "data": r#"{"amount":1}"#,
        "confirm": busi.url("Confirm"), "cancel": busi.url("Cancel"),
    });
    assert_ok(
        &call(&dtm, &rpc("2", "registerBranch", branch.clone())).await,
        "2",
        Value::Null,
    );
    assert_eq!(
        branch_keys(&dtm.query(&gid).await),
        vec![
            ("01".to_string(), "cancel".to_string()),
            ("01".into(), "confirm".into())
        ]
    );
    // a duplicate registration is an internal error
    let reply = call(&dtm, &rpc("2b", "registerBranch", branch)).await;
    assert!(!assert_err(&reply, json!("2b"), -32603).is_empty());

    let mut submit = tcc.clone();
    merge(&mut submit, json!({"wait_result": true}));
    assert_ok(
        &call(&dtm, &rpc("3", "submit", submit)).await,
        "3",
        Value::Null,
    );
    assert_eq!(dtm.status(&gid).await, "succeed");
    assert_eq!(busi.names(&gid), strs(&["Confirm"]));
    assert_eq!(busi.calls(&gid)[0].q("op"), "confirm");

    // FAILURE → -32901 with DTM's text
    let reply = call(&dtm, &rpc("4", "prepare", tcc.clone())).await;
    let msg = assert_err(&reply, json!("4"), -32901);
    assert_eq!(msg, "current status 'succeed', cannot prepare. FAILURE");
    let reply = call(&dtm, &rpc("5", "abort", tcc)).await;
    let msg = assert_err(&reply, json!("5"), -32901);
    assert!(msg.ends_with("cannot abort. FAILURE"), "{msg}");

    // abort of a prepared TCC
    let gid2 = "rpc-abort";
    let tcc2 = json!({"gid": gid2, "trans_type": "tcc", "wait_result": true});
    assert_ok(
        &call(&dtm, &rpc("6", "prepare", tcc2)).await,
        "6",
        Value::Null,
    );
    let abort = json!({"gid": gid2, "trans_type": "tcc", "rollback_reason": "rpc says no"});
    assert_ok(
        &call(&dtm, &rpc("7", "abort", abort)).await,
        "7",
        Value::Null,
    );
    let q = dtm.query(gid2).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert_eq!(q["transaction"]["rollback_reason"], "rpc says no");

    // any other error → -32603: abort of an unknown gid
    let reply = call(
        &dtm,
        &rpc("8", "abort", json!({"gid": "ghost", "trans_type": "tcc"})),
    )
    .await;
    let msg = assert_err(&reply, json!("8"), -32603);
    assert_eq!(msg, "no TransGlobal with gid: ghost found");
    dtm.assert_absent("ghost").await;

    // a saga submitted over JSON-RPC without waiting
    let gid3 = "rpc-saga";
    let body = transfer(&busi, gid3, json!({}));
    assert_ok(
        &call(&dtm, &rpc("9", "submit", body)).await,
        "9",
        Value::Null,
    );
    dtm.wait_status(gid3, "succeed", PROMPT).await;
    assert_eq!(busi.names(gid3), strs(&["TransOut", "TransIn"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "rpc-bad";
    let prepare = json!({"gid": gid, "trans_type": "msg",
        "steps": [{"action": busi.url("A")}], "payloads": ["{}"]});

    // not JSON → -32700, id null
    for raw in ["{nope", "", "[1,", "\"unterminated"] {
        let r = dtm.post_raw("/api/json-rpc", raw).await;
        let reply = check_envelope(&r);
        let msg = assert_err(&reply, Value::Null, -32700);
        assert!(msg.starts_with("Parse json error"), "{raw}: {msg}");
    }

    // valid JSON but not a valid request → -32600, the id echoed
    let cases = [
        (
            json!({"jsonrpc": "2.0", "id": 5, "method": "prepare", "params": prepare}),
            json!(5),
        ),
        (
            json!({"jsonrpc": "1.0", "id": "a", "method": "prepare", "params": prepare}),
            json!("a"),
        ),
        (
            json!({"id": "b", "method": "prepare", "params": prepare}),
            json!("b"),
        ),
        (
            json!({"jsonrpc": 2.0, "id": "c", "method": "prepare", "params": prepare}),
            json!("c"),
        ),
        (
            json!({"jsonrpc": "2.0", "method": "prepare", "params": prepare}),
            Value::Null,
        ),
        (
            json!({"jsonrpc": "2.0", "id": "", "method": "prepare", "params": prepare}),
            json!(""),
        ),
        (
            json!({"jsonrpc": "2.0", "id": null, "method": "prepare", "params": prepare}),
            Value::Null,
        ),
    ];
    for (body, id) in cases {
        let reply = call(&dtm, &body).await;
        let msg = assert_err(&reply, id, -32600);
        assert!(msg.starts_with("Bad json request"), "{body}: {msg}");
    }
    let r = dtm.post_raw("/api/json-rpc", "[]").await;
    assert_err(&check_envelope(&r), Value::Null, -32600);

    // unknown method → -32601
    for method in ["nope", "query", "Prepare", ""] {
        let reply = call(&dtm, &rpc("m", method, prepare.clone())).await;
        let msg = assert_err(&reply, json!("m"), -32601);
        assert_eq!(msg, format!("Method not found: {method}"));
    }
    let reply = call(&dtm, &json!({"jsonrpc": "2.0", "id": "m2"})).await;
    assert_err(&reply, json!("m2"), -32601);

    // params of the wrong shape (dtmx: a bad request, not a crash)
    let bad_params = [
        rpc("p1", "prepare", json!("not an object")),
        rpc("p2", "prepare", json!({"gid": 12, "trans_type": "msg"})),
        rpc(
            "p3",
            "registerBranch",
            json!({"gid": gid, "branch_id": 1, "trans_type": "tcc"}),
        ),
        rpc("p4", "registerBranch", json!([gid])),
    ];
    for body in bad_params {
        let reply = call(&dtm, &body).await;
        assert_err(&reply, body["id"].clone(), -32600);
    }
    // an invalid transaction is refused as by HTTP (400 there, -32600 here)
    let reply = call(
        &dtm,
        &rpc("t", "prepare", json!({"gid": gid, "trans_type": "nope"})),
    )
    .await;
    assert_err(&reply, json!("t"), -32600);

    dtm.assert_absent(gid).await;
    let r = dtm.get("/api/dtmsvr/all").await;
    assert_eq!(r.body, json!({"transactions": null, "next_position": ""}));
    assert!(busi.all_calls().is_empty());
    // the front door still works afterwards
    assert_ok(
        &call(&dtm, &rpc("ok", "prepare", prepare)).await,
        "ok",
        Value::Null,
    );
    assert_eq!(dtm.status(gid).await, "prepared");
}

// ---------------------------------------------------------------------------------------
// JSON-RPC branch calls

const PAYLOAD: &str = r#"{"amount":30,"note":"x"}"#;

/// A saga with protocol json-rpc whose branch URLs name their method.
fn rpc_saga(busi: &Busi, gid: &str, extra: Value) -> Value {
    let u = |name: &str| format!("{}?method={name}", busi.url(name));
    let mut body = json!({
        "gid": gid, "trans_type": "saga", "protocol": "json-rpc", "concurrent": false,
        "steps": [
            {"action": u("TransOut"), "compensate": u("TransOutRevert")},
            {"action": u("TransIn"), "compensate": u("TransInRevert")},
        ],
        "payloads": [PAYLOAD, PAYLOAD],
    });
    merge(&mut body, extra);
    body
}

/// Asserts a JSON-RPC branch call: POST of an envelope whose params are the payload plus
/// the branch's ids; the URL keeps only its own query (`method=`).
fn check_rpc_call(c: &Call, gid: &str, method: &str, branch_id: &str, op: &str) {
    assert_eq!(c.method, "POST", "{c:?}");
    assert_eq!(c.name, method, "{c:?}");
    assert_eq!(
        c.query,
        vec![("method".to_string(), method.to_string())],
        "{c:?}"
    );
    assert_eq!(
        c.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let env = c.json();
    assert_eq!(env["jsonrpc"], "2.0", "{env}");
    assert_eq!(env["method"], method, "{env}");
    assert!(
        env["id"].as_str().is_some_and(|s| !s.is_empty()) || env["id"].is_number(),
        "an id: {env}"
    );
    assert_eq!(env.as_object().map(|o| o.len()), Some(4), "{env}");
    assert_eq!(
        env["params"],
        json!({"amount": 30, "note": "x", "gid": gid, "trans_type": "saga",
               "branch_id": branch_id, "op": op}),
        "{env}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_branches_over_json_rpc() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    busi.set_fallback(Some(Reply::rpc_ok()));
    let gid = "rpc-saga-ok";
    let r = dtm
        .submit(&rpc_saga(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"dtm_result": "SUCCESS"}))
    );
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["protocol"], "json-rpc");
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    check_rpc_call(&calls[0], gid, "TransOut", "01", "action");
    check_rpc_call(&calls[1], gid, "TransIn", "02", "action");

    // with protocol json-rpc, a URL without `method` is a plain HTTP call
    let gid = "rpc-saga-plain";
    let mut body = rpc_saga(&busi, gid, json!({"wait_result": true}));
    body["steps"][1]["action"] = json!(busi.url("Plain"));
    let r = dtm.submit(&body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    check_rpc_call(&calls[0], gid, "TransOut", "01", "action");
    assert_eq!(calls[1].name, "Plain");
    assert_eq!(calls[1].q("gid"), gid);
    assert_eq!(calls[1].q("op"), "action");
    assert_eq!(calls[1].body_str(), PAYLOAD, "the raw payload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rpc_failure_compensates() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    busi.set_fallback(Some(Reply::rpc_ok()));
    let gid = "rpc-saga-fail";
    busi.plan(
        gid,
        "TransIn",
        [Reply::rpc_error(-32901, "insufficient balance in 42")],
    );
    let r = dtm
        .submit(&rpc_saga(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(
        r.message().contains("insufficient balance in 42"),
        "{:?}",
        r.body
    );
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert!(q["transaction"]["rollback_reason"]
        .as_str()
        .unwrap_or_default()
        .contains("insufficient balance in 42"));
    assert_eq!(
        statuses(&q),
        strs(&["succeed", "succeed", "succeed", "failed"])
    );
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 4, "{calls:#?}");
    check_rpc_call(&calls[0], gid, "TransOut", "01", "action");
    check_rpc_call(&calls[1], gid, "TransIn", "02", "action");
    check_rpc_call(&calls[2], gid, "TransInRevert", "02", "compensate");
    check_rpc_call(&calls[3], gid, "TransOutRevert", "01", "compensate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rpc_ongoing_stays_submitted() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    busi.set_fallback(Some(Reply::rpc_ok()));
    let gid = "rpc-saga-ongoing";
    busi.plan(gid, "TransIn", [Reply::rpc_error(-32902, "not yet")]);
    let r = dtm
        .submit(&rpc_saga(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "not succeeded yet: {:?}", r.body);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted");
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "prepared"])
    );
    assert_eq!(
        q["transaction"]["next_cron_interval"], 10,
        "ongoing: no backoff"
    );
    assert!(q["transaction"].get("rollback_reason").is_none());
    assert_eq!(busi.names(gid), strs(&["TransOut", "TransIn"]));

    dtm.forward(11).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    assert_eq!(busi.names(gid), strs(&["TransOut", "TransIn", "TransIn"]));
    check_rpc_call(&busi.calls(gid)[2], gid, "TransIn", "02", "action");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rpc_other_error_is_retried() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    busi.set_fallback(Some(Reply::rpc_ok()));
    let gid = "rpc-saga-error";
    busi.plan(
        gid,
        "TransIn",
        [
            Reply::rpc_error(-32603, "database is down"),
            Reply::rpc_error(-32000, "still down"),
        ],
    );
    let r = dtm
        .submit(&rpc_saga(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted");
    assert_eq!(q["transaction"]["next_cron_interval"], 20, "backoff: {q}");
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "prepared"])
    );

    dtm.forward(21).await;
    busi.wait_calls(gid, 3, PROMPT).await;
    eventually(PROMPT, "second backoff", || async {
        dtm.query(gid).await["transaction"]["next_cron_interval"] == 40
    })
    .await;
    assert_eq!(dtm.status(gid).await, "submitted");

    dtm.forward(41).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    assert_eq!(
        busi.names(gid),
        strs(&["TransOut", "TransIn", "TransIn", "TransIn"])
    );
    // never compensated
    assert!(busi.calls_of(gid, "TransInRevert").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_gets_a_json_rpc_reply() {
    // over HttpMaxBodyBytes (8 MiB): still a JSON-RPC error reply, nothing written
    let dtm = Dtmx::start().await;
    let big = "x".repeat(9 << 20);
    let body = rpc(
        "big",
        "prepare",
        json!({"gid": "rpc-big", "trans_type": "msg", "custom_data": big}),
    );
    let r = dtm.json_rpc(&body).await;
    let reply = check_envelope(&r);
    let msg = assert_err(&reply, Value::Null, -32600);
    assert!(msg.contains("length limit"), "{msg}");
    // the server closes a connection whose body it did not read: check with a new one
    let q: Value = reqwest::get(format!("{}/api/dtmsvr/query?gid=rpc-big", dtm.base))
        .await
        .expect("query")
        .json()
        .await
        .expect("query json");
    assert_eq!(q, json!({"transaction": null, "branches": []}));
}
