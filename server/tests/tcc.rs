//! TCC conformance (PROTOCOL.md §1.3 registerBranch, §1.5, §4.4, §5.1, §5.5, §10).

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

/// A TCC prepare/submit/abort body as the Go SDK sends it.
fn tcc(gid: &str, extra: Value) -> Value {
    global(gid, "tcc", extra)
}

/// A registerBranch body for a TCC branch with `<name>Confirm` / `<name>Cancel` URLs.
fn branch(busi: &Busi, gid: &str, id: &str, name: &str, data: &str) -> Value {
    json!({
        "gid": gid,
        "trans_type": "tcc",
        "branch_id": id,
        "data": data,
        "confirm": busi.url(&format!("{name}Confirm")),
        "cancel": busi.url(&format!("{name}Cancel")),
    })
}

/// Asserts how the server called a phase-2 branch: POST (the payload is not empty),
/// exactly the four DTM query parameters, the registration data as body.
fn check_call(c: &Call, gid: &str, name: &str, branch_id: &str, op: &str, body: &str) {
    assert_eq!(c.method, "POST", "{c:?}");
    assert_eq!(c.name, name, "{c:?}");
    assert_eq!(c.gid(), gid, "{c:?}");
    assert_eq!(c.q("trans_type"), "tcc", "{c:?}");
    assert_eq!(c.q("branch_id"), branch_id, "{c:?}");
    assert_eq!(c.q("op"), op, "{c:?}");
    assert_eq!(
        c.query.len(),
        4,
        "exactly gid, trans_type, branch_id, op: {:?}",
        c.query
    );
    assert_eq!(c.body_str(), body, "{c:?}");
    assert_eq!(
        c.headers.get("content-type").map(String::as_str),
        Some("application/json"),
        "{c:?}"
    );
}

fn keys(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

const D1: &str = r#"{"amount":30,"from":"a"}"#;
const D2: &str = r#"{"amount":30,"to":"b"}"#;

/// Prepares `gid` and registers two branches (TransOut 01, TransIn 02).
async fn prepare_two(dtm: &Dtmx, busi: &Busi, gid: &str, extra: Value) {
    let r = dtm.prepare(&tcc(gid, extra)).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    for (id, name, data) in [("01", "TransOut", D1), ("02", "TransIn", D2)] {
        let r = dtm
            .register_branch(&branch(busi, gid, id, name, data))
            .await;
        assert_eq!((r.status, &r.body), (200, &success()), "register {id}");
    }
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "prepared");
    assert_eq!(
        branch_keys(&q),
        keys(&[
            ("01", "cancel"),
            ("01", "confirm"),
            ("02", "cancel"),
            ("02", "confirm")
        ])
    );
    assert_eq!(statuses(&q), strs(&["prepared"; 4]));
    assert!(busi.calls(gid).is_empty(), "nothing called before phase 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_confirms_last_registered_first() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "tcc-ok";
    prepare_two(&dtm, &busi, gid, json!({})).await;

    let r = dtm.submit(&tcc(gid, json!({"wait_result": true}))).await;
    assert_eq!((r.status, &r.body), (200, &success()));

    let q = dtm.query(gid).await;
    let t = &q["transaction"];
    assert_eq!(t["status"], "succeed");
    assert_eq!(t["trans_type"], "tcc");
    assert!(t["finish_time"].is_string(), "{t}");
    assert!(t.get("rollback_reason").is_none(), "{t}");
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    let b = &q["branches"];
    assert_eq!(b[0]["url"], busi.url("TransOutCancel"));
    assert_eq!(b[1]["url"], busi.url("TransOutConfirm"));
    assert_eq!(b[2]["url"], busi.url("TransInCancel"));
    assert_eq!(b[3]["url"], busi.url("TransInConfirm"));
    assert!(b[1]["finish_time"].is_string() && b[3]["finish_time"].is_string());
    assert!(b[0].get("finish_time").is_none());

    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    check_call(&calls[0], gid, "TransInConfirm", "02", "confirm", D2);
    check_call(&calls[1], gid, "TransOutConfirm", "01", "confirm", D1);
    assert!(
        calls[1].start > calls[0].end.expect("done"),
        "one at a time"
    );

    // finished: neither abort nor registerBranch nor prepare change anything
    let r = dtm
        .abort(&tcc(gid, json!({"rollback_reason": "late"})))
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            409,
            &json!({"dtm_result": "FAILURE",
                    "message": "trans type: 'tcc' current status 'succeed', cannot abort. FAILURE"})
        )
    );
    let r = dtm
        .register_branch(&branch(&busi, gid, "03", "Late", "{}"))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let r = dtm.prepare(&tcc(gid, json!({}))).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.body["dtm_result"], "FAILURE");
    assert_eq!(dtm.query(gid).await, q, "nothing changed");
    assert_eq!(busi.calls(gid).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_cancels_in_reverse_order() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;

    // stored wait_result (from prepare) makes the abort synchronous
    let gid = "tcc-abort-sync";
    prepare_two(&dtm, &busi, gid, json!({"wait_result": true})).await;
    let reason = "try of TransIn failed: insufficient balance";
    let r = dtm
        .abort(&tcc(gid, json!({"rollback_reason": reason})))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    let t = &q["transaction"];
    assert_eq!(t["status"], "failed");
    assert_eq!(t["rollback_reason"], reason);
    assert!(t["rollback_time"].is_string(), "{t}");
    assert!(t.get("finish_time").is_none(), "{t}");
    assert_eq!(
        statuses(&q),
        strs(&["succeed", "prepared", "succeed", "prepared"])
    );
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    check_call(&calls[0], gid, "TransInCancel", "02", "cancel", D2);
    check_call(&calls[1], gid, "TransOutCancel", "01", "cancel", D1);
    assert!(calls[1].start > calls[0].end.expect("done"));

    // a second abort of the failed transaction is refused and changes nothing
    let r = dtm
        .abort(&tcc(gid, json!({"rollback_reason": "again"})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(dtm.query(gid).await, q);

    // without a stored wait_result the abort answers at once and cancels in the background
    let gid = "tcc-abort-async";
    prepare_two(&dtm, &busi, gid, json!({})).await;
    let r = dtm
        .abort(&tcc(gid, json!({"rollback_reason": "user gave up"})))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.wait_status(gid, "failed", PROMPT).await;
    assert_eq!(q["transaction"]["rollback_reason"], "user gave up");
    assert_eq!(
        statuses(&q),
        strs(&["succeed", "prepared", "succeed", "prepared"])
    );
    assert_eq!(busi.names(gid), strs(&["TransInCancel", "TransOutCancel"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_tcc_times_out_and_is_cancelled() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "tcc-timeout";
    let r = dtm.prepare(&tcc(gid, json!({}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = dtm
        .register_branch(&branch(&busi, gid, "01", "TransOut", D1))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // not due before the server's TimeoutToFail (35 s)
    dtm.forward(11).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(dtm.status(gid).await, "prepared");
    assert!(busi.calls(gid).is_empty());

    dtm.forward(29).await; // 40 s after prepare
    let q = dtm.wait_status(gid, "failed", PROMPT).await;
    // the reason names the transaction's own timeout_to_fail, 0 by default (§4.4)
    assert_eq!(
        q["transaction"]["rollback_reason"],
        "Timeout after 0 seconds"
    );
    assert_eq!(statuses(&q), strs(&["succeed", "prepared"]));
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    check_call(&calls[0], gid, "TransOutCancel", "01", "cancel", D1);

    // the second try comes too late: its registration is refused
    let r = dtm
        .register_branch(&branch(&busi, gid, "02", "TransIn", D2))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"dtm_result": "FAILURE",
               "message": format!("no trans with gid: {gid} status: prepared found FAILURE")})
    );
    assert_eq!(dtm.query(gid).await, q, "nothing added");
    // and so is the client's submit
    let r = dtm.submit(&tcc(gid, json!({"wait_result": true}))).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(dtm.status(gid).await, "failed");
    assert_eq!(busi.calls(gid).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_register_tcc_branch_body() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "tcc-legacy";
    let r = dtm.prepare(&tcc(gid, json!({}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // the pre-1.0 SDK body: branch_id "1", a status and the try URL, all strings
    let legacy = json!({
        "gid": gid,
        "branch_id": "1",
        "trans_type": "tcc",
        "status": "prepared",
        "data": D1,
        "try": busi.url("TransOutTry"),
        "confirm": busi.url("TransOutConfirm"),
        "cancel": busi.url("TransOutCancel"),
    });
    let r = dtm.post("/api/dtmsvr/registerTccBranch", &legacy).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    assert_eq!(branch_keys(&q), keys(&[("1", "cancel"), ("1", "confirm")]));
    assert_eq!(q["branches"][1]["url"], busi.url("TransOutConfirm"));
    assert_eq!(
        q["branches"][1]["bin_data"],
        "eyJhbW91bnQiOjMwLCJmcm9tIjoiYSJ9"
    );
    assert_eq!(q["branches"][0]["bin_data"], q["branches"][1]["bin_data"]);

    let r = dtm.submit(&tcc(gid, json!({"wait_result": true}))).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    assert_eq!(
        dtm.branch_statuses(gid).await,
        strs(&["prepared", "succeed"])
    );
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 1, "the try URL is never called by the server");
    check_call(&calls[0], gid, "TransOutConfirm", "1", "confirm", D1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_branches_confirm_in_reverse_registration_order() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "tcc-nested";
    let r = dtm.prepare(&tcc(gid, json!({}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // branch 01, whose try registers nested 0101 and 0102, then branch 02
    for (id, name) in [
        ("01", "Outer"),
        ("0101", "InnerA"),
        ("0102", "InnerB"),
        ("02", "Second"),
    ] {
        let r = dtm
            .register_branch(&branch(&busi, gid, id, name, &format!(r#"{{"b":"{id}"}}"#)))
            .await;
        assert_eq!(r.status, 200, "{id}: {:?}", r.body);
    }
    let q = dtm.query(gid).await;
    assert_eq!(
        branch_keys(&q),
        keys(&[
            ("01", "cancel"),
            ("01", "confirm"),
            ("0101", "cancel"),
            ("0101", "confirm"),
            ("0102", "cancel"),
            ("0102", "confirm"),
            ("02", "cancel"),
            ("02", "confirm"),
        ])
    );
    let r = dtm.submit(&tcc(gid, json!({"wait_result": true}))).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "succeed");
    assert_eq!(
        statuses(&q),
        strs(&[
            "prepared", "succeed", "prepared", "succeed", "prepared", "succeed", "prepared",
            "succeed"
        ])
    );
    let calls = busi.calls(gid);
    let order: Vec<(String, String)> = calls
        .iter()
        .map(|c| (c.name.clone(), c.q("branch_id").to_string()))
        .collect();
    assert_eq!(
        order,
        keys(&[
            ("SecondConfirm", "02"),
            ("InnerBConfirm", "0102"),
            ("InnerAConfirm", "0101"),
            ("OuterConfirm", "01"),
        ])
    );
    for c in &calls {
        let id = c.q("branch_id").to_string();
        check_call(
            c,
            gid,
            &c.name,
            &id,
            "confirm",
            &format!(r#"{{"b":"{id}"}}"#),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ongoing_confirm_answers_425() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "tcc-ongoing";
    prepare_two(&dtm, &busi, gid, json!({})).await;
    busi.plan(gid, "TransInConfirm", [Reply::ongoing()]);
    let r = dtm.submit(&tcc(gid, json!({"wait_result": true}))).await;
    assert_eq!(r.status, 425, "{:?}", r.body);
    assert_eq!(r.body["dtm_result"], "ONGOING");
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted");
    assert_eq!(statuses(&q), strs(&["prepared"; 4]));
    // ONGOING keeps the interval (no backoff)
    assert_eq!(q["transaction"]["next_cron_interval"], 10, "{q}");
    assert_eq!(
        busi.names(gid),
        strs(&["TransInConfirm"]),
        "stops at the first"
    );

    dtm.forward(11).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    assert_eq!(
        busi.names(gid),
        strs(&["TransInConfirm", "TransInConfirm", "TransOutConfirm"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_confirm_is_retried_by_the_cron() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "tcc-confirm-error";
    prepare_two(&dtm, &busi, gid, json!({})).await;
    busi.plan(gid, "TransOutConfirm", [Reply::error()]);
    let r = dtm.submit(&tcc(gid, json!({"wait_result": true}))).await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(r.body.get("dtm_result").is_none(), "{:?}", r.body);
    assert!(!r.message().is_empty());
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted");
    // 02 confirmed, 01 not yet; the error doubled the interval
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "prepared", "prepared", "succeed"])
    );
    assert_eq!(q["transaction"]["next_cron_interval"], 20, "{q}");

    dtm.forward(21).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    // the confirmed branch is not confirmed again
    assert_eq!(
        busi.names(gid),
        strs(&["TransInConfirm", "TransOutConfirm", "TransOutConfirm"])
    );
    let calls = busi.calls(gid);
    check_call(&calls[2], gid, "TransOutConfirm", "01", "confirm", D1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_change_nothing() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;

    // abort of an unknown gid: 500, nothing created
    let r = dtm
        .abort(&tcc("tcc-ghost", json!({"rollback_reason": "x"})))
        .await;
    assert_eq!(
        (r.status, &r.body),
        (
            500,
            &json!({"message": "no TransGlobal with gid: tcc-ghost found"})
        )
    );
    dtm.assert_absent("tcc-ghost").await;
    // registerBranch of an unknown gid: 409, nothing created
    let r = dtm
        .register_branch(&branch(&busi, "tcc-ghost", "01", "X", "{}"))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    dtm.assert_absent("tcc-ghost").await;

    let gid = "tcc-bad";
    let r = dtm.prepare(&tcc(gid, json!({}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let before = dtm.query(gid).await;
    let good = branch(&busi, gid, "01", "TransOut", D1);

    // a non-string value: 400 from the binder
    for (key, bad) in [
        ("branch_id", json!(1)),
        ("data", json!({"amount": 30})),
        ("cancel", json!(["x"])),
        ("confirm", json!(false)),
        ("trans_type", json!(3.5)),
    ] {
        let mut b = good.clone();
        b[key] = bad;
        let r = dtm.register_branch(&b).await;
        assert_eq!(r.status, 400, "{key}: {:?}", r.body);
        assert!(r.body.get("dtm_result").is_none(), "{:?}", r.body);
        assert!(r.message().contains("string"), "{:?}", r.body);
    }
    // no gid or no branch_id (absent or empty): 400
    for key in ["gid", "branch_id"] {
        for empty in [None, Some("")] {
            let mut b = good.clone();
            match empty {
                None => {
                    b.as_object_mut().expect("object").remove(key);
                }
                Some(v) => b[key] = json!(v),
            }
            let r = dtm.register_branch(&b).await;
            assert_eq!(r.status, 400, "{key} {empty:?}: {:?}", r.body);
            assert_eq!(
                r.body,
                json!({"message": "registerBranch needs gid and branch_id"})
            );
        }
    }
    assert_eq!(dtm.query(gid).await, before, "nothing written");
    assert_eq!(before["branches"], json!([]));
    assert!(busi.all_calls().is_empty());

    // the good registration still works afterwards
    let r = dtm.register_branch(&good).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    assert_eq!(dtm.branch_statuses(gid).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_failure_is_only_retried() {
    // a FAILURE from confirm cannot fail a TCC: it is retried like any error (§4.4)
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "tcc-confirm-failure";
    prepare_two(&dtm, &busi, gid, json!({})).await;
    busi.plan(gid, "TransInConfirm", [Reply::failure("not now")]);
    let r = dtm.submit(&tcc(gid, json!({"wait_result": true}))).await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted");
    assert!(q["transaction"].get("rollback_reason").is_none(), "{q}");
    assert_eq!(statuses(&q), strs(&["prepared"; 4]));
    assert_eq!(q["transaction"]["next_cron_interval"], 20, "{q}");
    assert_eq!(busi.names(gid), strs(&["TransInConfirm"]));
    assert!(busi.calls_of(gid, "TransInCancel").is_empty());

    dtm.forward(21).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    assert_eq!(
        busi.names(gid),
        strs(&["TransInConfirm", "TransInConfirm", "TransOutConfirm"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborting_tcc_can_be_aborted_again() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "tcc-abort-twice";
    prepare_two(&dtm, &busi, gid, json!({"wait_result": true})).await;
    busi.plan(gid, "TransOutCancel", [Reply::error()]);
    let r = dtm
        .abort(&tcc(gid, json!({"rollback_reason": "first reason"})))
        .await;
    assert_eq!(r.status, 500, "the cancel is not done yet: {:?}", r.body);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "aborting");
    assert_eq!(q["transaction"]["rollback_reason"], "first reason");
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "prepared", "succeed", "prepared"])
    );
    // a submit cannot turn an aborting TCC around
    let r = dtm.submit(&tcc(gid, json!({"wait_result": true}))).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(dtm.status(gid).await, "aborting");

    // the client's retried abort finishes the rollback; the first reason stays
    let r = dtm
        .abort(&tcc(gid, json!({"rollback_reason": "second reason"})))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert_eq!(q["transaction"]["rollback_reason"], "first reason");
    assert_eq!(
        statuses(&q),
        strs(&["succeed", "prepared", "succeed", "prepared"])
    );
    assert_eq!(
        busi.names(gid),
        strs(&["TransInCancel", "TransOutCancel", "TransOutCancel"])
    );
    assert!(busi.calls_of(gid, "TransInConfirm").is_empty());
}
