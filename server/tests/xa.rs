//! XA conformance (PROTOCOL.md §1.3 registerBranch, §1.5, §4.5, §5.5).

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn xa(gid: &str, extra: Value) -> Value {
    global(gid, "xa", extra)
}

/// What the RM's XaLocalTransaction registers: the phase-2 URL, no data.
fn branch(busi: &Busi, gid: &str, id: &str, name: &str) -> Value {
    json!({"gid": gid, "trans_type": "xa", "branch_id": id, "url": busi.url(name)})
}

/// Phase 2 of XA: always POST, empty body, the four DTM query parameters.
fn check_call(c: &Call, gid: &str, name: &str, branch_id: &str, op: &str) {
    assert_eq!(c.method, "POST", "xa phase 2 is always a POST: {c:?}");
    assert_eq!(c.name, name, "{c:?}");
    assert_eq!(c.gid(), gid, "{c:?}");
    assert_eq!(c.q("trans_type"), "xa", "{c:?}");
    assert_eq!(c.q("branch_id"), branch_id, "{c:?}");
    assert_eq!(c.q("op"), op, "{c:?}");
    assert_eq!(c.query.len(), 4, "{:?}", c.query);
    assert!(c.body.is_empty(), "empty body: {c:?}");
}

fn keys(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

async fn prepare_two(dtm: &Dtmx, busi: &Busi, gid: &str, extra: Value) {
    let r = dtm.prepare(&xa(gid, extra)).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    for (id, name) in [("01", "XaOut"), ("02", "XaIn")] {
        let r = dtm.register_branch(&branch(busi, gid, id, name)).await;
        assert_eq!((r.status, &r.body), (200, &success()), "register {id}");
    }
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "prepared");
    assert_eq!(
        branch_keys(&q),
        keys(&[
            ("01", "rollback"),
            ("01", "commit"),
            ("02", "rollback"),
            ("02", "commit")
        ])
    );
    for (i, name) in ["XaOut", "XaOut", "XaIn", "XaIn"].iter().enumerate() {
        assert_eq!(q["branches"][i]["url"], busi.url(name), "row {i}");
        assert!(
            q["branches"][i].get("bin_data").is_none(),
            "row {i}: no data"
        );
    }
    assert_eq!(statuses(&q), strs(&["prepared"; 4]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_commits_in_stored_order() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "xa-ok";
    prepare_two(&dtm, &busi, gid, json!({})).await;
    assert!(busi.calls(gid).is_empty());

    let r = dtm.submit(&xa(gid, json!({"wait_result": true}))).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "succeed");
    assert_eq!(q["transaction"]["trans_type"], "xa");
    assert!(q["transaction"]["finish_time"].is_string());
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    check_call(&calls[0], gid, "XaOut", "01", "commit");
    check_call(&calls[1], gid, "XaIn", "02", "commit");
    assert!(calls[1].start > calls[0].end.expect("done"));

    let r = dtm.abort(&xa(gid, json!({}))).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(dtm.query(gid).await, q, "a refused abort changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_rolls_back() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "xa-abort";
    prepare_two(&dtm, &busi, gid, json!({"wait_result": true})).await;
    let r = dtm
        .abort(&xa(gid, json!({"rollback_reason": "XaIn action failed"})))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert_eq!(q["transaction"]["rollback_reason"], "XaIn action failed");
    assert!(q["transaction"]["rollback_time"].is_string());
    assert_eq!(
        statuses(&q),
        strs(&["succeed", "prepared", "succeed", "prepared"])
    );
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    check_call(&calls[0], gid, "XaOut", "01", "rollback");
    check_call(&calls[1], gid, "XaIn", "02", "rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_rollback_is_retried_until_done() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "xa-rollback-retry";
    prepare_two(&dtm, &busi, gid, json!({})).await;
    // a FAILURE from a rollback is no result: retried like any error (§1.6)
    busi.plan(gid, "XaOut", [Reply::failure("xa rollback refused")]);
    let r = dtm.abort(&xa(gid, json!({}))).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    eventually(PROMPT, "the failed rollback backs off", || async {
        dtm.query(gid).await["transaction"]["next_cron_interval"] == 20
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "aborting");
    assert_eq!(statuses(&q), strs(&["prepared"; 4]));
    assert_eq!(q["transaction"]["next_cron_interval"], 20, "backoff: {q}");
    assert_eq!(busi.names(gid), strs(&["XaOut"]));

    dtm.forward(21).await;
    let q = dtm.wait_status(gid, "failed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        strs(&["succeed", "prepared", "succeed", "prepared"])
    );
    assert_eq!(busi.names(gid), strs(&["XaOut", "XaOut", "XaIn"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_xa_without_branches_times_out() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "xa-timeout";
    let r = dtm.prepare(&xa(gid, json!({}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    dtm.forward(40).await;
    let q = dtm.wait_status(gid, "failed", PROMPT).await;
    assert_eq!(
        q["transaction"]["rollback_reason"],
        "Timeout after 0 seconds"
    );
    assert!(q["transaction"]["rollback_time"].is_string());
    assert_eq!(q["branches"], json!([]));
    let r = dtm
        .register_branch(&branch(&busi, gid, "01", "XaOut"))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(dtm.query(gid).await, q);
    assert!(busi.all_calls().is_empty());

    // with its own timeout_to_fail the reason names it
    let gid = "xa-timeout-own";
    let r = dtm.prepare(&xa(gid, json!({"timeout_to_fail": 5}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = dtm
        .register_branch(&branch(&busi, gid, "01", "XaOut"))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    dtm.forward(6).await;
    let q = dtm.wait_status(gid, "failed", PROMPT).await;
    assert_eq!(
        q["transaction"]["rollback_reason"],
        "Timeout after 5 seconds"
    );
    assert_eq!(statuses(&q), strs(&["succeed", "prepared"]));
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    check_call(&calls[0], gid, "XaOut", "01", "rollback");
}
