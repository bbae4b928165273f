//! Msg (2-phase message) conformance (PROTOCOL.md §4.3, §5.1, §5.5, §10).

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

const P0: &str = r#"{"amount":30,"from":"a"}"#;
const P1: &str = r#"{"amount":30, "to":"b"}"#;

fn check_delivery(c: &Call, gid: &str, name: &str, branch_id: &str, body: &str) {
    assert_eq!(c.method, "POST", "{c:?}");
    assert_eq!(c.name, name, "{c:?}");
    assert_eq!(c.gid(), gid, "{c:?}");
    assert_eq!(c.q("trans_type"), "msg", "{c:?}");
    assert_eq!(c.q("branch_id"), branch_id, "{c:?}");
    assert_eq!(c.q("op"), "action", "{c:?}");
    assert_eq!(c.query.len(), 4, "{:?}", c.query);
    assert_eq!(c.body, body.as_bytes(), "{c:?}");
}

/// The check-back call: GET, no body, `branch_id=00`, `op=msg`.
fn check_check_back(c: &Call, gid: &str) {
    assert_eq!(c.method, "GET", "{c:?}");
    assert_eq!(c.name, "QueryPrepared", "{c:?}");
    assert_eq!(c.gid(), gid, "{c:?}");
    assert_eq!(c.q("trans_type"), "msg", "{c:?}");
    assert_eq!(c.q("branch_id"), "00", "{c:?}");
    assert_eq!(c.q("op"), "msg", "{c:?}");
    assert!(c.body.is_empty(), "{c:?}");
}

fn transfer_msg(busi: &Busi, gid: &str) -> serde_json::Value {
    msg(busi, gid, &["TransOut", "TransIn"], &[P0, P1], json!({}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_then_submit_delivers() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "msg-ok";
    let r = dtm.prepare(&transfer_msg(&busi, gid)).await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"dtm_result": "SUCCESS"}))
    );
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "prepared");
    assert_eq!(q["transaction"]["trans_type"], "msg");
    assert_eq!(
        q["transaction"]["query_prepared"],
        busi.url("QueryPrepared")
    );
    assert_eq!(statuses(&q), strs(&["prepared", "prepared"]));
    assert_eq!(
        branch_keys(&q),
        vec![
            ("01".to_string(), "action".to_string()),
            ("02".into(), "action".into())
        ]
    );
    assert!(
        busi.calls(gid).is_empty(),
        "nothing is delivered before submit"
    );

    let mut body = transfer_msg(&busi, gid);
    merge(&mut body, json!({"wait_result": true}));
    let r = dtm.submit(&body).await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"dtm_result": "SUCCESS"}))
    );
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "succeed");
    assert_eq!(statuses(&q), strs(&["succeed", "succeed"]));
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    check_delivery(&calls[0], gid, "TransOut", "01", P0);
    check_delivery(&calls[1], gid, "TransIn", "02", P1);
    // sequential delivery by default
    assert!(calls[1].start > calls[0].end.expect("done"));

    // flow B: submit without prepare
    let direct = "msg-direct";
    let mut body = transfer_msg(&busi, direct);
    merge(&mut body, json!({"wait_result": true}));
    let r = dtm.submit(&body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(dtm.status(direct).await, "succeed");
    assert_eq!(busi.names(direct), strs(&["TransOut", "TransIn"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_is_idempotent_until_finished() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "msg-prepare-twice";
    let r = dtm.prepare(&transfer_msg(&busi, gid)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // a second prepare is accepted and its (different) body ignored
    let other = msg(&busi, gid, &["Other"], &["{}"], json!({}));
    let r = dtm.prepare(&other).await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"dtm_result": "SUCCESS"}))
    );
    let q = dtm.query(gid).await;
    assert_eq!(q["branches"].as_array().map(Vec::len), Some(2));
    assert_eq!(q["branches"][0]["url"], busi.url("TransOut"));

    let mut body = transfer_msg(&busi, gid);
    merge(&mut body, json!({"wait_result": true}));
    assert_eq!(dtm.submit(&body).await.status, 200);
    assert_eq!(dtm.status(gid).await, "succeed");

    let r = dtm.prepare(&transfer_msg(&busi, gid)).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.body["dtm_result"], "FAILURE");
    assert_eq!(
        r.message(),
        "current status 'succeed', cannot prepare. FAILURE"
    );
    assert_eq!(dtm.status(gid).await, "succeed");
    assert_eq!(busi.names(gid), strs(&["TransOut", "TransIn"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_of_prepared_msg_fails_it() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "msg-abort";
    assert_eq!(dtm.prepare(&transfer_msg(&busi, gid)).await.status, 200);
    let r = dtm
        .abort(&json!({"gid": gid, "trans_type": "msg", "concurrent": false, "protocol": ""}))
        .await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"dtm_result": "SUCCESS"}))
    );
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert!(q["transaction"]["rollback_time"].is_string());
    assert_eq!(statuses(&q), strs(&["prepared", "prepared"]));

    // a failed msg is final: no check-back, no delivery, even long after its timeout
    dtm.forward(60).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(busi.calls(gid).is_empty(), "{:#?}", busi.calls(gid));
    assert_eq!(dtm.status(gid).await, "failed");

    // and it cannot be aborted or submitted again
    let r = dtm.abort(&json!({"gid": gid, "trans_type": "msg"})).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(
        r.message(),
        "trans type: 'msg' current status 'failed', cannot abort. FAILURE"
    );
    let r = dtm.submit(&transfer_msg(&busi, gid)).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(busi.calls(gid).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_back_ongoing_then_success() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "msg-check-back-ok";
    busi.plan(gid, "QueryPrepared", [Reply::ongoing()]);
    assert_eq!(dtm.prepare(&transfer_msg(&busi, gid)).await.status, 200);

    // not timed out yet: the check-back is not called
    dtm.forward(20).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(busi.calls(gid).is_empty(), "{:#?}", busi.calls(gid));

    // past TimeoutToFail (35 s): check-back answers ONGOING, the msg stays prepared
    dtm.forward(20).await;
    let calls = busi.wait_calls(gid, 1, PROMPT).await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    check_check_back(&calls[0], gid);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "prepared");
    assert_eq!(statuses(&q), strs(&["prepared", "prepared"]));

    // the next check-back says SUCCESS: submitted, then delivered in the same pass
    dtm.forward(11).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(statuses(&q), strs(&["succeed", "succeed"]));
    let calls = busi.calls(gid);
    assert_eq!(
        calls.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        strs(&["QueryPrepared", "QueryPrepared", "TransOut", "TransIn"])
    );
    check_check_back(&calls[1], gid);
    check_delivery(&calls[2], gid, "TransOut", "01", P0);
    check_delivery(&calls[3], gid, "TransIn", "02", P1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_back_failure_fails_msg() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "msg-check-back-fail";
    busi.plan(
        gid,
        "QueryPrepared",
        [Reply::failure("local transaction rolled back")],
    );
    assert_eq!(dtm.prepare(&transfer_msg(&busi, gid)).await.status, 200);
    dtm.forward(40).await;
    let q = dtm.wait_status(gid, "failed", PROMPT).await;
    assert_eq!(statuses(&q), strs(&["prepared", "prepared"]));
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 1, "only the check-back: {calls:#?}");
    check_check_back(&calls[0], gid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_postpones_delivery() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "msg-delay";
    assert_eq!(dtm.prepare(&transfer_msg(&busi, gid)).await.status, 200);
    // the SDK adds the delay only at submit
    let mut body = transfer_msg(&busi, gid);
    merge(&mut body, json!({"custom_data": r#"{"delay":10}"#}));
    let r = dtm.submit(&body).await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"dtm_result": "SUCCESS"}))
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        busi.calls(gid).is_empty(),
        "delivered before the delay: {:#?}",
        busi.calls(gid)
    );
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted");
    assert_eq!(q["transaction"]["custom_data"], r#"{"delay":10}"#);
    assert_eq!(statuses(&q), strs(&["prepared", "prepared"]));

    dtm.forward(11).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(statuses(&q), strs(&["succeed", "succeed"]));
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    check_delivery(&calls[0], gid, "TransOut", "01", P0);
    check_delivery(&calls[1], gid, "TransIn", "02", P1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_msg_delivers_all_at_once() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "msg-concurrent";
    let slow = Reply::ok().after(Duration::from_millis(400));
    for name in ["A", "B", "C"] {
        busi.plan(gid, name, [slow.clone()]);
    }
    let body = msg(
        &busi,
        gid,
        &["A", "B", "C"],
        &["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"],
        json!({"concurrent": true, "wait_result": true}),
    );
    let r = dtm.submit(&body).await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"dtm_result": "SUCCESS"}))
    );
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "succeed");
    assert_eq!(q["transaction"]["concurrent"], true);
    assert_eq!(statuses(&q), strs(&["succeed", "succeed", "succeed"]));
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 3, "{calls:#?}");
    for (i, c) in calls.iter().enumerate() {
        let expected = ["A", "B", "C"]
            .iter()
            .position(|n| *n == c.name)
            .expect("known");
        check_delivery(
            c,
            gid,
            &c.name,
            &format!("0{}", expected + 1),
            &format!("{{\"n\":{}}}", expected + 1),
        );
        for (j, other) in calls.iter().enumerate() {
            if i != j {
                assert!(
                    c.start < other.end.expect("done"),
                    "all in flight together: {calls:#?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_msg_branch_is_retried() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "msg-branch-409";
    busi.plan(gid, "TransIn", [Reply::failure("try later")]);
    let mut body = transfer_msg(&busi, gid);
    merge(&mut body, json!({"wait_result": true}));
    let r = dtm.submit(&body).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(
        r.message().starts_with("wait result not return success"),
        "{:?}",
        r.body
    );
    let q = dtm.query(gid).await;
    assert_eq!(
        q["transaction"]["status"], "submitted",
        "msg branches cannot fail"
    );
    assert_eq!(statuses(&q), strs(&["succeed", "prepared"]));
    assert_eq!(
        q["transaction"]["next_cron_interval"], 20,
        "retried with backoff"
    );

    dtm.forward(21).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(statuses(&q), strs(&["succeed", "succeed"]));
    assert_eq!(busi.names(gid), strs(&["TransOut", "TransIn", "TransIn"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_of_prepared_msg_uses_stored_branches() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "msg-stored-branches";
    assert_eq!(dtm.prepare(&transfer_msg(&busi, gid)).await.status, 200);
    // the submit carries other steps: the prepared ones are delivered
    let other = msg(
        &busi,
        gid,
        &["Other"],
        &["{\"x\":1}"],
        json!({"wait_result": true}),
    );
    let r = dtm.submit(&other).await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"dtm_result": "SUCCESS"}))
    );
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "succeed");
    assert_eq!(q["branches"].as_array().map(Vec::len), Some(2));
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    check_delivery(&calls[0], gid, "TransOut", "01", P0);
    check_delivery(&calls[1], gid, "TransIn", "02", P1);
    // a second submit of a finished msg is refused
    let r = dtm.submit(&other).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(
        r.message(),
        "current status 'succeed', cannot submit. FAILURE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_back_waits_for_the_msg_timeout() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "msg-own-timeout";
    let body = msg(
        &busi,
        gid,
        &["TransOut"],
        &["{}"],
        json!({"timeout_to_fail": 100}),
    );
    assert_eq!(dtm.prepare(&body).await.status, 200);
    // past the server's TimeoutToFail (35 s) but not the msg's own 100 s
    dtm.forward(60).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(busi.calls(gid).is_empty(), "{:#?}", busi.calls(gid));
    assert_eq!(dtm.status(gid).await, "prepared");
    dtm.forward(45).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(statuses(&q), strs(&["succeed"]));
    assert_eq!(busi.names(gid), strs(&["QueryPrepared", "TransOut"]));
    check_check_back(&busi.calls(gid)[0], gid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ongoing_msg_branch_keeps_the_interval() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "msg-branch-425";
    busi.plan(gid, "TransOut", [Reply::ongoing()]);
    let mut body = transfer_msg(&busi, gid);
    merge(&mut body, json!({"wait_result": true}));
    let r = dtm.submit(&body).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted");
    assert_eq!(
        q["transaction"]["next_cron_interval"], 10,
        "no backoff for ONGOING"
    );
    // sequential delivery stops at the first branch not done
    assert_eq!(statuses(&q), strs(&["prepared", "prepared"]));
    assert_eq!(busi.names(gid), strs(&["TransOut"]));
    dtm.forward(11).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(statuses(&q), strs(&["succeed", "succeed"]));
    assert_eq!(busi.names(gid), strs(&["TransOut", "TransOut", "TransIn"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_back_error_backs_off() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "msg-check-back-500";
    busi.plan(gid, "QueryPrepared", [Reply::error()]);
    assert_eq!(dtm.prepare(&transfer_msg(&busi, gid)).await.status, 200);
    dtm.forward(40).await;
    busi.wait_calls(gid, 1, PROMPT).await;
    eventually(PROMPT, "backoff of the check-back recorded", || async {
        dtm.query(gid).await["transaction"]["next_cron_interval"] == json!(20)
    })
    .await;
    assert_eq!(dtm.status(gid).await, "prepared");
    assert_eq!(
        dtm.branch_statuses(gid).await,
        strs(&["prepared", "prepared"])
    );

    dtm.forward(21).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(statuses(&q), strs(&["succeed", "succeed"]));
    assert_eq!(
        busi.names(gid),
        strs(&["QueryPrepared", "QueryPrepared", "TransOut", "TransIn"])
    );
}
