//! The gRPC front door and gRPC branches (PROTOCOL.md §2): sagas, messages, TCC, XA and
//! workflows driven through `dtmgimp.Dtm` against the real binary, with a real tonic
//! business service; outcomes read back through the HTTP `query`.

mod common;
mod grpc_busi;

use common::*;
use dtmx_server::api::grpc::pb::dtmgimp::{
    DtmBranchRequest, DtmRequest, DtmTopicRequest, DtmTransOptions,
};
use grpc_busi::*;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tonic::Code;

/// A gRPC saga of `(action, compensate)` methods with one payload per step.
fn saga(busi: &GrpcBusi, gid: &str, steps: &[(&str, &str)], payloads: Vec<Vec<u8>>) -> DtmRequest {
    let steps: Vec<_> = steps
        .iter()
        .map(|(a, c)| json!({"action": busi.url(a), "compensate": busi.url(c)}))
        .collect();
    DtmRequest {
        gid: gid.into(),
        trans_type: "saga".into(),
        steps: serde_json::Value::from(steps).to_string(),
        bin_payloads: payloads,
        ..Default::default()
    }
}

/// The two-step transfer: TransOut / TransOutRevert, TransIn / TransInRevert.
fn transfer(busi: &GrpcBusi, gid: &str) -> DtmRequest {
    saga(
        busi,
        gid,
        &[("TransOut", "TransOutRevert"), ("TransIn", "TransInRevert")],
        vec![BusiReq::bytes(30, "alice"), BusiReq::bytes(30, "bob")],
    )
}

fn waiting(mut req: DtmRequest) -> DtmRequest {
    let mut o = req.trans_options.take().unwrap_or_default();
    o.wait_result = true;
    req.trans_options = Some(o);
    req
}

/// Asserts the branch identity dtm sent as metadata.
fn check_md(c: &GrpcCall, gid: &str, trans_type: &str, branch_id: &str, op: &str) {
    assert_eq!(c.md("dtm-gid"), gid, "{c:?}");
    assert_eq!(c.md("dtm-trans_type"), trans_type, "{c:?}");
    assert_eq!(c.md("dtm-branch_id"), branch_id, "{c:?}");
    assert_eq!(c.md("dtm-op"), op, "{c:?}");
    assert!(c.metadata.contains_key("dtm-dtm"), "dtm-dtm is sent: {c:?}");
    assert_eq!(c.md("dtm-dtm"), "", "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_gid_over_grpc() {
    let dtm = Dtmx::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let a = client.new_gid(()).await.expect("NewGid").into_inner().gid;
    let b = client.new_gid(()).await.expect("NewGid").into_inner().gid;
    assert_eq!(a.len(), 22, "{a}");
    assert_ne!(a, b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_succeeds_with_raw_payloads_and_metadata() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let gid = "grpc-saga-ok";
    let mut req = waiting(transfer(&busi, gid));
    if let Some(o) = req.trans_options.as_mut() {
        o.branch_headers = HashMap::from([("x-tenant".to_string(), "t1".to_string())]);
    }
    client.submit(req).await.expect("submit succeeds");

    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "succeed", "{q}");
    assert_eq!(q["transaction"]["protocol"], "grpc", "{q}");
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    let calls = busi.calls(gid);
    assert_eq!(busi.methods(gid), strs(&["TransOut", "TransIn"]));
    check_md(&calls[0], gid, "saga", "01", "action");
    check_md(&calls[1], gid, "saga", "02", "action");
    assert_eq!(calls[0].path, "/busi.Busi/TransOut");
    assert_eq!(
        calls[0].body,
        BusiReq::bytes(30, "alice"),
        "payload verbatim"
    );
    assert_eq!(calls[1].body, BusiReq::bytes(30, "bob"));
    let decoded: BusiReq = prost::Message::decode(&calls[1].body[..]).expect("protobuf body");
    assert_eq!((decoded.amount, decoded.user.as_str()), (30, "bob"));
    for c in &calls {
        assert_eq!(c.md("x-tenant"), "t1", "branch_headers as metadata: {c:?}");
    }
    let metrics = dtm.get("/api/metrics").await.body;
    let metrics = metrics.as_str().unwrap_or_default();
    for line in [
        r#"dtm_server_process_total{type="grpc",api="submit",status="ok"} 1"#,
        r#"dtm_branch_process_total{model="saga",branchid="02",branchtype="action",status="ok"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_failure_compensates_in_reverse() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let gid = "grpc-saga-rollback";
    busi.plan(gid, "TransIn", [Answer::failure("insufficient balance")]);
    let err = client
        .submit(waiting(transfer(&busi, gid)))
        .await
        .expect_err("a rolled back saga is not a success");
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert!(err.message().contains("insufficient balance"), "{err:?}");

    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed", "{q}");
    assert_eq!(
        statuses(&q),
        strs(&["succeed", "succeed", "succeed", "failed"])
    );
    assert!(q["transaction"]["rollback_reason"]
        .as_str()
        .unwrap_or_default()
        .contains("insufficient balance"));
    assert_eq!(
        busi.methods(gid),
        strs(&["TransOut", "TransIn", "TransInRevert", "TransOutRevert"])
    );
    let calls = busi.calls(gid);
    check_md(&calls[2], gid, "saga", "02", "compensate");
    check_md(&calls[3], gid, "saga", "01", "compensate");
    assert_eq!(calls[3].body, BusiReq::bytes(30, "alice"), "same payload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_retries_errors_and_ongoing_replies() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let gid = "grpc-saga-retry";
    // Unavailable is an error (backoff), FailedPrecondition and the legacy Aborted
    // "ONGOING" are ongoing: none of them fails the saga
    busi.plan(gid, "TransOut", [Answer::error()]);
    busi.plan(
        gid,
        "TransIn",
        [Answer::ongoing(), Answer::legacy_ongoing()],
    );
    let err = client
        .submit(waiting(transfer(&busi, gid)))
        .await
        .expect_err("not finished in the first pass");
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert_eq!(dtm.status(gid).await, "submitted");
    assert_eq!(busi.methods(gid), strs(&["TransOut"]));

    // after the backoff (20 s): TransOut succeeds, TransIn is ongoing (interval kept)
    dtm.forward(21).await;
    busi.wait_calls(gid, 3, PROMPT).await;
    dtm.forward(11).await;
    busi.wait_calls(gid, 4, PROMPT).await;
    assert_eq!(dtm.status(gid).await, "submitted");
    dtm.forward(11).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    assert_eq!(
        busi.methods(gid),
        strs(&["TransOut", "TransOut", "TransIn", "TransIn", "TransIn"])
    );
    assert!(q["transaction"].get("rollback_reason").is_none(), "{q}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_branch_hits_the_request_timeout_and_is_retried() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let gid = "grpc-saga-deadline";
    busi.plan(
        gid,
        "TransOut",
        [Answer::ok().after(Duration::from_secs(3))],
    );
    let mut req = waiting(transfer(&busi, gid));
    if let Some(o) = req.trans_options.as_mut() {
        o.request_timeout = 1;
    }
    let err = client.submit(req).await.expect_err("the deadline passed");
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted", "{q}");
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "prepared", "prepared", "prepared"])
    );

    dtm.forward(21).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_prepare_check_back_and_delivery() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let msg = |gid: &str| DtmRequest {
        gid: gid.into(),
        trans_type: "msg".into(),
        steps: json!([{"action": busi.url("TransOut")}, {"action": busi.url("TransIn")}])
            .to_string(),
        bin_payloads: vec![BusiReq::bytes(1, "a"), BusiReq::bytes(2, "b")],
        query_prepared: busi.url("QueryPrepared"),
        ..Default::default()
    };
    // committed locally: the check-back says OK (after one ongoing), the msg is delivered
    let ok = "grpc-msg-committed";
    busi.plan(ok, "QueryPrepared", [Answer::ongoing()]);
    client.prepare(msg(ok)).await.expect("prepare");
    client
        .prepare(msg(ok))
        .await
        .expect("prepare is idempotent");
    // rolled back locally: the check-back says Aborted, the msg fails undelivered
    let rolled = "grpc-msg-rolled-back";
    busi.plan(rolled, "QueryPrepared", [Answer::failure("rolled back")]);
    client.prepare(msg(rolled)).await.expect("prepare");
    assert!(busi.calls(ok).is_empty());

    dtm.forward(40).await;
    let q = dtm.wait_status(rolled, "failed", PROMPT).await;
    assert_eq!(statuses(&q), strs(&["prepared", "prepared"]));
    assert_eq!(busi.methods(rolled), strs(&["QueryPrepared"]));
    busi.wait_calls(ok, 1, PROMPT).await;
    dtm.forward(11).await;
    let q = dtm.wait_status(ok, "succeed", PROMPT).await;
    assert_eq!(statuses(&q), strs(&["succeed", "succeed"]));
    let calls = busi.calls(ok);
    assert_eq!(
        busi.methods(ok),
        strs(&["QueryPrepared", "QueryPrepared", "TransOut", "TransIn"])
    );
    check_md(&calls[0], ok, "msg", "00", "msg");
    assert!(calls[0].body.is_empty(), "the check-back has no body");
    check_md(&calls[2], ok, "msg", "01", "action");
    assert_eq!(calls[3].body, BusiReq::bytes(2, "b"));

    // a direct submit delivers at once; a failing delivery is retried, never failed
    let direct = "grpc-msg-direct";
    busi.plan(direct, "TransIn", [Answer::failure("not yet")]);
    let mut req = waiting(msg(direct));
    req.query_prepared.clear();
    client
        .submit(req)
        .await
        .expect_err("a delivery was refused");
    assert_eq!(dtm.status(direct).await, "submitted");
    dtm.forward(21).await;
    dtm.wait_status(direct, "succeed", PROMPT).await;
    assert_eq!(
        busi.methods(direct),
        strs(&["TransOut", "TransIn", "TransIn"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_abort_over_grpc_fails_the_prepared_msg() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let gid = "grpc-msg-abort";
    let req = DtmRequest {
        gid: gid.into(),
        trans_type: "msg".into(),
        steps: json!([{"action": busi.url("TransOut")}]).to_string(),
        bin_payloads: vec![BusiReq::bytes(1, "a")],
        query_prepared: busi.url("QueryPrepared"),
        ..Default::default()
    };
    client.prepare(req.clone()).await.expect("prepare");
    client.abort(req.clone()).await.expect("abort");
    assert_eq!(dtm.status(gid).await, "failed");
    let err = client
        .submit(req)
        .await
        .expect_err("failed msgs stay failed");
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert!(busi.calls(gid).is_empty());
}

/// A tcc or xa global request.
fn global(gid: &str, trans_type: &str) -> DtmRequest {
    DtmRequest {
        gid: gid.into(),
        trans_type: trans_type.into(),
        steps: "null".into(),
        ..Default::default()
    }
}

fn tcc_branch(
    busi: &GrpcBusi,
    gid: &str,
    branch_id: &str,
    name: &str,
    payload: Vec<u8>,
) -> DtmBranchRequest {
    DtmBranchRequest {
        gid: gid.into(),
        trans_type: "tcc".into(),
        branch_id: branch_id.into(),
        op: "try".into(),
        data: HashMap::from([
            ("confirm".to_string(), busi.url(&format!("{name}Confirm"))),
            ("cancel".to_string(), busi.url(&format!("{name}Cancel"))),
        ]),
        busi_payload: payload,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcc_confirms_last_to_first_with_the_try_payload() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let gid = "grpc-tcc-ok";
    client.prepare(global(gid, "tcc")).await.expect("prepare");
    for (bid, name, amount) in [("01", "TransOut", 30), ("02", "TransIn", 30)] {
        client
            .register_branch(tcc_branch(
                &busi,
                gid,
                bid,
                name,
                BusiReq::bytes(amount, name),
            ))
            .await
            .expect("register");
    }
    // the first confirm errors once: retried by the cron
    busi.plan(gid, "TransInConfirm", [Answer::error()]);
    client
        .submit(waiting(global(gid, "tcc")))
        .await
        .expect_err("a confirm is pending");
    dtm.forward(21).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    assert_eq!(
        busi.methods(gid),
        strs(&["TransInConfirm", "TransInConfirm", "TransOutConfirm"])
    );
    let calls = busi.calls(gid);
    check_md(&calls[1], gid, "tcc", "02", "confirm");
    assert_eq!(calls[1].body, BusiReq::bytes(30, "TransIn"));
    check_md(&calls[2], gid, "tcc", "01", "confirm");
    assert_eq!(calls[2].body, BusiReq::bytes(30, "TransOut"));
    // the branches keep the binary payload
    assert!(q["branches"][0]["bin_data"].is_string(), "{q}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcc_abort_cancels_and_refuses_late_branches() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let gid = "grpc-tcc-abort";
    // the stored wait_result decides whether the abort waits for the cancels
    client
        .prepare(waiting(global(gid, "tcc")))
        .await
        .expect("prepare");
    client
        .register_branch(tcc_branch(
            &busi,
            gid,
            "01",
            "TransOut",
            BusiReq::bytes(5, "a"),
        ))
        .await
        .expect("register");
    let mut abort = waiting(global(gid, "tcc"));
    abort.rollback_reason = "try of TransIn failed".into();
    client.abort(abort).await.expect("abort rolls back");
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed", "{q}");
    assert_eq!(q["transaction"]["rollback_reason"], "try of TransIn failed");
    assert_eq!(statuses(&q), strs(&["succeed", "prepared"]));
    assert_eq!(busi.methods(gid), strs(&["TransOutCancel"]));
    check_md(&busi.calls(gid)[0], gid, "tcc", "01", "cancel");

    let err = client
        .register_branch(tcc_branch(
            &busi,
            gid,
            "02",
            "TransIn",
            BusiReq::bytes(5, "b"),
        ))
        .await
        .expect_err("the transaction is no longer prepared");
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert!(err.message().ends_with("FAILURE"), "{err:?}");
}

fn xa_branch(busi: &GrpcBusi, gid: &str, branch_id: &str) -> DtmBranchRequest {
    DtmBranchRequest {
        gid: gid.into(),
        trans_type: "xa".into(),
        branch_id: branch_id.into(),
        data: HashMap::from([("url".to_string(), busi.url("XaPhase2"))]),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xa_commits_and_rolls_back_over_grpc() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;

    let gid = "grpc-xa-commit";
    client.prepare(global(gid, "xa")).await.expect("prepare");
    for bid in ["01", "02"] {
        client
            .register_branch(xa_branch(&busi, gid, bid))
            .await
            .expect("register");
    }
    busi.plan(gid, "XaPhase2", [Answer::ongoing()]);
    let err = client
        .submit(waiting(global(gid, "xa")))
        .await
        .expect_err("an ongoing commit is reported");
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    dtm.forward(11).await;
    let q = dtm.wait_status(gid, "succeed", PROMPT).await;
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 3, "{calls:#?}");
    check_md(&calls[1], gid, "xa", "01", "commit");
    check_md(&calls[2], gid, "xa", "02", "commit");
    assert!(
        calls.iter().all(|c| c.body.is_empty()),
        "phase 2 has no body"
    );

    let gid = "grpc-xa-rollback";
    client
        .prepare(waiting(global(gid, "xa")))
        .await
        .expect("prepare");
    client
        .register_branch(xa_branch(&busi, gid, "01"))
        .await
        .expect("register");
    client
        .abort(waiting(global(gid, "xa")))
        .await
        .expect("abort rolls back");
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed", "{q}");
    assert_eq!(statuses(&q), strs(&["succeed", "prepared"]));
    check_md(&busi.calls(gid)[0], gid, "xa", "01", "rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_progress_and_grpc_resume() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let gid = "grpc-wf";
    let req = DtmRequest {
        gid: gid.into(),
        trans_type: "workflow".into(),
        customed_data: json!({"name": "transfer", "data": "aW5wdXQ="}).to_string(),
        query_prepared: format!("127.0.0.1:{}/workflow.Workflow/Execute", busi.port),
        steps: "null".into(),
        ..Default::default()
    };
    let reply = client
        .prepare_workflow(req.clone())
        .await
        .expect("prepareWorkflow")
        .into_inner();
    let t = reply.transaction.expect("transaction");
    assert_eq!((t.gid.as_str(), t.status.as_str()), (gid, "prepared"));
    assert!(reply.progresses.is_empty());
    client
        .register_branch(DtmBranchRequest {
            gid: gid.into(),
            trans_type: "workflow".into(),
            branch_id: "01".into(),
            data: HashMap::from([
                ("op".to_string(), "action".to_string()),
                ("status".to_string(), "succeed".to_string()),
            ]),
            busi_payload: vec![0, 159, 146, 150],
            ..Default::default()
        })
        .await
        .expect("record progress");

    // the cron resumes the unfinished workflow through its gRPC callback
    dtm.forward(11).await;
    let calls = busi.wait_calls(gid, 1, PROMPT).await;
    assert_eq!(calls[0].path, "/workflow.Workflow/Execute");
    check_md(&calls[0], gid, "workflow", "00", "transfer");
    assert_eq!(
        calls[0].body,
        [&[0x0a, 5][..], b"input"].concat(),
        "WorkflowData"
    );

    let again = client
        .prepare_workflow(req.clone())
        .await
        .expect("prepareWorkflow")
        .into_inner();
    assert_eq!(again.progresses.len(), 1);
    let p = &again.progresses[0];
    assert_eq!(
        (p.branch_id.as_str(), p.op.as_str(), p.status.as_str()),
        ("01", "action", "succeed")
    );
    assert_eq!(
        p.bin_data,
        vec![0, 159, 146, 150],
        "binary progress data kept"
    );

    let mut submit = req.clone();
    submit.req_extra = HashMap::from([
        ("status".to_string(), "succeed".to_string()),
        ("result".to_string(), "b2s=".to_string()),
    ]);
    client.submit(submit).await.expect("workflow submit");
    let done = client
        .prepare_workflow(req)
        .await
        .expect("prepareWorkflow")
        .into_inner();
    let t = done.transaction.expect("transaction");
    assert_eq!((t.status.as_str(), t.result.as_str()), ("succeed", "b2s="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_over_grpc() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let sub = |url: String| DtmTopicRequest {
        topic: "orders".into(),
        url,
        remark: String::new(),
    };
    client
        .subscribe(sub(busi.url("OnOrder")))
        .await
        .expect("subscribe");
    client
        .subscribe(sub(busi.url("Audit")))
        .await
        .expect("subscribe");
    let err = client
        .subscribe(sub(busi.url("Audit")))
        .await
        .expect_err("duplicate url");
    assert!(err.message().contains("this url exists"), "{err:?}");

    let gid = "grpc-msg-topic";
    let req = DtmRequest {
        gid: gid.into(),
        trans_type: "msg".into(),
        steps: json!([{"action": "topic://orders"}]).to_string(),
        bin_payloads: vec![BusiReq::bytes(7, "o")],
        trans_options: Some(DtmTransOptions {
            wait_result: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    client.submit(req).await.expect("submit to the topic");
    assert_eq!(dtm.status(gid).await, "succeed");
    let q = dtm.query(gid).await;
    assert_eq!(
        branch_keys(&q),
        vec![
            ("01-01".to_string(), "action".to_string()),
            ("01-02".to_string(), "action".to_string())
        ]
    );
    assert_eq!(busi.methods(gid), strs(&["OnOrder", "Audit"]));

    client
        .unsubscribe(sub(busi.url("Audit")))
        .await
        .expect("unsubscribe");
    client
        .delete_topic(sub(String::new()))
        .await
        .expect("delete");
    let err = client
        .delete_topic(sub(String::new()))
        .await
        .expect_err("already deleted");
    assert_eq!(err.code(), Code::Unknown, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_status_and_writes_nothing() {
    let dtm = Dtmx::start().await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;

    let mut bad_steps = transfer(&busi, "grpc-bad-steps");
    bad_steps.steps = "[{\"action\":".into();
    let mut bad_type = transfer(&busi, "grpc-bad-type");
    bad_type.trans_type = "sagaa".into();
    let mut few_payloads = transfer(&busi, "grpc-bad-payloads");
    few_payloads.bin_payloads.pop();
    let mut bad_url = saga(
        &busi,
        "grpc-bad-url",
        &[("TransOut", "TransOutRevert")],
        vec![BusiReq::bytes(1, "a")],
    );
    bad_url.steps = json!([{"action": "127.0.0.1:1", "compensate": ""}]).to_string();
    let no_gid = transfer(&busi, "");
    let mut negative = transfer(&busi, "grpc-bad-timeout");
    negative.trans_options = Some(DtmTransOptions {
        timeout_to_fail: -1,
        ..Default::default()
    });
    for req in [bad_steps, bad_type, few_payloads, bad_url, no_gid, negative] {
        let gid = req.gid.clone();
        let err = client
            .submit(req.clone())
            .await
            .expect_err("bad input is refused");
        assert_eq!(err.code(), Code::InvalidArgument, "{gid}: {err:?}");
        assert!(!err.message().is_empty(), "{gid}: a message says why");
        let err = client.prepare(req).await.expect_err("bad input is refused");
        assert_eq!(err.code(), Code::InvalidArgument, "{gid}: {err:?}");
        if !gid.is_empty() {
            dtm.assert_absent(&gid).await;
        }
    }
    let err = client
        .register_branch(DtmBranchRequest {
            gid: "grpc-nothing".into(),
            trans_type: "tcc".into(),
            ..Default::default()
        })
        .await
        .expect_err("no branch id");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let err = client
        .abort(global("grpc-missing", "tcc"))
        .await
        .expect_err("unknown gid");
    assert_eq!(err.code(), Code::Unknown, "{err:?}");
    dtm.assert_absent("grpc-missing").await;

    // the server keeps serving both front doors
    assert!(dtm.ping().await);
    client
        .submit(waiting(transfer(&busi, "grpc-after-bad")))
        .await
        .expect("a good saga still succeeds");
    assert!(busi.calls("grpc-bad-url").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_is_refused() {
    let dtm = Dtmx::start_with_env(&[("HTTP_MAX_BODY_BYTES", "4096")]).await;
    let busi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let gid = "grpc-too-large";
    let req = saga(
        &busi,
        gid,
        &[("TransOut", "TransOutRevert")],
        vec![vec![7; 8192]],
    );
    let err = client.submit(req).await.expect_err("over HttpMaxBodyBytes");
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert!(err.message().contains("too large"), "{err:?}");
    dtm.assert_absent(gid).await;
    let small = saga(
        &busi,
        "grpc-small",
        &[("TransOut", "TransOutRevert")],
        vec![vec![7; 100]],
    );
    client
        .submit(waiting(small))
        .await
        .expect("a small request still passes");
}
