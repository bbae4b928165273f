//! Retention (`FinishedRetention`): finished transactions are deleted once older than the
//! configured age, unfinished ones are kept, and nothing is deleted when it is off.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

/// Whether `gid` is stored.
async fn present(dtm: &Dtmx, gid: &str) -> bool {
    !dtm.query(gid).await["transaction"].is_null()
}

#[tokio::test]
async fn deletes_finished_transactions_after_the_retention_age() {
    let dtm = Dtmx::start_with_env(&[("FINISHED_RETENTION", "3600")]).await;
    let busi = Busi::start().await;
    let r = dtm
        .submit(&transfer(&busi, "ret-done", json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    busi.plan(
        "ret-stuck",
        "TransIn",
        std::iter::repeat_n(Reply::ongoing(), 10_000),
    );
    dtm.submit(&transfer(&busi, "ret-stuck", json!({}))).await;

    // Half the age: a sweep runs (the cron interval is 1 s) and keeps everything.
    dtm.forward(1800).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(present(&dtm, "ret-done").await, "deleted too early");

    // Past the age: the finished one goes, with its branches; the unfinished one stays.
    dtm.forward(1900).await;
    eventually(Duration::from_secs(15), "ret-done deleted", || async {
        !present(&dtm, "ret-done").await
    })
    .await;
    dtm.assert_absent("ret-done").await;
    assert!(
        present(&dtm, "ret-stuck").await,
        "an unfinished one is kept"
    );
    assert!(dtm.ping().await);
}

#[tokio::test]
async fn keeps_everything_when_off() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    dtm.submit(&transfer(&busi, "ret-kept", json!({"wait_result": true})))
        .await;
    dtm.forward(30 * 86_400).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(dtm.status("ret-kept").await, "succeed");
}
