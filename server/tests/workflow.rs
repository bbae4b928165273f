//! Workflow conformance, server side (PROTOCOL.md §1.3 prepareWorkflow / registerBranch,
//! §4.6, §5.4).

mod common;

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

const INPUT: &str = r#"{"amount":30,"user":"ü-1"}"#;

/// What the Go workflow client sends to `prepareWorkflow`.
fn wf(busi: &Busi, gid: &str, name: &str, input: &str) -> Value {
    json!({
        "gid": gid,
        "trans_type": "workflow",
        "protocol": "",
        "concurrent": false,
        "query_prepared": busi.url("WfResume"),
        "custom_data": json!({"name": name, "data": b64(input.as_bytes())}).to_string(),
    })
}

async fn prepare_workflow(dtm: &Dtmx, body: &Value) -> Resp {
    dtm.post("/api/dtmsvr/prepareWorkflow", body).await
}

/// A progress row as the workflow client records it.
fn progress(gid: &str, branch_id: &str, op: &str, status: &str, data: &str) -> Value {
    json!({"gid": gid, "trans_type": "workflow", "branch_id": branch_id, "op": op,
           "status": status, "data": data})
}

fn workflow_submit(gid: &str, req_extra: Value) -> Value {
    json!({"gid": gid, "trans_type": "workflow", "concurrent": false, "protocol": "",
           "req_extra": req_extra})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_register_and_replay_progress() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "wf-progress";
    let body = wf(&busi, gid, "wf1", INPUT);
    let r = prepare_workflow(&dtm, &body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.content_type.starts_with("application/json"), "{r:?}");
    let t = &r.body["transaction"];
    assert_eq!(t["gid"], gid);
    assert_eq!(t["status"], "prepared");
    assert_eq!(t["trans_type"], "workflow");
    assert_eq!(t["protocol"], "http");
    assert_eq!(t["query_prepared"], busi.url("WfResume"));
    assert_eq!(t["custom_data"], body["custom_data"]);
    assert!(t["create_time"].is_string());
    assert_eq!(r.body["progresses"], json!([]));
    assert_eq!(
        r.body.as_object().map(|o| o.len()),
        Some(2),
        "only transaction and progresses: {:?}",
        r.body
    );
    let q = dtm.query(gid).await;
    assert_eq!(&q["transaction"], t, "the reply is the stored transaction");
    assert_eq!(q["branches"], json!([]));

    // the client records its progress
    let rows = [
        ("01", "action", "succeed", r#"{"balance":70}"#),
        ("02", "action", "failed", "insufficient balance"),
        ("01", "rollback", "succeed", ""),
    ];
    for (id, op, status, data) in rows {
        let r = dtm
            .register_branch(&progress(gid, id, op, status, data))
            .await;
        assert_eq!((r.status, &r.body), (200, &success()), "{id}-{op}");
    }

    // a second prepareWorkflow (the client re-running) returns the stored state, whatever
    // it sends this time
    let again = wf(&busi, gid, "other-name", "other input");
    let r = prepare_workflow(&dtm, &again).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["transaction"]["custom_data"], body["custom_data"]);
    assert_eq!(r.body["transaction"]["status"], "prepared");
    let p = r.body["progresses"].as_array().expect("progresses").clone();
    assert_eq!(p.len(), 3, "{p:#?}");
    for (row, (id, op, status, data)) in p.iter().zip(rows) {
        assert_eq!(row["gid"], gid);
        assert_eq!(row["branch_id"], id);
        assert_eq!(row["op"], op);
        assert_eq!(row["status"], status);
        if data.is_empty() {
            assert!(row.get("bin_data").is_none(), "{row}");
        } else {
            assert_eq!(row["bin_data"], b64(data.as_bytes()), "{row}");
        }
    }
    assert!(p[0]["finish_time"].is_string(), "{}", p[0]);
    assert!(p[1]["rollback_time"].is_string(), "{}", p[1]);
    let q = dtm.query(gid).await;
    assert_eq!(q["branches"], r.body["progresses"]);

    // a duplicate progress (same branch_id and op) is a 500 and changes nothing
    let r = dtm
        .register_branch(&progress(gid, "01", "action", "failed", "changed my mind"))
        .await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(r.body.get("dtm_result").is_none(), "{:?}", r.body);
    assert!(!r.message().is_empty());
    // a progress without op or with an unknown status is refused
    for bad in [
        progress(gid, "03", "", "succeed", "x"),
        progress(gid, "03", "action", "", "x"),
        progress(gid, "03", "action", "done", "x"),
    ] {
        let r = dtm.register_branch(&bad).await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
    assert_eq!(dtm.query(gid).await, q, "nothing changed");
    assert!(busi.all_calls().is_empty(), "the server calls nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_succeed_and_failed() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;

    let gid = "wf-succeed";
    assert_eq!(
        prepare_workflow(&dtm, &wf(&busi, gid, "wf1", INPUT))
            .await
            .status,
        200
    );
    let r = dtm
        .register_branch(&progress(gid, "01", "action", "succeed", "ok"))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let result = b64(br#"{"done":true}"#);
    let r = dtm
        .submit(&workflow_submit(
            gid,
            json!({"status": "succeed", "rollback_reason": "", "result": result}),
        ))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    let t = &q["transaction"];
    assert_eq!(t["status"], "succeed");
    assert_eq!(t["result"], result);
    assert!(t["finish_time"].is_string(), "{t}");
    assert!(t.get("rollback_reason").is_none(), "{t}");
    // the workflow's own data survives the submit
    assert_eq!(t["query_prepared"], busi.url("WfResume"));
    assert!(t["custom_data"]
        .as_str()
        .unwrap_or_default()
        .contains("wf1"));
    assert_eq!(statuses(&q), strs(&["succeed"]));
    // prepareWorkflow of the finished workflow returns it with its result
    let r = prepare_workflow(&dtm, &wf(&busi, gid, "wf1", INPUT)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["transaction"]["status"], "succeed");
    assert_eq!(r.body["transaction"]["result"], result);
    assert_eq!(r.body["progresses"].as_array().map(Vec::len), Some(1));

    // submit or progress of a finished workflow: refused, nothing changes
    let r = dtm
        .submit(&workflow_submit(
            gid,
            json!({"status": "failed", "rollback_reason": "x"}),
        ))
        .await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(r.body.get("dtm_result").is_none(), "{:?}", r.body);
    let r = dtm
        .register_branch(&progress(gid, "02", "action", "succeed", ""))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(dtm.query(gid).await, q);

    let gid = "wf-failed";
    assert_eq!(
        prepare_workflow(&dtm, &wf(&busi, gid, "wf1", INPUT))
            .await
            .status,
        200
    );
    let r = dtm
        .submit(&workflow_submit(
            gid,
            json!({"status": "failed", "rollback_reason": "insufficient balance FAILURE",
                   "result": ""}),
        ))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    let t = &q["transaction"];
    assert_eq!(t["status"], "failed");
    assert_eq!(t["rollback_reason"], "insufficient balance FAILURE");
    assert!(t["rollback_time"].is_string(), "{t}");
    assert!(t.get("result").is_none(), "{t}");
    assert!(t.get("finish_time").is_none(), "{t}");

    // submit of an unknown workflow: 500, nothing created
    let r = dtm
        .submit(&workflow_submit("wf-ghost", json!({"status": "succeed"})))
        .await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    dtm.assert_absent("wf-ghost").await;
    assert!(busi.all_calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_needs_a_final_status() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "wf-bad-submit";
    assert_eq!(
        prepare_workflow(&dtm, &wf(&busi, gid, "wf1", INPUT))
            .await
            .status,
        200
    );
    let before = dtm.query(gid).await;
    for extra in [
        json!({}),
        json!({"status": ""}),
        json!({"status": "done"}),
        json!({"status": "prepared"}),
        json!({"status": "submitted"}),
        json!({"rollback_reason": "x", "result": "eA=="}),
    ] {
        let r = dtm.submit(&workflow_submit(gid, extra.clone())).await;
        assert_eq!(r.status, 400, "{extra}: {:?}", r.body);
        assert!(r.message().contains("req_extra.status"), "{:?}", r.body);
    }
    let mut no_extra = workflow_submit(gid, json!(null));
    no_extra
        .as_object_mut()
        .expect("object")
        .remove("req_extra");
    let r = dtm.submit(&no_extra).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(dtm.query(gid).await, before, "nothing changed");
    // still submittable
    let r = dtm
        .submit(&workflow_submit(gid, json!({"status": "succeed"})))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    assert_eq!(dtm.status(gid).await, "succeed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_resumes_until_submitted() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "wf-resume";
    let r = prepare_workflow(&dtm, &wf(&busi, gid, "wf1", INPUT)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = dtm
        .register_branch(&progress(gid, "01", "action", "succeed", "ok"))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // not before RetryInterval (10 s)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(busi.calls(gid).is_empty());

    // the callback's answer is not interpreted: an error does not back off
    busi.plan(gid, "WfResume", [Reply::error()]);
    dtm.forward(11).await;
    let calls = busi.wait_calls(gid, 1, PROMPT).await;
    let c = &calls[0];
    assert_eq!(c.method, "POST", "{c:?}");
    assert_eq!(c.name, "WfResume");
    assert_eq!(c.body_str(), INPUT, "the decoded workflow input");
    assert_eq!(c.q("gid"), gid);
    assert_eq!(c.q("trans_type"), "workflow");
    assert_eq!(c.q("branch_id"), "00");
    assert_eq!(c.q("op"), "wf1");
    assert_eq!(c.query.len(), 4, "{:?}", c.query);

    dtm.forward(11).await;
    let calls = busi.wait_calls(gid, 2, PROMPT).await;
    assert_eq!(calls[1].body_str(), INPUT);
    assert_eq!(calls[1].q("op"), "wf1");
    let q = dtm.query(gid).await;
    assert_eq!(
        q["transaction"]["status"], "prepared",
        "resuming changes nothing"
    );
    assert_eq!(statuses(&q), strs(&["succeed"]));
    assert!(q["transaction"].get("rollback_reason").is_none());

    // no timeout for workflows: an hour later it is still resumed, not failed
    dtm.forward(3600).await;
    let calls = busi.wait_calls(gid, 3, PROMPT).await;
    assert_eq!(calls.len(), 3, "{calls:#?}");
    assert_eq!(dtm.status(gid).await, "prepared");

    let r = dtm
        .submit(&workflow_submit(gid, json!({"status": "succeed"})))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    dtm.forward(11).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    dtm.forward(11).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(busi.calls(gid).len(), 3, "not resumed after the submit");
    assert_eq!(dtm.status(gid).await, "succeed");

    // an empty input is resumed with a GET and no body
    let gid = "wf-resume-empty";
    let r = prepare_workflow(&dtm, &wf(&busi, gid, "wf2", "")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    dtm.forward(11).await;
    let calls = busi.wait_calls(gid, 1, PROMPT).await;
    assert_eq!(calls[0].method, "GET", "{:?}", calls[0]);
    assert!(calls[0].body.is_empty());
    assert_eq!(calls[0].q("op"), "wf2");
    assert_eq!(calls[0].q("branch_id"), "00");
}
