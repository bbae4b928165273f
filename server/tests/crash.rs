//! Durability: whatever the server acknowledged survives `kill -9`, and unfinished work is
//! resumed by the cron of the restarted server (PROTOCOL.md §5.1, §5.4, §6).

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn transfer_on(port: u16, gid: &str, extra: Value) -> Value {
    let mut body = json!({
        "gid": gid,
        "trans_type": "saga",
        "steps": [
            {"action": url_on(port, "TransOut"), "compensate": url_on(port, "TransOutRevert")},
            {"action": url_on(port, "TransIn"), "compensate": url_on(port, "TransInRevert")},
        ],
        "payloads": [format!("{{\"gid\":\"{gid}\",\"step\":1}}"), format!("{{\"gid\":\"{gid}\",\"step\":2}}")],
        "concurrent": false,
        "protocol": "",
    });
    merge(&mut body, extra);
    body
}

/// Moves the clock forward past any backoff and polls until every gid succeeded.
async fn drive_to_success(dtm: &Dtmx, gids: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pending: Vec<String> = gids.to_vec();
    loop {
        dtm.forward(25).await;
        let round = Instant::now() + Duration::from_secs(4);
        while Instant::now() < round && !pending.is_empty() {
            let mut still = Vec::new();
            for gid in &pending {
                if dtm.status(gid).await != "succeed" {
                    still.push(gid.clone());
                }
            }
            pending = still;
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        if pending.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let q = dtm.query(&pending[0]).await;
            panic!("{} sagas never succeeded, e.g. {q:#}", pending.len());
        }
    }
}

async fn assert_all_delivered(dtm: &Dtmx, busi: &Busi, gids: &[String]) {
    for gid in gids {
        let q = dtm.query(gid).await;
        assert_eq!(q["transaction"]["status"], "succeed", "{q}");
        assert_eq!(
            statuses(&q),
            strs(&["prepared", "succeed", "prepared", "succeed"]),
            "{gid}"
        );
        for (name, bid, step) in [("TransOut", "01", 1), ("TransIn", "02", 2)] {
            let calls = busi.calls_of(gid, name);
            assert!(!calls.is_empty(), "{gid}: {name} never called");
            for c in &calls {
                assert_eq!(c.method, "POST");
                assert_eq!(c.q("op"), "action");
                assert_eq!(c.q("branch_id"), bid);
                assert_eq!(
                    c.body_str(),
                    format!("{{\"gid\":\"{gid}\",\"step\":{step}}}")
                );
            }
        }
        assert!(busi.calls_of(gid, "TransOutRevert").is_empty(), "{gid}");
        assert!(busi.calls_of(gid, "TransInRevert").is_empty(), "{gid}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_sagas_survive_kill_9_with_service_down() {
    let mut dtm = Dtmx::start().await;
    // the business service is down: nobody listens on this port yet
    let port = free_port();
    let gids: Vec<String> = (0..50).map(|i| format!("crash-down-{i:02}")).collect();
    for gid in &gids {
        let r = dtm.submit(&transfer_on(port, gid, json!({}))).await;
        assert_eq!(
            (r.status, &r.body),
            (200, &json!({"dtm_result": "SUCCESS"})),
            "{gid}"
        );
    }
    // kill -9 right away, with background passes possibly in flight
    dtm.restart().await;
    for gid in &gids {
        let q = dtm.query(gid).await;
        assert_eq!(q["transaction"]["status"], "submitted", "{gid} lost: {q}");
        assert_eq!(q["branches"].as_array().map(Vec::len), Some(4), "{gid}");
        assert_eq!(statuses(&q)[2], "prepared", "{gid}");
        assert_eq!(statuses(&q)[3], "prepared", "{gid}");
    }

    let busi = Busi::start_on(port).await;
    drive_to_success(&dtm, &gids).await;
    assert_all_delivered(&dtm, &busi, &gids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_sagas_survive_kill_9_with_service_failing() {
    let mut dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    busi.set_fallback(Some(Reply::error()));
    let gids: Vec<String> = (0..10).map(|i| format!("crash-500-{i:02}")).collect();
    for gid in &gids {
        let r = dtm.submit(&transfer_on(busi.port, gid, json!({}))).await;
        assert_eq!(r.status, 200, "{gid}: {:?}", r.body);
    }
    // let every first pass hit the failing service before the crash
    for gid in &gids {
        busi.wait_calls(gid, 1, PROMPT).await;
    }
    dtm.restart().await;
    for gid in &gids {
        assert_eq!(dtm.status(gid).await, "submitted", "{gid}");
    }
    busi.set_fallback(None);
    drive_to_success(&dtm, &gids).await;
    assert_all_delivered(&dtm, &busi, &gids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_outcomes_survive_kill_9() {
    let mut dtm = Dtmx::start().await;
    let busi = Busi::start().await;

    let ok = "ack-succeed";
    let r = dtm
        .submit(&transfer_on(busi.port, ok, json!({"wait_result": true})))
        .await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"dtm_result": "SUCCESS"}))
    );

    let failed = "ack-failed";
    busi.plan(failed, "TransIn", [Reply::failure("refused")]);
    let r = dtm
        .submit(&transfer_on(
            busi.port,
            failed,
            json!({"wait_result": true}),
        ))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);

    let prepared = "ack-prepared-msg";
    let r = dtm
        .prepare(&msg(&busi, prepared, &["TransOut"], &["{}"], json!({})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let stopped = "ack-stopped";
    busi.plan(stopped, "TransOut", vec![Reply::ongoing(); 5]);
    let r = dtm
        .submit(&transfer_on(
            busi.port,
            stopped,
            json!({"wait_result": true}),
        ))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(dtm.force_stop(stopped).await.status, 200);

    let before: Vec<Value> = {
        let mut v = Vec::new();
        for gid in [ok, failed, prepared, stopped] {
            v.push(dtm.query(gid).await);
        }
        v
    };
    dtm.kill9();
    dtm.restart().await;

    let q = dtm.query(ok).await;
    assert_eq!(q["transaction"]["status"], "succeed");
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    let q = dtm.query(failed).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert!(q["transaction"]["rollback_reason"]
        .as_str()
        .unwrap_or_default()
        .contains("refused"));
    assert_eq!(
        statuses(&q),
        strs(&["succeed", "succeed", "succeed", "failed"])
    );
    let q = dtm.query(prepared).await;
    assert_eq!(q["transaction"]["status"], "prepared");
    assert_eq!(statuses(&q), strs(&["prepared"]));
    let q = dtm.query(stopped).await;
    assert_eq!(q["transaction"]["status"], "failed");

    // finished transactions read back exactly as acknowledged
    for (gid, old) in [
        (ok, &before[0]),
        (failed, &before[1]),
        (stopped, &before[3]),
    ] {
        let now = dtm.query(gid).await;
        assert_eq!(
            now["transaction"]["status"], old["transaction"]["status"],
            "{gid}"
        );
        assert_eq!(statuses(&now), statuses(old), "{gid}");
        assert_eq!(
            now["transaction"]["rollback_reason"], old["transaction"]["rollback_reason"],
            "{gid}"
        );
    }
    // and nothing more is called for them after the restart
    let calls_before = busi.all_calls().len();
    dtm.forward(25).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let later: Vec<Call> = busi.all_calls()[calls_before..].to_vec();
    assert!(
        later.iter().all(|c| c.gid() == prepared),
        "only the prepared msg may be checked back: {later:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_resumes_after_kill_9() {
    let mut dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "crash-aborting";
    busi.plan(gid, "TransIn", [Reply::failure("refused")]);
    // one error before the crash, one after it, then success
    busi.plan(gid, "TransInRevert", vec![Reply::error(); 2]);
    let r = dtm
        .submit(&transfer_on(busi.port, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(dtm.status(gid).await, "aborting");

    dtm.restart().await;
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "aborting");
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "failed"])
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while dtm.status(gid).await != "failed" {
        assert!(Instant::now() < deadline, "{:#}", dtm.query(gid).await);
        dtm.forward(25).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let q = dtm.query(gid).await;
    assert_eq!(
        statuses(&q),
        strs(&["succeed", "succeed", "succeed", "failed"])
    );
    assert!(q["transaction"]["rollback_reason"]
        .as_str()
        .unwrap_or_default()
        .contains("refused"));
    let names = busi.names(gid);
    assert_eq!(
        names.last().map(String::as_str),
        Some("TransOutRevert"),
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| *n == "TransOut").count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| *n == "TransIn").count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| *n == "TransInRevert").count(),
        3,
        "{names:?}"
    );
}
