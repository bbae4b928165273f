//! Saga conformance (PROTOCOL.md §4.2, §5.1, §5.3, §5.8, §10).

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Asserts how the server called a branch: method, endpoint, query parameters (exactly
/// `gid`, `trans_type`, `branch_id`, `op`, no `dtm`) and the body bytes verbatim.
fn check_call(
    c: &Call,
    gid: &str,
    method: &str,
    name: &str,
    branch_id: &str,
    op: &str,
    body: &str,
) {
    assert_eq!(c.method, method, "method of {c:?}");
    assert_eq!(c.name, name, "endpoint of {c:?}");
    assert_eq!(c.gid(), gid, "gid of {c:?}");
    assert_eq!(c.q("trans_type"), "saga", "trans_type of {c:?}");
    assert_eq!(c.q("branch_id"), branch_id, "branch_id of {c:?}");
    assert_eq!(c.q("op"), op, "op of {c:?}");
    assert_eq!(
        c.query.len(),
        4,
        "exactly gid, trans_type, branch_id, op: {:?}",
        c.query
    );
    assert_eq!(c.body, body.as_bytes(), "body of {c:?}");
    assert_eq!(
        c.headers.get("content-type").map(String::as_str),
        Some("application/json"),
        "content type of {c:?}"
    );
}

fn names(v: &[&str]) -> Vec<String> {
    strs(v)
}

fn success_envelope() -> Value {
    json!({"dtm_result": "SUCCESS"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_success() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-ok";
    let p0 = r#"{"amount": 30, "note":"héllo"}"#;
    let p1 = r#"{"amount":30}"#;
    let body = saga(
        &busi,
        gid,
        &[("TransOut", "TransOutRevert"), ("TransIn", "TransInRevert")],
        &[p0, p1],
        json!({"wait_result": true}),
    );
    let r = dtm.submit(&body).await;
    assert_eq!((r.status, &r.body), (200, &success_envelope()));

    let q = dtm.query(gid).await;
    let t = &q["transaction"];
    assert_eq!(t["status"], "succeed");
    assert_eq!(t["trans_type"], "saga");
    assert_eq!(t["gid"], gid);
    assert_eq!(t["protocol"], "http");
    assert!(t["finish_time"].is_string(), "finish_time set: {t}");
    assert!(t.get("rollback_reason").is_none(), "no reason: {t}");
    assert_eq!(
        statuses(&q),
        names(&["prepared", "succeed", "prepared", "succeed"])
    );
    assert_eq!(
        branch_keys(&q),
        vec![
            ("01".to_string(), "compensate".to_string()),
            ("01".into(), "action".into()),
            ("02".into(), "compensate".into()),
            ("02".into(), "action".into()),
        ]
    );
    let b = &q["branches"];
    assert_eq!(b[0]["url"], busi.url("TransOutRevert"));
    assert_eq!(b[1]["url"], busi.url("TransOut"));
    assert_eq!(b[3]["url"], busi.url("TransIn"));
    assert!(b[1]["finish_time"].is_string());
    assert!(b[0].get("finish_time").is_none());

    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    check_call(&calls[0], gid, "POST", "TransOut", "01", "action", p0);
    check_call(&calls[1], gid, "POST", "TransIn", "02", "action", p1);
    // sequential: TransIn starts only after TransOut answered
    assert!(calls[1].start > calls[0].end.expect("TransOut done"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_step2_failure_compensates_in_reverse() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-fail";
    busi.plan(
        gid,
        "TransIn",
        [Reply::failure("insufficient balance in account 42")],
    );
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.body["dtm_result"], "FAILURE");
    let msg = r.message();
    assert!(
        msg.contains("insufficient balance in account 42"),
        "reply carries the RM's text: {msg}"
    );
    assert!(
        msg.contains(&busi.url("TransIn")),
        "names the failed url: {msg}"
    );

    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert!(q["transaction"]["rollback_time"].is_string());
    let reason = q["transaction"]["rollback_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("insufficient balance in account 42"),
        "reason: {reason}"
    );
    assert_eq!(
        statuses(&q),
        names(&["succeed", "succeed", "succeed", "failed"])
    );
    // an action's FAILURE is a result, not an error: no backoff (PROTOCOL.md §1.6, §5.3)
    assert_eq!(q["transaction"]["next_cron_interval"], 10);

    let calls = busi.calls(gid);
    assert_eq!(
        calls.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        names(&["TransOut", "TransIn", "TransInRevert", "TransOutRevert"])
    );
    let p = r#"{"amount":30}"#;
    check_call(
        &calls[2],
        gid,
        "POST",
        "TransInRevert",
        "02",
        "compensate",
        p,
    );
    check_call(
        &calls[3],
        gid,
        "POST",
        "TransOutRevert",
        "01",
        "compensate",
        p,
    );
    // strict reverse order: TransOutRevert waits for TransInRevert's reply
    assert!(calls[3].start > calls[2].end.expect("TransInRevert done"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_ongoing_is_finished_by_cron() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-ongoing";
    busi.plan(gid, "TransOut", [Reply::ongoing()]);
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_ne!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.status, 409, "not yet succeeded: {:?}", r.body);
    assert_eq!(r.body["dtm_result"], "FAILURE");

    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted");
    assert_eq!(statuses(&q), names(&["prepared"; 4]));
    // ONGOING keeps the interval (no backoff)
    assert_eq!(q["transaction"]["next_cron_interval"], 10);
    assert_eq!(busi.names(gid), names(&["TransOut"]));

    dtm.forward(11).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        names(&["prepared", "succeed", "prepared", "succeed"])
    );
    assert_eq!(busi.names(gid), names(&["TransOut", "TransOut", "TransIn"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_timeout_to_fail() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-timeout";
    busi.plan(gid, "TransOut", vec![Reply::ongoing(); 5]);
    let r = dtm
        .submit(&transfer(
            &busi,
            gid,
            json!({"wait_result": true, "timeout_to_fail": 1800}),
        ))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(dtm.status(gid).await, "submitted");

    dtm.forward(3600).await;
    let q = dtm.wait_status(gid, "failed", PROMPT).await;
    assert_eq!(
        q["transaction"]["rollback_reason"],
        "Timeout after 1800 seconds"
    );
    assert_eq!(
        statuses(&q),
        names(&["succeed", "prepared", "prepared", "prepared"])
    );
    // The timed-out pass does not call the action again; the step that may have taken
    // effect is compensated; step 2 never ran.
    assert_eq!(busi.names(gid), names(&["TransOut", "TransOutRevert"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_retry_limit_exhausted() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-retry-limit-1";
    busi.plan(gid, "TransIn", vec![Reply::error(); 3]);
    let r = dtm
        .submit(&transfer(
            &busi,
            gid,
            json!({"wait_result": true, "retry_limit": 1}),
        ))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(
        r.message()
            .contains("RetryCount is greater than RetryLimit, RetryLimit: 1"),
        "{:?}",
        r.body
    );
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert_eq!(
        q["transaction"]["rollback_reason"],
        "RetryCount is greater than RetryLimit, RetryLimit: 1"
    );
    assert_eq!(
        statuses(&q),
        names(&["succeed", "succeed", "succeed", "prepared"])
    );
    // one call plus one immediate retry, then both steps compensated in reverse order
    assert_eq!(
        busi.names(gid),
        names(&[
            "TransOut",
            "TransIn",
            "TransIn",
            "TransInRevert",
            "TransOutRevert"
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_retry_limit_enough() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-retry-limit-3";
    busi.plan(gid, "TransIn", vec![Reply::error(); 3]);
    let r = dtm
        .submit(&transfer(
            &busi,
            gid,
            json!({"wait_result": true, "retry_limit": 3}),
        ))
        .await;
    assert_eq!((r.status, &r.body), (200, &success_envelope()));
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "succeed");
    assert_eq!(
        statuses(&q),
        names(&["prepared", "succeed", "prepared", "succeed"])
    );
    assert_eq!(
        busi.names(gid),
        names(&["TransOut", "TransIn", "TransIn", "TransIn", "TransIn"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_saga_first_step_fails() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-concurrent-fail";
    busi.plan(gid, "TransOut", [Reply::failure("account frozen")]);
    let body = transfer(
        &busi,
        gid,
        json!({
            "wait_result": true,
            "concurrent": true,
            "custom_data": r#"{"concurrent":true,"orders":{"1":[0]}}"#,
        }),
    );
    let r = dtm.submit(&body).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(r.message().contains("account frozen"), "{:?}", r.body);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert_eq!(
        q["transaction"]["custom_data"],
        r#"{"concurrent":true,"orders":{"1":[0]}}"#
    );
    assert_eq!(
        statuses(&q),
        names(&["succeed", "failed", "prepared", "prepared"])
    );
    // step 1 waits for step 0, which failed: it never runs and needs no compensation
    assert_eq!(busi.names(gid), names(&["TransOut", "TransOutRevert"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_saga_honours_orders() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-concurrent-orders";
    let slow = Reply::ok().after(Duration::from_millis(400));
    busi.plan(gid, "Step0", [slow.clone()]);
    busi.plan(gid, "Step1", [slow]);
    let body = saga(
        &busi,
        gid,
        &[
            ("Step0", "Step0Revert"),
            ("Step1", "Step1Revert"),
            ("Step2", "Step2Revert"),
        ],
        &["{\"s\":0}", "{\"s\":1}", "{\"s\":2}"],
        json!({
            "wait_result": true,
            "concurrent": true,
            "custom_data": r#"{"concurrent":true,"orders":{"2":[0,1]}}"#,
        }),
    );
    let r = dtm.submit(&body).await;
    assert_eq!((r.status, &r.body), (200, &success_envelope()));
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "succeed");
    assert_eq!(
        statuses(&q),
        names(&["prepared", "succeed", "prepared", "succeed", "prepared", "succeed"])
    );
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 3, "{calls:#?}");
    let get = |n: &str| calls.iter().find(|c| c.name == n).expect(n).clone();
    let (s0, s1, s2) = (get("Step0"), get("Step1"), get("Step2"));
    let (e0, e1) = (s0.end.expect("step0 done"), s1.end.expect("step1 done"));
    // steps 0 and 1 ran concurrently ...
    assert!(
        s0.start < e1 && s1.start < e0,
        "0 and 1 overlap: {calls:#?}"
    );
    // ... and step 2 started only after both had finished
    assert!(
        s2.start > e0 && s2.start > e1,
        "2 after 0 and 1: {calls:#?}"
    );
    assert_eq!(s2.q("branch_id"), "03");
    assert_eq!(s2.body_str(), "{\"s\":2}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_compensate_url_is_not_called() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    // success: the empty compensate is never needed
    let ok = "saga-empty-comp-ok";
    let body = saga(
        &busi,
        ok,
        &[("TransOut", ""), ("TransIn", "TransInRevert")],
        &["{}", "{}"],
        json!({"wait_result": true}),
    );
    let r = dtm.submit(&body).await;
    assert_eq!((r.status, &r.body), (200, &success_envelope()));
    assert_eq!(busi.names(ok), names(&["TransOut", "TransIn"]));

    // rollback: the empty compensate succeeds without any call
    let gid = "saga-empty-comp-fail";
    busi.plan(gid, "TransIn", [Reply::failure("no")]);
    let body = saga(
        &busi,
        gid,
        &[("TransOut", ""), ("TransIn", "TransInRevert")],
        &["{}", "{}"],
        json!({"wait_result": true}),
    );
    let r = dtm.submit(&body).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert_eq!(
        statuses(&q),
        names(&["succeed", "succeed", "succeed", "failed"])
    );
    assert!(
        q["branches"][0].get("url").is_none(),
        "empty url omitted: {q}"
    );
    assert_eq!(
        busi.names(gid),
        names(&["TransOut", "TransIn", "TransInRevert"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_without_payload_post_with_payload() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-methods";
    busi.plan(gid, "TransIn", [Reply::failure("rejected")]);
    let p1 = r#"{"amount":30}"#;
    let body = json!({
        "gid": gid,
        "trans_type": "saga",
        "steps": [
            {"action": format!("{}?tenant=7", busi.url("TransOut")),
             "compensate": format!("{}?tenant=7", busi.url("TransOutRevert"))},
            {"action": busi.url("TransIn"), "compensate": busi.url("TransInRevert")},
        ],
        "payloads": ["", p1],
        "wait_result": true,
    });
    let r = dtm.submit(&body).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let calls = busi.calls(gid);
    assert_eq!(
        calls.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        names(&["TransOut", "TransIn", "TransInRevert", "TransOutRevert"])
    );
    // empty payload → GET, no body; the URL's own query parameters are kept
    for (c, op) in [(&calls[0], "action"), (&calls[3], "compensate")] {
        assert_eq!(c.method, "GET", "{c:?}");
        assert!(c.body.is_empty(), "{c:?}");
        assert_eq!(c.q("tenant"), "7", "{c:?}");
        assert_eq!(c.q("op"), op);
        assert_eq!(c.q("branch_id"), "01");
        assert_eq!(c.q("gid"), gid);
        assert_eq!(c.query.iter().filter(|(k, _)| k == "gid").count(), 1);
    }
    // non-empty payload → POST with the payload bytes, for action and compensate
    check_call(&calls[1], gid, "POST", "TransIn", "02", "action", p1);
    check_call(
        &calls[2],
        gid,
        "POST",
        "TransInRevert",
        "02",
        "compensate",
        p1,
    );
    // the stored branch carries the payload as base64; the empty one has no bin_data
    let q = dtm.query(gid).await;
    assert!(q["branches"][1].get("bin_data").is_none(), "{q}");
    assert_eq!(q["branches"][3]["bin_data"], "eyJhbW91bnQiOjMwfQ==");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_payload_in_steps_data() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-legacy-data";
    let d0 = r#"{ "amount" : 10 }"#;
    let d1 = r#"{"amount":20,"user":"b"}"#;
    let body = json!({
        "gid": gid,
        "trans_type": "saga",
        "steps": [
            {"action": busi.url("TransOut"), "compensate": busi.url("TransOutRevert"), "data": d0},
            {"action": busi.url("TransIn"), "compensate": busi.url("TransInRevert"), "data": d1},
        ],
        "wait_result": true,
    });
    let r = dtm.submit(&body).await;
    assert_eq!((r.status, &r.body), (200, &success_envelope()));
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2);
    check_call(&calls[0], gid, "POST", "TransOut", "01", "action", d0);
    check_call(&calls[1], gid, "POST", "TransIn", "02", "action", d1);
    assert_eq!(dtm.status(gid).await, "succeed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_200_failure_body_is_a_failure() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-legacy-failure";
    busi.plan(gid, "TransIn", [Reply::legacy_failure()]);
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert_eq!(
        statuses(&q),
        names(&["succeed", "succeed", "succeed", "failed"])
    );
    assert_eq!(
        busi.names(gid),
        names(&["TransOut", "TransIn", "TransInRevert", "TransOutRevert"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_headers_are_sent() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-headers";
    busi.plan(gid, "TransIn", [Reply::failure("x")]);
    let r = dtm
        .submit(&transfer(
            &busi,
            gid,
            json!({
                "wait_result": true,
                "branch_headers": {"X-Request-Id": "req-42", "Authorization": "Bearer t0k"},
            }),
        ))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 4, "{calls:#?}");
    for c in &calls {
        assert_eq!(c.header_values("x-request-id"), vec!["req-42"], "{c:?}");
        assert_eq!(
            c.headers.get("authorization").map(String::as_str),
            Some("Bearer t0k"),
            "{c:?}"
        );
        assert_eq!(
            c.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
    }
    // the options are persisted, so later (cron) passes send them too
    let q = dtm.query(gid).await;
    assert_eq!(
        q["transaction"]["branch_headers"],
        json!({"Authorization": "Bearer t0k", "X-Request-Id": "req-42"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_branch_is_retried_not_failed() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-slow";
    busi.plan(
        gid,
        "TransOut",
        [Reply::ok().after(Duration::from_millis(2500))],
    );
    let r = dtm
        .submit(&transfer(
            &busi,
            gid,
            json!({"wait_result": true, "request_timeout": 1}),
        ))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted");
    assert_eq!(
        statuses(&q),
        names(&["prepared"; 4]),
        "a timeout is not a failure"
    );
    // a timed-out call is an error: backoff
    assert_eq!(q["transaction"]["next_cron_interval"], 20);
    assert_eq!(q["transaction"]["request_timeout"], 1);

    dtm.forward(21).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        names(&["prepared", "succeed", "prepared", "succeed"])
    );
    assert_eq!(busi.names(gid), names(&["TransOut", "TransOut", "TransIn"]));
    assert!(busi.calls_of(gid, "TransOutRevert").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_backs_off_then_succeeds() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-backoff";
    busi.plan(gid, "TransIn", [Reply::error()]);
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.body["dtm_result"], "FAILURE");
    assert!(
        r.message().starts_with("wait result not return success"),
        "{:?}",
        r.body
    );
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted");
    assert_eq!(
        q["transaction"]["next_cron_interval"], 20,
        "interval doubled: {q}"
    );
    assert!(q["transaction"].get("rollback_reason").is_none());
    assert_eq!(
        statuses(&q),
        names(&["prepared", "succeed", "prepared", "prepared"])
    );

    // 11 s is enough for the base interval but not for the doubled one
    dtm.forward(11).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(dtm.status(gid).await, "submitted");
    assert_eq!(
        busi.calls_of(gid, "TransIn").len(),
        1,
        "not retried before 20 s"
    );

    dtm.forward(10).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        names(&["prepared", "succeed", "prepared", "succeed"])
    );
    // success after a backoff resets the interval (PROTOCOL.md §5.3)
    assert_eq!(q["transaction"]["next_cron_interval"], 10, "{q}");
    // TransOut (already succeed) is not called again
    assert_eq!(busi.names(gid), names(&["TransOut", "TransIn", "TransIn"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_wait_result_replies_at_once() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-async";
    busi.plan(
        gid,
        "TransOut",
        [Reply::ok().after(Duration::from_millis(1500))],
    );
    let r = dtm.submit(&transfer(&busi, gid, json!({}))).await;
    assert_eq!((r.status, &r.body), (200, &success_envelope()));
    // the reply came before the (slow) first branch finished
    assert_eq!(dtm.status(gid).await, "submitted");
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        names(&["prepared", "succeed", "prepared", "succeed"])
    );
    assert_eq!(busi.names(gid), names(&["TransOut", "TransIn"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_compensation_is_retried_until_it_succeeds() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-comp-retry";
    busi.plan(gid, "TransIn", [Reply::failure("rejected")]);
    // a compensation may not fail: FAILURE from a compensate is just retried
    busi.plan(gid, "TransInRevert", [Reply::failure("not now")]);
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(r.message().contains("rejected"), "{:?}", r.body);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "aborting");
    assert_eq!(
        statuses(&q),
        names(&["prepared", "succeed", "prepared", "failed"])
    );
    // no backoff for the action's FAILURE, one for the compensation's
    assert_eq!(q["transaction"]["next_cron_interval"], 20, "backoff");
    // strict reverse order: TransOutRevert waits for step 2's rollback
    assert_eq!(
        busi.names(gid),
        names(&["TransOut", "TransIn", "TransInRevert"])
    );

    dtm.forward(21).await;
    let q = dtm.wait_status(gid, "failed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        names(&["succeed", "succeed", "succeed", "failed"])
    );
    assert!(q["transaction"]["rollback_reason"]
        .as_str()
        .unwrap_or_default()
        .contains("rejected"));
    assert_eq!(
        busi.names(gid),
        names(&[
            "TransOut",
            "TransIn",
            "TransInRevert",
            "TransInRevert",
            "TransOutRevert"
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_compensation_honours_orders() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-concurrent-rollback";
    let slow = Reply::ok().after(Duration::from_millis(300));
    busi.plan(gid, "Step2", [Reply::failure("step 2 refused")]);
    busi.plan(gid, "Step2Revert", [slow.clone()]);
    busi.plan(gid, "Step0Revert", [slow.clone()]);
    busi.plan(gid, "Step1Revert", [slow]);
    let body = saga(
        &busi,
        gid,
        &[
            ("Step0", "Step0Revert"),
            ("Step1", "Step1Revert"),
            ("Step2", "Step2Revert"),
        ],
        &["{}", "{}", "{}"],
        json!({
            "wait_result": true,
            "concurrent": true,
            "custom_data": r#"{"concurrent":true,"orders":{"2":[0,1]}}"#,
        }),
    );
    let r = dtm.submit(&body).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert_eq!(
        statuses(&q),
        names(&["succeed", "succeed", "succeed", "succeed", "succeed", "failed"])
    );
    let calls = busi.calls(gid);
    let get = |n: &str| calls.iter().find(|c| c.name == n).expect(n).clone();
    let (r0, r1, r2) = (get("Step0Revert"), get("Step1Revert"), get("Step2Revert"));
    let e2 = r2.end.expect("done");
    // steps 0 and 1 are rolled back only after step 2 (which depends on them) ...
    assert!(r0.start > e2 && r1.start > e2, "{calls:#?}");
    // ... and concurrently with each other
    assert!(
        r0.start < r1.end.expect("done") && r1.start < r0.end.expect("done"),
        "{calls:#?}"
    );
    assert_eq!(r2.q("op"), "compensate");
    assert_eq!(r2.q("branch_id"), "03");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_without_steps_succeeds() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-empty";
    let r = dtm
        .submit(
            &json!({"gid": gid, "trans_type": "saga", "steps": [], "payloads": [],
                        "wait_result": true}),
        )
        .await;
    assert_eq!((r.status, &r.body), (200, &success_envelope()));
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "succeed");
    assert_eq!(q["branches"], json!([]));
    assert!(busi.all_calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_shape_of_a_saga() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-shape";
    let r = dtm
        .submit(&transfer(
            &busi,
            gid,
            json!({"wait_result": true, "retry_interval": 15, "branch_headers": {"h": "v"}}),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.content_type, "application/json; charset=utf-8");
    let r = dtm.query_resp(gid).await;
    assert_eq!(r.content_type, "application/json; charset=utf-8");
    let t = &r.body["transaction"];
    // options persisted as JSON text, omit-empty except `concurrent`
    let options: Value =
        serde_json::from_str(t["options"].as_str().expect("options text")).expect("json");
    assert_eq!(
        options,
        json!({"wait_result": true, "retry_interval": 15, "branch_headers": {"h": "v"},
               "concurrent": false})
    );
    assert_eq!(
        t["next_cron_interval"], 15,
        "base interval = retry_interval"
    );
    for key in [
        "create_time",
        "update_time",
        "finish_time",
        "next_cron_time",
    ] {
        let v = t[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing: {t}"));
        assert!(
            v.len() >= 20 && v.as_bytes()[10] == b'T',
            "{key} is RFC 3339: {v}"
        );
    }
    let keys: Vec<&str> = t
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        &keys[..3],
        &["id", "create_time", "update_time"],
        "Go field order"
    );
    let b = &r.body["branches"][1];
    assert_eq!(b["gid"], gid);
    assert_eq!(b["op"], "action");
    assert_eq!(b["branch_id"], "01");
    assert_eq!(b["bin_data"], "eyJhbW91bnQiOjMwfQ==");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gids_are_stripped_and_encoded() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    // `\n`, `\r` and `;` are removed from the gid of a request body
    let r = dtm
        .submit(&transfer(
            &busi,
            "strip;me\r\n",
            json!({"wait_result": true}),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(dtm.status("stripme").await, "succeed");
    assert_eq!(busi.names("stripme"), names(&["TransOut", "TransIn"]));

    // characters that need escaping in a query string reach the RM intact
    let gid = "order #1 & co/é?x=y";
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(dtm.status(gid).await, "succeed");
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2, "{:#?}", busi.all_calls());
    assert_eq!(calls[0].query.len(), 4, "{:?}", calls[0].query);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_headers_override_defaults() {
    // PROTOCOL.md §1.5: Content-type first, then branch_headers, the later one wins
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-header-override";
    let r = dtm
        .submit(&transfer(
            &busi,
            gid,
            json!({"wait_result": true,
                   "branch_headers": {"Content-Type": "application/vnd.test+json"}}),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2);
    for c in &calls {
        assert_eq!(
            c.header_values("content-type"),
            vec!["application/vnd.test+json"],
            "one Content-Type, the branch header's: {:?}",
            c.raw_headers
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_timeout_is_the_base_interval() {
    // PROTOCOL.md §5.3: 0 < timeout_to_fail < RetryInterval → base interval = timeout_to_fail
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-short-timeout";
    busi.plan(gid, "TransOut", vec![Reply::ongoing(); 5]);
    let r = dtm
        .submit(&transfer(
            &busi,
            gid,
            json!({"wait_result": true, "timeout_to_fail": 5}),
        ))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted");
    assert_eq!(q["transaction"]["next_cron_interval"], 5);
    dtm.forward(6).await;
    let q = dtm.wait_status(gid, "failed", PROMPT).await;
    assert_eq!(
        q["transaction"]["rollback_reason"],
        "Timeout after 5 seconds"
    );
    assert_eq!(
        statuses(&q),
        names(&["succeed", "prepared", "prepared", "prepared"])
    );
    assert_eq!(busi.names(gid), names(&["TransOut", "TransOutRevert"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_level_concurrent_does_not_make_a_saga_concurrent() {
    // PROTOCOL.md §1.2: saga concurrency comes from custom_data only
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-top-level-concurrent";
    busi.plan(
        gid,
        "TransOut",
        [Reply::ok().after(Duration::from_millis(300))],
    );
    let r = dtm
        .submit(&transfer(
            &busi,
            gid,
            json!({"wait_result": true, "concurrent": true}),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].name, "TransOut");
    assert!(calls[1].start > calls[0].end.expect("done"), "{calls:#?}");
}
