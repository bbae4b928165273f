//! The alert webhook (PROTOCOL.md §1.7, §5.3; config `AlertWebHook`, `AlertRetryLimit`).

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

/// Asserts one alert: a JSON POST with exactly DTM's five keys.
fn check_alert(c: &Call, gid: &str, branch: &str, retry_count: i64) {
    assert_eq!(c.method, "POST", "{c:?}");
    assert_eq!(c.name, "Alert", "{c:?}");
    assert!(c.query.is_empty(), "no query: {c:?}");
    assert_eq!(
        c.headers.get("content-type").map(String::as_str),
        Some("application/json"),
        "{c:?}"
    );
    let body = c.json();
    assert_eq!(body.as_object().map(|o| o.len()), Some(5), "{body}");
    assert_eq!(body["gid"], gid, "{body}");
    assert_eq!(body["status"], "submitted", "{body}");
    assert_eq!(body["branch"], branch, "{body}");
    assert_eq!(body["retry_count"], retry_count, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("database is down"),
        "the branch's error: {body}"
    );
}

fn alerts(busi: &Busi, gid: &str) -> Vec<Call> {
    busi.calls_of(gid, "Alert")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_after_retry_limit_of_one() {
    let busi = Busi::start().await;
    let hook = busi.url("Alert");
    let dtm = Dtmx::start_with_env(&[
        ("ALERT_WEB_HOOK", hook.as_str()),
        ("ALERT_RETRY_LIMIT", "1"),
    ])
    .await;
    let gid = "alert-saga";
    busi.plan(gid, "TransIn", vec![Reply::error(); 20]);
    // the hook failing is only logged
    busi.plan(gid, "Alert", [Reply::error()]);

    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    // first backoff: interval 20 = 2 × 10, retry_count 1 ≥ AlertRetryLimit 1
    eventually(PROMPT, "first alert", || async {
        alerts(&busi, gid).iter().any(|c| c.end.is_some())
    })
    .await;
    let a = alerts(&busi, gid);
    assert_eq!(a.len(), 1, "{a:#?}");
    check_alert(&a[0], gid, &busi.url("TransIn"), 1);

    // cron passes keep backing off and keep alerting, with the growing count
    dtm.forward(21).await;
    eventually(PROMPT, "second alert", || async {
        alerts(&busi, gid)
            .iter()
            .filter(|c| c.end.is_some())
            .count()
            >= 2
    })
    .await;
    dtm.forward(41).await;
    eventually(PROMPT, "third alert", || async {
        alerts(&busi, gid)
            .iter()
            .filter(|c| c.end.is_some())
            .count()
            >= 3
    })
    .await;
    let a = alerts(&busi, gid);
    assert_eq!(a.len(), 3, "one alert per failed call: {a:#?}");
    check_alert(&a[1], gid, &busi.url("TransIn"), 2);
    check_alert(&a[2], gid, &busi.url("TransIn"), 3);
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "submitted");
    assert_eq!(q["transaction"]["next_cron_interval"], 80, "{q}");
    assert_eq!(busi.calls_of(gid, "TransIn").len(), 3);
    assert!(dtm.ping().await);

    // a successful saga raises no alert
    let ok = "alert-none";
    let r = dtm
        .submit(&transfer(&busi, ok, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(alerts(&busi, ok).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_retry_limit_is_three() {
    let busi = Busi::start().await;
    let hook = busi.url("Alert");
    let dtm = Dtmx::start_with_env(&[("ALERT_WEB_HOOK", hook.as_str())]).await;
    let gid = "alert-default";
    busi.plan(gid, "TransIn", vec![Reply::error(); 20]);
    let r = dtm
        .submit(&transfer(&busi, gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let mut interval = 20;
    for calls in [2, 3] {
        dtm.forward(interval + 1).await;
        eventually(PROMPT, "TransIn retried", || async {
            busi.calls_of(gid, "TransIn").len() >= calls
        })
        .await;
        interval *= 2;
        eventually(PROMPT, "backoff written", || async {
            dtm.query(gid).await["transaction"]["next_cron_interval"] == interval
        })
        .await;
        if interval == 40 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(
                alerts(&busi, gid).is_empty(),
                "retry_count 2 < 3: no alert yet"
            );
        }
    }
    // retry counts 1 and 2 stayed below the limit; 3 (interval 80) reached it
    tokio::time::sleep(Duration::from_millis(300)).await;
    eventually(PROMPT, "alert at retry_count 3", || async {
        alerts(&busi, gid).iter().any(|c| c.end.is_some())
    })
    .await;
    let a = alerts(&busi, gid);
    assert_eq!(a.len(), 1, "{a:#?}");
    check_alert(&a[0], gid, &busi.url("TransIn"), 3);
    assert_eq!(busi.calls_of(gid, "TransIn").len(), 3);
}
