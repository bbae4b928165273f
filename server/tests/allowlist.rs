//! The outgoing-call allowlist (`BranchHostAllowlist`, docs/SECURITY.md): off by default;
//! when set, URLs of other hosts are refused when a transaction, branch or subscriber is
//! submitted (403, nothing written), and a stored transaction whose URL is not listed is
//! not called (the call counts as a branch error, retried with backoff).

mod common;
mod grpc_busi;

use common::*;
use dtmx_server::api::grpc::pb::dtmgimp::{DtmRequest, DtmTransOptions};
use grpc_busi::{dtm_client, BusiReq, GrpcBusi};
use serde_json::{json, Value};
use std::time::Duration;
use tonic::Code;

/// Asserts a 403 naming the allowlist, `gid` not written, the server still serving.
async fn assert_forbidden(dtm: &Dtmx, r: &Resp, gid: &str) {
    assert_eq!(r.status, 403, "reply: {:?}", r.body);
    assert!(
        r.message().contains("not in BranchHostAllowlist"),
        "{:?}",
        r.body
    );
    assert!(r.body.get("dtm_result").is_none(), "{:?}", r.body);
    if !gid.is_empty() {
        dtm.assert_absent(gid).await;
    }
    assert!(dtm.ping().await);
}

/// A server whose allowlist is `list`.
async fn with_list(list: &str) -> Dtmx {
    Dtmx::start_with_env(&[("BRANCH_HOST_ALLOWLIST", list)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_by_default_any_host_is_called() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let r = dtm
        .submit(&transfer(&busi, "any-host", json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // a name works as well as an address
    let mut by_name = transfer(&busi, "by-name", json!({"wait_result": true}));
    by_name["steps"][0]["action"] =
        json!(format!("http://localhost:{}/api/busi/TransOut", busi.port));
    let r = dtm.submit(&by_name).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(dtm.status("by-name").await, "succeed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_host_works_end_to_end() {
    let busi = Busi::start().await;
    let dtm = with_list(&format!("busi.invalid, 127.0.0.1:{}", busi.port)).await;
    // saga
    let r = dtm
        .submit(&transfer(&busi, "saga-ok", json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        busi.names("saga-ok"),
        strs(&["TransOut", "TransIn"]),
        "the branches were called"
    );
    // msg with its check-back
    let m = msg(&busi, "msg-ok", &["A"], &["{}"], json!({}));
    assert_eq!(dtm.prepare(&m).await.status, 200);
    let r = dtm.submit(&m).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    dtm.wait_status("msg-ok", "succeed", PROMPT).await;
    // tcc registration and confirm
    assert_eq!(
        dtm.prepare(&global("tcc-ok", "tcc", json!({})))
            .await
            .status,
        200
    );
    let r = dtm
        .register_branch(
            &json!({"gid": "tcc-ok", "trans_type": "tcc", "branch_id": "01",
            "data": "{}", "confirm": busi.url("Confirm"), "cancel": busi.url("Cancel")}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = dtm
        .submit(&global("tcc-ok", "tcc", json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(busi.calls_of("tcc-ok", "Confirm").len(), 1);
    // a wildcard and a range list hosts too
    let dtm = with_list("*.example.invalid, 127.0.0.0/8").await;
    let r = dtm
        .submit(&transfer(&busi, "range-ok", json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlisted_host_is_refused_at_submit() {
    let busi = Busi::start().await;
    let other = Busi::start().await;
    let dtm = with_list(&format!("127.0.0.1:{}", busi.port)).await;
    // an action, a compensation, the msg check-back, a name the list does not hold (names
    // are not resolved), a metadata address
    let mut action = transfer(&busi, "bad-action", json!({"wait_result": true}));
    action["steps"][1]["action"] = json!(other.url("TransIn"));
    let mut compensate = transfer(&busi, "bad-compensate", json!({}));
    compensate["steps"][0]["compensate"] = json!(other.url("TransOutRevert"));
    let mut by_name = transfer(&busi, "bad-name", json!({}));
    by_name["steps"][0]["action"] =
        json!(format!("http://localhost:{}/api/busi/TransOut", busi.port));
    let mut metadata = transfer(&busi, "bad-metadata", json!({}));
    metadata["steps"][0]["action"] = json!("http://169.254.169.254/latest/meta-data/");
    let mut check_back = msg(&busi, "bad-check-back", &["A"], &["{}"], json!({}));
    check_back["query_prepared"] = json!(other.url("QueryPrepared"));
    for body in [action, compensate, by_name, metadata, check_back] {
        let gid = body["gid"].as_str().unwrap_or_default().to_string();
        let r = dtm.submit(&body).await;
        assert_forbidden(&dtm, &r, &gid).await;
        let r = dtm.prepare(&body).await;
        assert_forbidden(&dtm, &r, &gid).await;
    }
    // workflow resume callback
    let wf = json!({"gid": "bad-workflow", "trans_type": "workflow",
                    "query_prepared": other.url("Resume"), "custom_data": "{\"name\":\"wf\",\"data\":\"\"}"});
    let r = dtm.post("/api/dtmsvr/prepareWorkflow", &wf).await;
    assert_forbidden(&dtm, &r, "bad-workflow").await;
    // JSON-RPC: invalid params style
    let mut body = transfer(&busi, "rpc-bad", json!({}));
    body["steps"][0]["action"] = json!(other.url("TransOut"));
    let r = dtm
        .json_rpc(&json!({"jsonrpc": "2.0", "id": "1", "method": "submit", "params": body}))
        .await;
    assert_eq!(r.body["error"]["code"], -32600, "{:?}", r.body);
    dtm.assert_absent("rpc-bad").await;
    let all = dtm.get("/api/dtmsvr/all").await;
    assert_eq!(all.body["transactions"], Value::Null, "nothing stored");
    assert!(
        other.all_calls().is_empty(),
        "the unlisted host was never called"
    );
    assert!(busi.all_calls().is_empty(), "no partial transaction ran");
    // the server keeps serving listed hosts
    let r = dtm
        .submit(&transfer(&busi, "after", json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_targets_are_checked() {
    let gbusi = GrpcBusi::start().await;
    let dtm = with_list(&format!("127.0.0.1:{}", gbusi.port)).await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let req = |gid: &str, action: String| DtmRequest {
        gid: gid.into(),
        trans_type: "saga".into(),
        steps: json!([{"action": action, "compensate": gbusi.url("TransOutRevert")}]).to_string(),
        bin_payloads: vec![BusiReq::bytes(1, "a")],
        trans_options: Some(DtmTransOptions {
            wait_result: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = client
        .submit(req("grpc-bad", "127.0.0.2:50051/busi.Busi/TransOut".into()))
        .await
        .expect_err("unlisted target");
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(err.message().contains("BranchHostAllowlist"), "{err:?}");
    dtm.assert_absent("grpc-bad").await;
    client
        .submit(req("grpc-ok", gbusi.url("TransOut")))
        .await
        .expect("listed target");
    assert_eq!(gbusi.methods("grpc-ok"), ["TransOut"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_and_registered_branches_are_checked() {
    let busi = Busi::start().await;
    let other = Busi::start().await;
    let dtm = with_list(&format!("127.0.0.1:{}", busi.port)).await;
    // subscribe
    let r = dtm
        .get_with(
            "/api/dtmsvr/subscribe",
            &[("topic", "t"), ("url", &other.url("Sub"))],
        )
        .await;
    assert_forbidden(&dtm, &r, "").await;
    let kv = dtm
        .get_with("/api/dtmsvr/queryKV", &[("cat", "topics"), ("key", "t")])
        .await;
    assert_eq!(kv.body["kv"], json!([]), "no topic created");
    let r = dtm
        .get_with(
            "/api/dtmsvr/subscribe",
            &[("topic", "t"), ("url", &busi.url("Sub"))],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // registerBranch: tcc confirm / cancel, xa phase-2 url
    assert_eq!(
        dtm.prepare(&global("tcc", "tcc", json!({}))).await.status,
        200
    );
    let tcc = |confirm: String, cancel: String| {
        json!({"gid": "tcc", "trans_type": "tcc", "branch_id": "01", "data": "{}",
               "confirm": confirm, "cancel": cancel})
    };
    let r = dtm
        .register_branch(&tcc(other.url("Confirm"), busi.url("Cancel")))
        .await;
    assert_forbidden(&dtm, &r, "").await;
    let r = dtm
        .register_branch(&tcc(busi.url("Confirm"), other.url("Cancel")))
        .await;
    assert_forbidden(&dtm, &r, "").await;
    assert_eq!(dtm.query("tcc").await["branches"], json!([]));
    assert_eq!(
        dtm.prepare(&global("xa", "xa", json!({}))).await.status,
        200
    );
    let r = dtm
        .register_branch(&json!({"gid": "xa", "trans_type": "xa", "branch_id": "01",
                                 "data": "", "url": other.url("Xa")}))
        .await;
    assert_forbidden(&dtm, &r, "").await;
    assert_eq!(dtm.query("xa").await["branches"], json!([]));
    let r = dtm
        .register_branch(&tcc(busi.url("Confirm"), busi.url("Cancel")))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(other.all_calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_transaction_of_an_unlisted_host_is_retried_not_called() {
    let busi = Busi::start().await;
    let dir = unique_dir("allowlist-stored");
    // stored while no list is set: the first TransOut call errors, so it stays submitted
    let mut before = Dtmx::start_in(dir.clone()).await;
    busi.plan("stored", "TransOut", [Reply::error()]);
    let r = dtm_submit(&before, &transfer(&busi, "stored", json!({}))).await;
    assert_eq!(r, 200);
    busi.wait_calls("stored", 1, PROMPT).await;
    assert_eq!(before.status("stored").await, "submitted");
    before.kill9();
    // restarted with a list that does not hold the branch service
    let mut listed =
        Dtmx::start_in_with_env(dir.clone(), &[("BRANCH_HOST_ALLOWLIST", "10.0.0.0/8")]).await;
    for _ in 0..3 {
        listed.forward(3600).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    eventually(PROMPT, "the refusal is logged", || async {
        std::fs::read_to_string(listed.log_path())
            .unwrap_or_default()
            .contains("not in BranchHostAllowlist")
    })
    .await;
    assert_eq!(busi.calls("stored").len(), 1, "not called again");
    assert_eq!(
        listed.status("stored").await,
        "submitted",
        "kept for retries"
    );
    assert!(listed.ping().await);
    // (kill, not drop: dropping a server removes its directory)
    listed.kill9();
    // with the host listed, the next retry finishes it
    let fixed = Dtmx::start_in_with_env(
        dir,
        &[("BRANCH_HOST_ALLOWLIST", &format!("127.0.0.1:{}", busi.port))],
    )
    .await;
    fixed.forward(3600 * 24).await;
    fixed.wait_status("stored", "succeed", PROMPT).await;
}

/// Submits without waiting; returns the HTTP status.
async fn dtm_submit(dtm: &Dtmx, body: &Value) -> u16 {
    dtm.submit(body).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_only_go_to_listed_hosts() {
    let other = Busi::start().await;
    let redirector = Redirector::start(other.url("TransOut")).await;
    let port = redirector.port;
    let step = |gid: &str| {
        json!({"gid": gid, "trans_type": "saga", "wait_result": true,
               "steps": [{"action": redirector.url("307/TransOut"), "compensate": ""}],
               "payloads": ["{}"]})
    };
    // the redirect target is not listed: the call fails, the target is never reached
    let dtm = with_list(&format!("127.0.0.1:{port}")).await;
    let r = dtm.submit(&step("redirect-refused")).await;
    assert_ne!(r.status, 200, "{:?}", r.body);
    assert_eq!(dtm.status("redirect-refused").await, "submitted");
    assert!(other.all_calls().is_empty(), "redirect not followed");
    // listed (or no list): followed
    let dtm = with_list("127.0.0.1").await;
    let r = dtm.submit(&step("redirect-listed")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(other.calls_of("redirect-listed", "TransOut").len(), 1);
}
