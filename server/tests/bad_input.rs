//! Bad requests: each is refused with the right status and a clear message, writes
//! nothing, and leaves the server serving (PROTOCOL.md §1.1-1.3, §10).

mod common;

use common::*;
use serde_json::{json, Value};

/// Asserts a refusal: status, JSON `message` containing `needle`, no `dtm_result` unless a
/// 409, `gid` never written, nothing listed at all, and the server still answers.
async fn assert_refused(dtm: &Dtmx, r: &Resp, status: u16, needle: &str, gid: &str) {
    assert_eq!(r.status, status, "reply: {:?}", r.body);
    let msg = r.message();
    assert!(
        msg.contains(needle),
        "message {msg:?} should mention {needle:?}; reply {:?}",
        r.body
    );
    if status == 409 {
        assert_eq!(r.body["dtm_result"], "FAILURE");
    } else {
        assert!(r.body.get("dtm_result").is_none(), "{:?}", r.body);
    }
    if !gid.is_empty() {
        dtm.assert_absent(gid).await;
    }
    assert!(dtm.ping().await, "server still serving");
}

/// Nothing at all was stored.
async fn assert_store_empty(dtm: &Dtmx) {
    let r = dtm.get("/api/dtmsvr/all").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"transactions": null, "next_position": ""}));
}

fn steps(busi: &Busi) -> Value {
    json!([
        {"action": busi.url("TransOut"), "compensate": busi.url("TransOutRevert")},
        {"action": busi.url("TransIn"), "compensate": busi.url("TransInRevert")},
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_500() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "bad-json";
    let truncated = format!(
        r#"{{"gid":"{gid}","trans_type":"saga","steps":[{{"action":"{}""#,
        busi.url("TransOut")
    );
    for route in [
        "submit",
        "prepare",
        "abort",
        "forceStop",
        "resetNextCronTime",
    ] {
        let r = dtm
            .post_raw(&format!("/api/dtmsvr/{route}"), truncated.clone())
            .await;
        assert_refused(&dtm, &r, 500, "invalid request body", gid).await;
    }
    // wrong JSON types and non-objects are malformed too
    let wrong_type = json!({"gid": gid, "trans_type": "saga", "steps": "TransOut"});
    let r = dtm.submit(&wrong_type).await;
    assert_refused(&dtm, &r, 500, "invalid request body", gid).await;
    let r = dtm
        .submit(&json!({"gid": gid, "trans_type": "saga", "wait_result": "yes"}))
        .await;
    assert_refused(&dtm, &r, 500, "invalid request body", gid).await;
    let r = dtm.post_raw("/api/dtmsvr/submit", "[1,2]").await;
    assert_refused(&dtm, &r, 500, "invalid request body", "").await;
    let r = dtm.post_raw("/api/dtmsvr/submit", "").await;
    assert_refused(&dtm, &r, 500, "invalid request body", "").await;
    assert_store_empty(&dtm).await;
    assert!(busi.all_calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_invalid_gid_is_400() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let body = json!({"trans_type": "saga", "steps": steps(&busi), "payloads": ["{}", "{}"]});
    let r = dtm.submit(&body).await;
    assert_refused(&dtm, &r, 400, "gid", "").await;
    let r = dtm.prepare(&body).await;
    assert_refused(&dtm, &r, 400, "gid", "").await;
    let mut empty = body.clone();
    empty["gid"] = json!("");
    let r = dtm.submit(&empty).await;
    assert_refused(&dtm, &r, 400, "gid", "").await;
    let mut long = body.clone();
    long["gid"] = json!("g".repeat(129));
    let r = dtm.submit(&long).await;
    assert_refused(&dtm, &r, 400, "gid", "").await;
    assert_store_empty(&dtm).await;
    assert!(busi.all_calls().is_empty());
    // 128 characters is the longest accepted gid
    let mut longest = body.clone();
    longest["gid"] = json!("g".repeat(128));
    longest["wait_result"] = json!(true);
    let r = dtm.submit(&longest).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(dtm.status(&"g".repeat(128)).await, "succeed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_empty_trans_type_is_400() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "bad-type";
    for t in [json!("sagaa"), json!(""), Value::Null] {
        let body =
            json!({"gid": gid, "trans_type": t, "steps": steps(&busi), "payloads": ["{}", "{}"]});
        let r = dtm.submit(&body).await;
        assert_refused(&dtm, &r, 400, "trans type", gid).await;
        let r = dtm.prepare(&body).await;
        assert_refused(&dtm, &r, 400, "trans type", gid).await;
    }
    let r = dtm
        .submit(&json!({"gid": gid, "steps": steps(&busi), "payloads": ["{}", "{}"]}))
        .await;
    assert_refused(&dtm, &r, 400, "trans type", gid).await;
    assert_store_empty(&dtm).await;
    assert!(busi.all_calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fewer_payloads_than_steps_is_400() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "bad-payloads";
    let r = dtm
        .submit(
            &json!({"gid": gid, "trans_type": "saga", "steps": steps(&busi), "payloads": ["{}"],
                        "wait_result": true}),
        )
        .await;
    assert_refused(&dtm, &r, 400, "payload", gid).await;
    let r = dtm
        .submit(&json!({"gid": gid, "trans_type": "saga", "steps": steps(&busi)}))
        .await;
    assert_refused(&dtm, &r, 400, "payload", gid).await;
    let r = dtm
        .prepare(
            &json!({"gid": gid, "trans_type": "msg", "steps": [{"action": busi.url("A")}],
                         "query_prepared": busi.url("QueryPrepared")}),
        )
        .await;
    assert_refused(&dtm, &r, 400, "payload", gid).await;
    assert_store_empty(&dtm).await;
    assert!(busi.all_calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_invalid_transactions() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "bad-other";
    let base = transfer(&busi, gid, json!({"wait_result": true}));
    // custom_data that is not the type's JSON
    let mut b = base.clone();
    b["custom_data"] = json!("{not json");
    let r = dtm.submit(&b).await;
    assert_refused(&dtm, &r, 400, "custom_data", gid).await;
    // unknown protocol
    let mut b = base.clone();
    b["protocol"] = json!("carrier-pigeon");
    let r = dtm.submit(&b).await;
    assert_refused(&dtm, &r, 400, "protocol", gid).await;
    // negative option
    let mut b = base.clone();
    b["timeout_to_fail"] = json!(-1);
    let r = dtm.submit(&b).await;
    assert_refused(&dtm, &r, 400, "negative", gid).await;
    // a topic nobody subscribed to
    let r = dtm
        .prepare(
            &json!({"gid": gid, "trans_type": "msg", "steps": [{"action": "topic://orders"}],
                         "payloads": ["{}"], "query_prepared": busi.url("QueryPrepared")}),
        )
        .await;
    assert_refused(&dtm, &r, 500, "topic not found", gid).await;
    assert_store_empty(&dtm).await;
    assert!(busi.all_calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_of_finished_saga_is_409() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "finished";
    let body = transfer(&busi, gid, json!({"wait_result": true}));
    assert_eq!(dtm.submit(&body).await.status, 200);
    let before = dtm.query(gid).await;
    assert_eq!(before["transaction"]["status"], "succeed");

    let r = dtm.submit(&body).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"dtm_result": "FAILURE", "message": "current status 'succeed', cannot submit. FAILURE"})
    );
    // nothing written, nothing called
    assert_eq!(dtm.query(gid).await, before);
    assert_eq!(busi.names(gid), strs(&["TransOut", "TransIn"]));

    // same for a failed one
    let failed = "finished-failed";
    busi.plan(failed, "TransIn", [Reply::failure("no")]);
    let body = transfer(&busi, failed, json!({"wait_result": true}));
    assert_eq!(dtm.submit(&body).await.status, 409);
    let before = dtm.query(failed).await;
    assert_eq!(before["transaction"]["status"], "failed");
    let r = dtm.submit(&body).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.message(),
        "current status 'failed', cannot submit. FAILURE"
    );
    assert_eq!(dtm.query(failed).await, before);
    assert_eq!(busi.calls(failed).len(), 4);
    assert!(dtm.ping().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_413() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "too-big";
    let huge = "x".repeat(8 << 20);
    let body = json!({
        "gid": gid,
        "trans_type": "saga",
        "steps": [{"action": busi.url("TransOut"), "compensate": busi.url("TransOutRevert")}],
        "payloads": [huge],
    });
    let r = dtm.submit(&body).await;
    assert_refused(&dtm, &r, 413, "", gid).await;
    assert!(
        !r.message().is_empty(),
        "explains the refusal: {:?}",
        r.body
    );
    let r = dtm.prepare(&body).await;
    assert_refused(&dtm, &r, 413, "", gid).await;
    // just under the limit is fine
    let fits = "y".repeat((8 << 20) - 4096);
    let ok = json!({
        "gid": "big-but-fits",
        "trans_type": "saga",
        "steps": [{"action": busi.url("TransOut"), "compensate": busi.url("TransOutRevert")}],
        "payloads": [fits],
        "wait_result": true,
    });
    let r = dtm.submit(&ok).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let calls = busi.calls("big-but-fits");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].body.len(),
        (8 << 20) - 4096,
        "payload delivered whole"
    );
    assert!(busi.calls(gid).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_branch_needs_strings() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "tcc-bad-register";
    let r = dtm.prepare(&json!({"gid": gid, "trans_type": "tcc"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let good = json!({
        "gid": gid, "trans_type": "tcc", "branch_id": "01", "data": "{}",
        "confirm": busi.url("Confirm"), "cancel": busi.url("Cancel"),
    });
    for (key, bad) in [
        ("branch_id", json!(1)),
        ("data", json!({"amount": 30})),
        ("confirm", json!(["x"])),
        ("gid", json!(true)),
    ] {
        let mut b = good.clone();
        b[key] = bad;
        let r = dtm.register_branch(&b).await;
        assert_eq!(r.status, 400, "{key}: {:?}", r.body);
        assert!(r.message().contains("string"), "{:?}", r.body);
        assert!(r.body.get("dtm_result").is_none());
        assert!(dtm.ping().await);
    }
    let r = dtm.post_raw("/api/dtmsvr/registerBranch", "{nope").await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    // missing branch_id, unknown type
    let mut b = good.clone();
    b.as_object_mut().expect("object").remove("branch_id");
    assert_eq!(dtm.register_branch(&b).await.status, 400);
    let mut b = good.clone();
    b["trans_type"] = json!("saga");
    let r = dtm.register_branch(&b).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.message().contains("unknow trans type"), "{:?}", r.body);

    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "prepared");
    assert_eq!(q["branches"], json!([]), "no branch written");
    // the valid one still works afterwards
    assert_eq!(dtm.register_branch(&good).await.status, 200);
    assert_eq!(dtm.branch_statuses(gid).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nulls_and_unknown_keys_are_accepted() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "lenient";
    let body = json!({
        "gid": gid,
        "trans_type": "saga",
        "steps": steps(&busi),
        "payloads": ["{\"a\":1}", "{\"a\":2}"],
        "wait_result": true,
        "passthrough_headers": ["Authorization"],
        "custom_data": null,
        "branch_headers": null,
        "timeout_to_fail": null,
        "request_timeout": null,
        "retry_limit": null,
        "query_prepared": null,
        "protocol": null,
        "concurrent": null,
        "status": "succeed",
        "next_cron_time": "2020-01-01T00:00:00Z",
        "something_new": {"nested": [1, 2, {"x": null}]},
    });
    let r = dtm.submit(&body).await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"dtm_result": "SUCCESS"}))
    );
    let q = dtm.query(gid).await;
    let t = &q["transaction"];
    assert_eq!(t["status"], "succeed");
    assert_eq!(t["protocol"], "http");
    assert!(
        t.get("ext_data").is_none(),
        "passthrough_headers ignored: {t}"
    );
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].body_str(), "{\"a\":1}");
    assert_eq!(calls[1].body_str(), "{\"a\":2}");
    assert!(!calls[0].headers.contains_key("authorization"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_numbers_do_not_break_the_server() {
    // Out-of-range seconds must neither drop the connection nor stop the cron: either the
    // value is refused (400, nothing written) or the transaction runs normally.
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    for (i, key) in [
        "retry_interval",
        "timeout_to_fail",
        "request_timeout",
        "retry_limit",
    ]
    .iter()
    .enumerate()
    {
        let gid = format!("huge-{i}");
        let body = transfer(&busi, &gid, json!({"wait_result": true, *key: i64::MAX}));
        let r = dtm.submit(&body).await;
        match r.status {
            200 => assert_eq!(dtm.status(&gid).await, "succeed", "{key}"),
            400 => dtm.assert_absent(&gid).await,
            other => panic!("{key} = i64::MAX: unexpected {other} {:?}", r.body),
        }
    }
    let r = dtm
        .get(&format!("/api/dtmsvr/resetCronTime?timeout={}", i64::MAX))
        .await;
    assert!(matches!(r.status, 200 | 400), "{:?}", r.body);
    assert!(dtm.ping().await);

    // the cron still recovers transactions
    let gid = "after-huge";
    busi.plan(gid, "TransIn", [Reply::error()]);
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    dtm.forward(21).await;
    dtm.wait_status(gid, "succeed", PROMPT).await;
}
