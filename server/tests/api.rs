//! The administrative and auxiliary routes (PROTOCOL.md §1.1, §1.3, §10).

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn gids(all: &Value) -> Vec<String> {
    all["transactions"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| t["gid"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_stop() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "force-stop-running";
    busi.plan(gid, "TransOut", vec![Reply::ongoing(); 10]);
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(dtm.status(gid).await, "submitted");

    let r = dtm.force_stop(gid).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "failed");
    assert!(q["transaction"]["rollback_time"].is_string());
    assert_eq!(statuses(&q), strs(&["prepared"; 4]), "branches untouched");

    // a stopped transaction is never processed again
    dtm.forward(30).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(busi.names(gid), strs(&["TransOut"]));
    assert_eq!(dtm.status(gid).await, "failed");

    // stopping a finished transaction is refused
    let r = dtm.force_stop(gid).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"dtm_result": "FAILURE",
               "message": "global transaction force stop error. status: failed. error: FAILURE"})
    );
    let done = "force-stop-succeeded";
    let r = dtm
        .submit(&transfer(&busi, done, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200);
    let r = dtm.force_stop(done).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(
        r.message(),
        "global transaction force stop error. status: succeed. error: FAILURE"
    );
    assert_eq!(dtm.status(done).await, "succeed");

    // unknown gid: 500, not 404
    let r = dtm.force_stop("no-such-gid").await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"message": "no TransGlobal with gid: no-such-gid found"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_edge_cases() {
    let dtm = Dtmx::start().await;
    let r = dtm.query_resp("never-seen").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"transaction": null, "branches": []}));

    let r = dtm.get("/api/dtmsvr/query?gid=").await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert_eq!(r.body, json!({"message": "no gid specified"}));
    let r = dtm.get("/api/dtmsvr/query").await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(
        r.body.get("dtm_result").is_none(),
        "errors carry no dtm_result"
    );

    let r = dtm.get("/api/ping").await;
    assert_eq!((r.status, &r.body), (200, &json!({"msg": "pong"})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_pages_and_filters() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    // creation order: s1, s2, s3 (sagas, succeed), m1, m2 (msgs, prepared)
    for gid in ["s1", "s2", "s3"] {
        let r = dtm
            .submit(&transfer(&busi, gid, json!({"wait_result": true})))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    for gid in ["m1", "m2"] {
        let r = dtm
            .prepare(&msg(&busi, gid, &["TransOut"], &["{}"], json!({})))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    let r = dtm.get("/api/dtmsvr/all").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        gids(&r.body),
        strs(&["m2", "m1", "s3", "s2", "s1"]),
        "newest first"
    );
    assert_eq!(r.body["next_position"], "", "not a full page");
    let t = &r.body["transactions"][4];
    assert_eq!(t["status"], "succeed");
    assert_eq!(t["trans_type"], "saga");

    // paging with limit 2: 2 + 2 + 1
    let mut seen = Vec::new();
    let mut position = String::new();
    let mut pages = 0;
    loop {
        let r = dtm
            .get(&format!("/api/dtmsvr/all?limit=2&position={position}"))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        pages += 1;
        let page = gids(&r.body);
        assert!(page.len() <= 2);
        seen.extend(page);
        position = r.body["next_position"]
            .as_str()
            .expect("string")
            .to_string();
        if position.is_empty() {
            break;
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, strs(&["m2", "m1", "s3", "s2", "s1"]));

    // a full last page still announces a next position; the page after it is null
    let r = dtm.get("/api/dtmsvr/all?limit=5").await;
    assert_eq!(gids(&r.body).len(), 5);
    let next = r.body["next_position"]
        .as_str()
        .expect("string")
        .to_string();
    assert!(!next.is_empty(), "{:?}", r.body);
    let r = dtm
        .get(&format!("/api/dtmsvr/all?limit=5&position={next}"))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"transactions": null, "next_position": ""}));

    // filters
    let r = dtm.get("/api/dtmsvr/all?status=prepared").await;
    assert_eq!(gids(&r.body), strs(&["m2", "m1"]));
    let r = dtm.get("/api/dtmsvr/all?transType=saga").await;
    assert_eq!(gids(&r.body), strs(&["s3", "s2", "s1"]));
    let r = dtm
        .get("/api/dtmsvr/all?transType=msg&status=prepared&limit=1")
        .await;
    assert_eq!(gids(&r.body), strs(&["m2"]));
    let next = r.body["next_position"]
        .as_str()
        .expect("string")
        .to_string();
    let r = dtm
        .get(&format!(
            "/api/dtmsvr/all?transType=msg&status=prepared&limit=1&position={next}"
        ))
        .await;
    assert_eq!(gids(&r.body), strs(&["m1"]));
    let r = dtm
        .get("/api/dtmsvr/all?transType=msg&status=succeed")
        .await;
    assert_eq!(r.body, json!({"transactions": null, "next_position": ""}));

    // creation-time window (epoch milliseconds)
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let hour = 3_600_000;
    let window = |start: i64, end: i64| {
        format!("/api/dtmsvr/all?createTimeStart={start}&createTimeEnd={end}")
    };
    let r = dtm.get(&window(now_ms - hour, now_ms + hour)).await;
    assert_eq!(gids(&r.body).len(), 5, "{:?}", r.body);
    let r = dtm.get(&window(now_ms + hour, now_ms + 2 * hour)).await;
    assert_eq!(r.body["transactions"], Value::Null);
    let r = dtm.get(&window(now_ms - 2 * hour, now_ms - hour)).await;
    assert_eq!(r.body["transactions"], Value::Null);
    let r = dtm
        .get(&format!(
            "/api/dtmsvr/all?transType=msg&createTimeStart={}",
            now_ms - hour
        ))
        .await;
    assert_eq!(gids(&r.body), strs(&["m2", "m1"]));

    // by gid: one transaction; the position is echoed
    let r = dtm.get("/api/dtmsvr/all?gid=s2&position=77").await;
    assert_eq!(gids(&r.body), strs(&["s2"]));
    assert_eq!(r.body["next_position"], "77");
    let r = dtm.get("/api/dtmsvr/all?gid=nope").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"transactions": null, "next_position": ""}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_next_cron_time() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let r = dtm
        .post("/api/dtmsvr/resetNextCronTime", &json!({"gid": "unknown"}))
        .await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(r.message().contains("unknown"), "{:?}", r.body);

    // a saga backed off to +20 s is retried at once after resetNextCronTime
    let gid = "reset-one";
    busi.plan(gid, "TransIn", [Reply::error()]);
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(dtm.status(gid).await, "submitted");
    let r = dtm
        .post("/api/dtmsvr/resetNextCronTime", &json!({"gid": gid}))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    dtm.wait_status(gid, "succeed", Duration::from_secs(5))
        .await;
    assert_eq!(busi.names(gid), strs(&["TransOut", "TransIn", "TransIn"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_cron_time() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let r = dtm.get("/api/dtmsvr/resetCronTime").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"has_remaining": false, "succeed_count": 0}));

    // two unfinished transactions due far in the future (retry_interval 1000 s)
    for gid in ["far-1", "far-2"] {
        let r = dtm
            .prepare(&transfer(&busi, gid, json!({"retry_interval": 1000})))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let q = dtm.query(gid).await;
        assert_eq!(q["transaction"]["next_cron_interval"], 1000);
    }
    let r = dtm.get("/api/dtmsvr/resetCronTime?limit=1").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"has_remaining": true, "succeed_count": 1}));
    let r = dtm.get("/api/dtmsvr/resetCronTime?limit=1").await;
    assert_eq!(r.body, json!({"has_remaining": false, "succeed_count": 1}));
    let r = dtm.get("/api/dtmsvr/resetCronTime?limit=1").await;
    assert_eq!(r.body, json!({"has_remaining": false, "succeed_count": 0}));
    // a larger timeout than the remaining delay matches nothing either
    let r = dtm.get("/api/dtmsvr/resetCronTime?timeout=5000").await;
    assert_eq!(r.body, json!({"has_remaining": false, "succeed_count": 0}));
    // prepared sagas are never processed
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(busi.all_calls().is_empty(), "{:#?}", busi.all_calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_gid_and_version() {
    let dtm = Dtmx::start().await;
    let r = dtm.get("/api/dtmsvr/newGid").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["dtm_result"], "SUCCESS");
    let g1 = r.body["gid"].as_str().expect("gid").to_string();
    assert_eq!(g1.len(), 22, "{g1}");
    assert!(g1.chars().all(|c| c.is_ascii_alphanumeric()), "{g1}");
    let g2 = dtm.get("/api/dtmsvr/newGid").await.body["gid"]
        .as_str()
        .expect("gid")
        .to_string();
    assert_ne!(g1, g2);

    let r = dtm.get("/api/dtmsvr/version").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({"version": format!("v{}", env!("CARGO_PKG_VERSION"))})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_tcc_branch() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "tcc-register";
    let r = dtm
        .prepare(&json!({"gid": gid, "trans_type": "tcc", "concurrent": false, "protocol": ""}))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let branch = |id: &str| {
        json!({
            "gid": gid,
            "trans_type": "tcc",
            "branch_id": id,
            "data": r#"{"amount":30}"#,
            "confirm": busi.url("TransOutConfirm"),
            "cancel": busi.url("TransOutCancel"),
        })
    };
    let r = dtm.register_branch(&branch("01")).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "prepared");
    assert_eq!(
        branch_keys(&q),
        vec![
            ("01".to_string(), "cancel".to_string()),
            ("01".into(), "confirm".into())
        ]
    );
    assert_eq!(statuses(&q), strs(&["prepared", "prepared"]));
    assert_eq!(q["branches"][0]["url"], busi.url("TransOutCancel"));
    assert_eq!(q["branches"][1]["url"], busi.url("TransOutConfirm"));
    assert_eq!(q["branches"][1]["bin_data"], "eyJhbW91bnQiOjMwfQ==");

    // the old-SDK alias
    let r = dtm
        .post("/api/dtmsvr/registerTccBranch", &branch("02"))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));

    // duplicate branch: 500, nothing added
    let r = dtm.register_branch(&branch("01")).await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(r.body.get("dtm_result").is_none());
    assert!(!r.message().is_empty());
    assert_eq!(dtm.branch_statuses(gid).await.len(), 4);

    // not prepared any more: 409
    assert_eq!(dtm.force_stop(gid).await.status, 200);
    let r = dtm.register_branch(&branch("03")).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.body["dtm_result"], "FAILURE");
    assert_eq!(
        r.message(),
        format!("no trans with gid: {gid} status: prepared found FAILURE")
    );
    assert_eq!(dtm.branch_statuses(gid).await.len(), 4);

    // a saga (submitted) does not take branches either
    let saga_gid = "saga-no-register";
    busi.plan(saga_gid, "TransOut", vec![Reply::ongoing(); 5]);
    dtm.submit(&transfer(&busi, saga_gid, json!({}))).await;
    let mut b = branch("09");
    b["gid"] = json!(saga_gid);
    let r = dtm.register_branch(&b).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(busi.calls_of(gid, "TransOutConfirm").is_empty());
    assert!(busi.calls_of(gid, "TransOutCancel").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saga_cannot_be_aborted() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-abort";
    busi.plan(gid, "TransOut", vec![Reply::ongoing(); 5]);
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let r = dtm
        .abort(&json!({"gid": gid, "trans_type": "saga", "concurrent": false, "protocol": ""}))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"dtm_result": "FAILURE",
               "message": "trans type: 'saga' current status 'submitted', cannot abort. FAILURE"})
    );
    assert_eq!(dtm.status(gid).await, "submitted");
    assert!(busi.calls_of(gid, "TransOutRevert").is_empty());

    let r = dtm
        .abort(&json!({"gid": "ghost", "trans_type": "saga"}))
        .await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"message": "no TransGlobal with gid: ghost found"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resubmit_of_submitted_saga_is_accepted() {
    // PROTOCOL.md §10 quirk: the re-submit of a submitted transaction re-runs a pass over
    // the stored branches (no duplicate rows, no re-invocation of finished branches).
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "saga-resubmit";
    busi.plan(gid, "TransIn", [Reply::ongoing()]);
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "succeed");
    assert_eq!(
        statuses(&q),
        strs(&["prepared", "succeed", "prepared", "succeed"])
    );
    assert_eq!(busi.names(gid), strs(&["TransOut", "TransIn", "TransIn"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_xa_branch_and_unknown_routes() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let gid = "xa-register";
    let r = dtm.prepare(&json!({"gid": gid, "trans_type": "xa"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = dtm
        .post(
            "/api/dtmsvr/registerXaBranch",
            &json!({"gid": gid, "trans_type": "xa", "branch_id": "01", "url": busi.url("Xa")}),
        )
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    assert_eq!(
        branch_keys(&q),
        vec![
            ("01".to_string(), "rollback".to_string()),
            ("01".into(), "commit".into())
        ]
    );
    assert_eq!(q["branches"][0]["url"], busi.url("Xa"));
    assert_eq!(q["branches"][1]["url"], busi.url("Xa"));
    assert!(
        q["branches"][1].get("bin_data").is_none(),
        "xa phase 2 has no body"
    );
    assert!(busi.all_calls().is_empty());

    let r = dtm.get("/api/dtmsvr/noSuchRoute").await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert!(dtm.ping().await);
    let r = dtm.post("/api/ping", &json!({})).await;
    assert_eq!((r.status, &r.body), (200, &json!({"msg": "pong"})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gid_in_every_body_is_stripped() {
    // PROTOCOL.md §1.2: `\n`, `\r` and `;` are removed from the gid of every TransGlobal body
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    busi.plan("stopme", "TransOut", vec![Reply::ongoing(); 5]);
    let r = dtm.submit(&transfer(&busi, "stop;me", json!({}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = dtm
        .post(
            "/api/dtmsvr/resetNextCronTime",
            &json!({"gid": "stop;me\n"}),
        )
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let r = dtm
        .abort(&json!({"gid": "stop;me", "trans_type": "saga"}))
        .await;
    assert_eq!(
        r.status, 409,
        "found, but a saga cannot be aborted: {:?}",
        r.body
    );
    let r = dtm.force_stop("stop;me\r").await;
    assert_eq!((r.status, &r.body), (200, &success()));
    assert_eq!(dtm.status("stopme").await, "failed");
}
