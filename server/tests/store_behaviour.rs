//! The behaviour every store must have, run against each implementation of the `Store`
//! trait (today the embedded SQLite store; the PostgreSQL, MySQL and Redis stores join the
//! `stores()` list when they exist).

use bytes::Bytes;
use dtmx::{TransOptions, TransStatus, TransType};
use dtmx_server::store::sqlite::SqliteStore;
use dtmx_server::store::{
    open, reset, BranchRow, CronTouch, ScanQuery, StatusChange, Store, StoreError, TransRow,
};
use std::sync::Arc;

mod databases;

/// Every store under test, each fresh and empty; `test` names the test so that the
/// database servers' stores of different tests do not meet.
async fn stores(test: &str) -> Vec<(&'static str, Arc<dyn Store>)> {
    let dir = std::env::temp_dir().join(format!(
        "dtmx-store-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let sqlite = SqliteStore::open(&dir.join("dtmx.db")).expect("open sqlite store");
    let mut all: Vec<(&'static str, Arc<dyn Store>)> = vec![("sqlite", Arc::new(sqlite))];
    for (name, config) in [
        ("postgres", databases::postgres(test)),
        ("mysql", databases::mysql(test)),
        ("redis", databases::redis(test)),
    ] {
        reset(&config).await.expect("reset store");
        all.push((name, open(&config).await.expect("open store")));
    }
    all
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

fn trans(gid: &str, status: TransStatus, next_cron_time: i64) -> TransRow {
    TransRow {
        id: 0,
        gid: gid.into(),
        trans_type: TransType::Saga,
        status,
        query_prepared: String::new(),
        protocol: "http".into(),
        create_time: 1_000,
        update_time: 1_000,
        finish_time: None,
        rollback_time: None,
        options: TransOptions::default(),
        custom_data: String::new(),
        next_cron_interval: 10,
        next_cron_time,
        owner: String::new(),
        ext_data: String::new(),
        result: String::new(),
        rollback_reason: String::new(),
    }
}

fn branch(gid: &str, branch_id: &str, op: &str) -> BranchRow {
    BranchRow {
        id: 0,
        gid: gid.into(),
        url: format!("http://busi/{op}"),
        bin_data: Bytes::from(format!("{{\"b\":\"{branch_id}\"}}")),
        branch_id: branch_id.into(),
        op: op.into(),
        status: TransStatus::Prepared,
        create_time: 1_000,
        update_time: 1_000,
        finish_time: None,
        rollback_time: None,
    }
}

fn saga_branches(gid: &str) -> Vec<BranchRow> {
    vec![
        branch(gid, "01", "compensate"),
        branch(gid, "01", "action"),
        branch(gid, "02", "compensate"),
        branch(gid, "02", "action"),
    ]
}

fn done(mut b: BranchRow, status: TransStatus, at: i64) -> BranchRow {
    b.status = status;
    b.update_time = at;
    match status {
        TransStatus::Succeed => b.finish_time = Some(at),
        _ => b.rollback_time = Some(at),
    }
    b
}

#[tokio::test]
async fn new_transactions_round_trip_and_gids_are_unique() {
    for (name, store) in stores("round_trip").await {
        let id = store
            .save_new(
                trans("g1", TransStatus::Submitted, 5_000),
                saga_branches("g1"),
            )
            .await
            .expect("insert");
        assert!(id > 0, "{name}");
        let t = store.find_trans("g1").await.expect("find").expect("exists");
        assert_eq!(t.id, id, "{name}");
        assert_eq!(t.status, TransStatus::Submitted, "{name}");
        assert_eq!(t.next_cron_time, 5_000, "{name}");
        let b = store.find_branches("g1").await.expect("branches");
        let ops: Vec<(&str, &str)> = b
            .iter()
            .map(|b| (b.branch_id.as_str(), b.op.as_str()))
            .collect();
        assert_eq!(
            ops,
            [
                ("01", "compensate"),
                ("01", "action"),
                ("02", "compensate"),
                ("02", "action")
            ],
            "{name}: insertion order"
        );
        assert_eq!(
            &b[1].bin_data[..],
            b"{\"b\":\"01\"}",
            "{name}: payload verbatim"
        );
        let again = store
            .save_new(trans("g1", TransStatus::Prepared, 0), Vec::new())
            .await;
        assert_eq!(again, Err(StoreError::UniqueConflict), "{name}");
        assert_eq!(
            store.find_branches("g1").await.expect("branches").len(),
            4,
            "{name}: a refused insert changes nothing"
        );
        assert!(
            store.find_trans("nope").await.expect("find").is_none(),
            "{name}"
        );
        assert!(
            store.find_branches("nope").await.expect("find").is_empty(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn status_changes_are_compare_and_set_with_branch_results() {
    for (name, store) in stores("status_cas").await {
        store
            .save_new(trans("g2", TransStatus::Submitted, 0), saga_branches("g2"))
            .await
            .expect("insert");
        let wrong = store
            .change_status(
                "g2",
                TransStatus::Prepared,
                StatusChange::to(TransStatus::Failed, 2_000),
                true,
            )
            .await;
        assert_eq!(
            wrong,
            Err(StoreError::NotFound),
            "{name}: CAS on the wrong status"
        );
        let mut change = StatusChange::to(TransStatus::Aborting, 2_000);
        change.rollback_reason = "step 2 refused".into();
        change.branches = vec![done(
            branch("g2", "01", "action"),
            TransStatus::Succeed,
            2_000,
        )];
        store
            .change_status("g2", TransStatus::Submitted, change, true)
            .await
            .expect("change");
        let t = store.find_trans("g2").await.expect("find").expect("exists");
        assert_eq!(t.status, TransStatus::Aborting, "{name}");
        assert_eq!(t.rollback_reason, "step 2 refused", "{name}");
        let b = store.find_branches("g2").await.expect("branches");
        assert_eq!(
            b[1].status,
            TransStatus::Succeed,
            "{name}: branch rode along"
        );
        assert_eq!(b[1].finish_time, Some(2_000), "{name}");

        // An empty reason keeps the stored one; the final status stamps its time.
        store
            .change_status(
                "g2",
                TransStatus::Aborting,
                StatusChange::to(TransStatus::Failed, 3_000),
                true,
            )
            .await
            .expect("change");
        let t = store.find_trans("g2").await.expect("find").expect("exists");
        assert_eq!(t.status, TransStatus::Failed, "{name}");
        assert_eq!(t.rollback_reason, "step 2 refused", "{name}");
        assert_eq!(t.rollback_time, Some(3_000), "{name}");

        // Branch results only apply while the global status is the one they were made in.
        let stale = done(branch("g2", "02", "action"), TransStatus::Succeed, 4_000);
        store
            .update_branches(TransStatus::Submitted, vec![stale])
            .await
            .expect("write");
        let b = store.find_branches("g2").await.expect("branches");
        assert_eq!(
            b[3].status,
            TransStatus::Prepared,
            "{name}: stale result ignored"
        );
    }
}

#[tokio::test]
async fn appended_branches_need_the_status_and_unique_ids() {
    for (name, store) in stores("append").await {
        store
            .save_new(trans("g3", TransStatus::Prepared, 0), Vec::new())
            .await
            .expect("insert");
        let tcc = |id: &str| vec![branch("g3", id, "cancel"), branch("g3", id, "confirm")];
        store
            .append_branches("g3", TransStatus::Prepared, tcc("01"))
            .await
            .expect("append");
        store
            .append_branches("g3", TransStatus::Prepared, tcc("02"))
            .await
            .expect("append");
        assert_eq!(
            store
                .append_branches("g3", TransStatus::Prepared, tcc("01"))
                .await,
            Err(StoreError::UniqueConflict),
            "{name}"
        );
        assert_eq!(
            store
                .append_branches("g3", TransStatus::Submitted, tcc("03"))
                .await,
            Err(StoreError::NotFound),
            "{name}: needs the status"
        );
        assert_eq!(
            store
                .append_branches("nope", TransStatus::Prepared, tcc("01"))
                .await,
            Err(StoreError::NotFound),
            "{name}"
        );
        let ids: Vec<String> = store
            .find_branches("g3")
            .await
            .expect("branches")
            .iter()
            .map(|b| format!("{}-{}", b.branch_id, b.op))
            .collect();
        assert_eq!(
            ids,
            ["01-cancel", "01-confirm", "02-cancel", "02-confirm"],
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_cron_leases_due_unfinished_transactions_once() {
    for (name, store) in stores("lease").await {
        for (gid, status, due) in [
            ("due1", TransStatus::Submitted, 100_000),
            ("due2", TransStatus::Aborting, 200_000),
            ("due3", TransStatus::Prepared, 300_000),
            ("later", TransStatus::Submitted, 9_000_000),
            ("finished", TransStatus::Succeed, 100_000),
        ] {
            store
                .save_new(trans(gid, status, due), saga_branches(gid))
                .await
                .expect("insert");
        }
        let leased = store
            .lock_due(1_000_000, 50_000_000, 1_000_000, 2)
            .await
            .expect("lease");
        let gids: Vec<&str> = leased.iter().map(|(t, _)| t.gid.as_str()).collect();
        assert_eq!(
            gids,
            ["due1", "due2"],
            "{name}: earliest first, limit respected"
        );
        assert_eq!(leased[0].1.len(), 4, "{name}: with branches");
        assert_eq!(
            leased[0].0.next_cron_time, 50_000_000,
            "{name}: lease recorded"
        );
        let next = store
            .lock_due(1_000_000, 50_000_000, 1_000_000, 10)
            .await
            .expect("lease");
        let gids: Vec<&str> = next.iter().map(|(t, _)| t.gid.as_str()).collect();
        assert_eq!(
            gids,
            ["due3"],
            "{name}: leased ones and finished ones are skipped"
        );
        let after_lease = store
            .lock_due(60_000_000, 70_000_000, 60_000_000, 10)
            .await
            .expect("lease");
        assert_eq!(after_lease.len(), 4, "{name}: expired leases are due again");

        // A cron touch moves the due time (lazily; flush makes it visible).
        store.touch_cron(CronTouch {
            gid: "due1".into(),
            status: TransStatus::Submitted,
            interval: 20,
            next_time: 123_000,
            now: 61_000_000,
            branches: vec![done(
                branch("due1", "01", "action"),
                TransStatus::Succeed,
                61_000,
            )],
        });
        store.flush().await.expect("flush");
        let t = store
            .find_trans("due1")
            .await
            .expect("find")
            .expect("exists");
        assert_eq!(
            (t.next_cron_interval, t.next_cron_time),
            (20, 123_000),
            "{name}"
        );
        assert_eq!(
            store.find_branches("due1").await.expect("b")[1].status,
            TransStatus::Succeed,
            "{name}"
        );
    }
}

#[tokio::test]
async fn cron_times_can_be_pulled_in() {
    for (name, store) in stores("pull_in").await {
        for i in 0..5 {
            let gid = format!("far{i}");
            store
                .save_new(trans(&gid, TransStatus::Submitted, 1_000_000), Vec::new())
                .await
                .expect("insert");
        }
        assert_eq!(
            store
                .reset_cron_time(10_000, 5_000, 3)
                .await
                .expect("reset"),
            (3, true),
            "{name}"
        );
        assert_eq!(
            store
                .reset_cron_time(10_000, 5_000, 3)
                .await
                .expect("reset"),
            (2, false),
            "{name}"
        );
        store
            .reset_next_cron_time("far0", 7_000)
            .await
            .expect("reset one");
        let t = store
            .find_trans("far0")
            .await
            .expect("find")
            .expect("exists");
        assert_eq!(t.next_cron_time, 7_000, "{name}");
        assert_eq!(
            store.reset_next_cron_time("nope", 7_000).await,
            Err(StoreError::NotFound),
            "{name}"
        );
    }
}

#[tokio::test]
async fn listings_page_newest_first_with_filters() {
    for (name, store) in stores("listing").await {
        for i in 0..5 {
            let mut t = trans(&format!("l{i}"), TransStatus::Succeed, 0);
            t.create_time = 1_000 * (i + 1);
            if i == 4 {
                t.status = TransStatus::Failed;
            }
            store.save_new(t, Vec::new()).await.expect("insert");
        }
        let page = |position: &str, limit| ScanQuery {
            position: position.into(),
            limit,
            ..ScanQuery::default()
        };
        let (first, next) = store.scan(page("", 2)).await.expect("scan");
        let gids: Vec<&str> = first.iter().map(|t| t.gid.as_str()).collect();
        assert_eq!(gids, ["l4", "l3"], "{name}");
        let (second, next) = store.scan(page(&next, 2)).await.expect("scan");
        let gids: Vec<&str> = second.iter().map(|t| t.gid.as_str()).collect();
        assert_eq!(gids, ["l2", "l1"], "{name}");
        let (last, next) = store.scan(page(&next, 2)).await.expect("scan");
        assert_eq!(last.len(), 1, "{name}");
        assert_eq!(next, "", "{name}: a short page ends the listing");
        let failed = ScanQuery {
            status: "failed".into(),
            ..page("", 10)
        };
        assert_eq!(store.scan(failed).await.expect("scan").0.len(), 1, "{name}");
        let window = ScanQuery {
            create_time_start: Some(2_000),
            create_time_end: Some(3_000),
            ..page("", 10)
        };
        assert_eq!(store.scan(window).await.expect("scan").0.len(), 2, "{name}");
    }
}

#[tokio::test]
async fn kv_rows_have_versions() {
    for (name, store) in stores("kv").await {
        store
            .kv_create("topics", "t", "[]", 1)
            .await
            .expect("create");
        assert_eq!(
            store.kv_create("topics", "t", "[]", 1).await,
            Err(StoreError::UniqueConflict),
            "{name}"
        );
        store
            .kv_update("topics", "t", "[1]", 1, 2)
            .await
            .expect("update");
        assert_eq!(
            store.kv_update("topics", "t", "[2]", 1, 3).await,
            Err(StoreError::NotFound),
            "{name}: stale version"
        );
        let rows = store.kv_find("topics", "t").await.expect("find");
        assert_eq!((rows[0].v.as_str(), rows[0].version), ("[1]", 2), "{name}");
        store
            .kv_create("topics", "u", "[]", 1)
            .await
            .expect("create");
        assert_eq!(
            store.kv_find("topics", "").await.expect("all").len(),
            2,
            "{name}"
        );
        let (page, next) = store.kv_scan("topics", "", 1).await.expect("scan");
        assert_eq!(page[0].k, "u", "{name}: newest first");
        let (page, _) = store.kv_scan("topics", &next, 1).await.expect("scan");
        assert_eq!(page[0].k, "t", "{name}");
        store.kv_delete("topics", "t").await.expect("delete");
        assert_eq!(
            store.kv_delete("topics", "t").await,
            Err(StoreError::NotFound),
            "{name}"
        );
    }
}

#[tokio::test]
async fn durable_writes_survive_reopening() {
    let dir = std::env::temp_dir().join(format!("dtmx-reopen-{}", rand_suffix()));
    let path = dir.join("dtmx.db");
    {
        let store = SqliteStore::open(&path).expect("open");
        store
            .save_new(
                trans("kept", TransStatus::Submitted, 0),
                saga_branches("kept"),
            )
            .await
            .expect("insert");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    assert!(store.find_trans("kept").await.expect("find").is_some());
    assert_eq!(store.find_branches("kept").await.expect("b").len(), 4);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn retention_deletes_old_finished_transactions_only() {
    use dtmx_server::retention::sweep;
    for (name, store) in stores("retention").await {
        let rows = [
            ("r-old-ok", TransStatus::Succeed, 10_000),
            ("r-old-failed", TransStatus::Failed, 20_000),
            ("r-old-stuck", TransStatus::Submitted, 30_000),
            ("r-old-ok2", TransStatus::Succeed, 40_000),
            ("r-new-ok", TransStatus::Succeed, 90_000),
        ];
        for (gid, status, created) in rows {
            let mut t = trans(gid, status, 0);
            t.create_time = created;
            t.update_time = created;
            let branches = vec![branch(gid, "01", "action")];
            store.save_new(t, branches).await.expect("save");
        }
        // Batches of two: the sweep pages through the old ones.
        assert_eq!(sweep(store.as_ref(), 50_000, 2).await, Ok(3), "{name}");
        for gone in ["r-old-ok", "r-old-failed", "r-old-ok2"] {
            assert_eq!(store.find_trans(gone).await, Ok(None), "{name} {gone}");
            assert_eq!(store.find_branches(gone).await, Ok(vec![]), "{name} {gone}");
        }
        for kept in ["r-old-stuck", "r-new-ok"] {
            assert!(
                store.find_trans(kept).await.expect("find").is_some(),
                "{name} {kept}"
            );
            assert_eq!(
                store.find_branches(kept).await.map(|b| b.len()),
                Ok(1),
                "{name} {kept}"
            );
        }
        assert_eq!(sweep(store.as_ref(), 50_000, 2).await, Ok(0), "{name}");
        // Once the old unfinished one finishes, the next sweep deletes it.
        let change = StatusChange::to(TransStatus::Succeed, 60_000);
        store
            .change_status("r-old-stuck", TransStatus::Submitted, change, true)
            .await
            .expect("finish");
        assert_eq!(sweep(store.as_ref(), 50_000, 500).await, Ok(1), "{name}");
        assert_eq!(store.find_trans("r-old-stuck").await, Ok(None), "{name}");
        let all = ScanQuery {
            limit: 10,
            ..ScanQuery::default()
        };
        let (left, _) = store.scan(all).await.expect("scan");
        let gids: Vec<&str> = left.iter().map(|t| t.gid.as_str()).collect();
        assert_eq!(gids, ["r-new-ok"], "{name}");
    }
}
