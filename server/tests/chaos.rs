//! Chaos: branch services that hang, reset connections, answer garbage or huge bodies,
//! and the embedded store's disk filling up. Each scenario ends with every acknowledged
//! transaction finished correctly (status, and compensations exactly where DTM's rules
//! put them) and the server still serving (ping, and a fresh saga succeeds).
//!
//! The misbehaving services are raw TCP listeners (`common/chaos.rs`). The database
//! restarted or killed under load is `store_outage.rs` (PostgreSQL, MariaDB, Redis).

#[path = "common/chaos.rs"]
mod chaos;
mod common;

use chaos::*;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// The server still serves: ping, and a new saga on a well-behaved service succeeds.
async fn assert_serving(dtm: &Dtmx, tag: &str) {
    assert!(dtm.ping().await, "{tag}: ping");
    let busi = Busi::start().await;
    let gid = format!("{tag}-fresh");
    let r = dtm
        .submit(&transfer(&busi, &gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{gid}: {:?}", r.body);
    assert_eq!(dtm.status(&gid).await, "succeed");
}

/// What a saga of a scenario must end with: `-ok-` sagas succeed without any compensation;
/// `-refuse-` sagas (TransIn answers 409 once the service behaves) fail, with both
/// compensations run, TransInRevert before TransOutRevert, and no action after them.
fn check_branch_calls(raw: &RawBusi, gid: &str, status: &str) {
    let calls = raw.calls_of(gid);
    let names: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
    for c in &calls {
        let op = if c.name.ends_with("Revert") {
            "compensate"
        } else {
            "action"
        };
        assert_eq!(c.op, op, "{gid}: {names:?}");
    }
    match status {
        "succeed" => {
            assert!(
                !names.iter().any(|n| n.ends_with("Revert")),
                "{gid} succeeded but was compensated: {names:?}"
            );
            assert!(
                names.contains(&"TransOut") && names.contains(&"TransIn"),
                "{gid}: {names:?}"
            );
        }
        "failed" => {
            for n in ["TransOut", "TransIn", "TransInRevert", "TransOutRevert"] {
                assert!(names.contains(&n), "{gid} failed without {n}: {names:?}");
            }
            // TransOutRevert is only called once TransInRevert answered success. (Later
            // calls from a second pass are possible: moving the clock on lets the cron
            // lease a saga whose pass is still running, as in DTM; branches are
            // idempotent, so they are not checked.)
            let answered = |m: Mode| {
                matches!(
                    m,
                    Mode::Good | Mode::Huge | Mode::Endless | Mode::InvalidJson200
                )
            };
            let first_in = calls
                .iter()
                .position(|c| c.name == "TransInRevert" && answered(c.mode));
            let first_out = calls.iter().position(|c| c.name == "TransOutRevert");
            assert!(
                matches!((first_in, first_out), (Some(i), Some(o)) if i < o),
                "{gid}: compensations out of order: {names:?}"
            );
        }
        other => panic!("unexpected status {other}"),
    }
}

/// Runs sagas against a service in `bad` mode until it has taken `2 * sagas` bad
/// connections (each saga's branch calls failing and being retried), then lets it behave
/// and checks every saga ends as DTM's rules say.
async fn branch_misbehaves_then_recovers(tag: &str, bad: Mode) {
    let dtm = Dtmx::start().await;
    let raw = RawBusi::start(bad).await;
    let gids: Vec<(String, &str)> = vec![
        (format!("{tag}-ok-1"), "succeed"),
        (format!("{tag}-ok-2"), "succeed"),
        (format!("{tag}-refuse-1"), "failed"),
    ];
    for (gid, _) in &gids {
        let r = dtm
            .submit(&raw_transfer(raw.port, gid, json!({"request_timeout": 1})))
            .await;
        assert_eq!(r.status, 200, "{gid}: {:?}", r.body);
    }
    // Every saga's first call fails; move the clock on so the cron retries them.
    let want = 2 * gids.len() as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while raw.bad_conns() < want {
        assert!(
            Instant::now() < deadline,
            "{tag}: only {} bad connections",
            raw.bad_conns()
        );
        for (gid, _) in &gids {
            let q = dtm.query(gid).await;
            assert_eq!(q["transaction"]["status"], "submitted", "{gid}: {q:#}");
            assert!(
                statuses(&q).iter().all(|s| s == "prepared"),
                "{gid}: a branch recorded an outcome from a bad reply: {q:#}"
            );
        }
        dtm.forward(60).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if bad == Mode::Hang {
        // The server gives up on every hung call by itself (request_timeout), closing it;
        // once all are closed no pass waits on this service any more.
        let hung = raw.calls().len() as u64;
        eventually(PROMPT, "hung calls abandoned by the server", || async {
            raw.hung_up_by_peer() >= hung
        })
        .await;
    }
    raw.set_mode(Mode::Good);
    settle(&dtm, &gids, Duration::from_secs(40)).await;
    for (gid, status) in &gids {
        check_branch_calls(&raw, gid, status);
    }
    assert_serving(&dtm, tag).await;
    eprintln!(
        "{tag}: {} bad connections, {} calls, all {} sagas finished",
        raw.bad_conns(),
        raw.calls().len(),
        gids.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_that_hangs_times_out_and_is_retried() {
    branch_misbehaves_then_recovers("hang", Mode::Hang).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_that_resets_connections_is_retried() {
    branch_misbehaves_then_recovers("reset", Mode::Reset).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_that_answers_non_http_bytes_is_retried() {
    branch_misbehaves_then_recovers("garbage", Mode::Garbage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_with_truncated_chunked_body_is_retried() {
    branch_misbehaves_then_recovers("chunked", Mode::TruncatedChunked).await;
}

/// 200 with a body that is not JSON is a success (PROTOCOL.md §1.6, as in DTM: only
/// the status and the words FAILURE / ONGOING count), even for the saga whose TransIn
/// would refuse when well-behaved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_answering_200_with_invalid_json_succeeds() {
    let dtm = Dtmx::start().await;
    let raw = RawBusi::start(Mode::InvalidJson200).await;
    let gids: Vec<(String, &str)> = vec![
        ("badjson-ok-1".to_string(), "succeed"),
        ("badjson-refuse-1".to_string(), "succeed"),
    ];
    for (gid, _) in &gids {
        let r = dtm
            .submit(&raw_transfer(raw.port, gid, json!({"wait_result": true})))
            .await;
        assert_eq!(r.status, 200, "{gid}: {:?}", r.body);
    }
    settle(&dtm, &gids, Duration::from_secs(20)).await;
    for (gid, status) in &gids {
        check_branch_calls(&raw, gid, status);
    }
    assert_serving(&dtm, "badjson").await;
}

/// Huge and endless reply bodies: the server reads only the head of a reply (64 KiB),
/// drops the connection, and maps the status as usual; its memory does not grow with the
/// body. A 409 with a huge body still rolls the saga back.
async fn huge_bodies(tag: &str, mode: Mode) {
    let dtm = Dtmx::start().await;
    let pid = server_pid(dtm.port).expect("server pid");
    let base_rss = vm_kib(pid, "VmRSS").expect("VmRSS");
    let raw = RawBusi::start(mode).await;
    let mut gids: Vec<(String, &str)> = Vec::new();
    for i in 0..4 {
        gids.push((format!("{tag}-ok-{i}"), "succeed"));
    }
    gids.push((format!("{tag}-refuse-1"), "failed"));
    for (gid, want) in &gids {
        let r = dtm
            .submit(&raw_transfer(raw.port, gid, json!({"wait_result": true})))
            .await;
        let code = if *want == "failed" { 409 } else { 200 };
        assert_eq!(r.status, code, "{gid}: {:?}", r.body);
    }
    settle(&dtm, &gids, Duration::from_secs(40)).await;
    for (gid, status) in &gids {
        check_branch_calls(&raw, gid, status);
        assert!(
            raw.calls_of(gid).iter().all(|c| c.mode == mode),
            "{gid}: every call got a {mode:?} reply"
        );
    }
    let q = dtm.query(&format!("{tag}-refuse-1")).await;
    let reason = q["transaction"]["rollback_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("no funds"), "{reason:.200}");
    // The reason is the head of the reply (64 KiB) after a short prefix.
    assert!(
        reason.len() <= 65 * 1024,
        "rollback_reason of {} bytes",
        reason.len()
    );
    // The server hung up long before the end of any body (socket buffers hold a few MB).
    let sent = raw.max_body_sent();
    assert!(
        sent < HUGE_BYTES / 2,
        "the server read {sent} bytes of a {mode:?} body"
    );
    let peak = vm_kib(pid, "VmHWM").expect("VmHWM");
    eprintln!(
        "{tag}: {} calls, at most {sent} body bytes sent on one, server RSS {base_rss} KiB \
         at start, peak {peak} KiB",
        raw.calls().len()
    );
    assert!(
        peak < base_rss + 40 * 1024,
        "server memory grew from {base_rss} KiB to a peak of {peak} KiB"
    );
    assert_serving(&dtm, tag).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_answering_50_mb_bodies_is_read_only_in_part() {
    huge_bodies("huge", Mode::Huge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_answering_an_endless_body_is_read_only_in_part() {
    huge_bodies("endless", Mode::Endless).await;
}

/// Fills the disk under `dir` with a file; returns its path.
fn fill_disk(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("create filler");
    let block = vec![0u8; 16 * 1024];
    while f.write_all(&block).is_ok() {}
    // A last, small write may still fit.
    while f.write_all(&block[..512]).is_ok() {}
    let _ = f.sync_all();
    path
}

/// The embedded store's disk fills up (a 2 MB tmpfs): acknowledged sagas survive, writes
/// during the outage get a clear 5xx, reads and ping keep working, and once space is freed
/// the same server process serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_store_disk_full_then_freed() {
    let store = std::env::var("DTMX_TEST_STORE").unwrap_or_default();
    if !matches!(store.as_str(), "" | "sqlite") {
        eprintln!(
            "SKIPPED: the disk-full scenario is for the embedded store (DTMX_TEST_STORE={store})"
        );
        return;
    }
    let dir = unique_dir("diskfull");
    // Dropped last: removes the directory once the tmpfs is unmounted (kept on failure).
    struct RemoveDir(std::path::PathBuf);
    impl Drop for RemoveDir {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
    let _remove_dir = RemoveDir(dir.clone());
    let mount_dir = dir.join("store");
    // Declared before the server, so it is dropped (unmounted) after the server is killed.
    let _tmpfs = match Tmpfs::mount(&mount_dir, "2m") {
        Ok(t) => t,
        Err(e) => {
            eprintln!("SKIPPED: cannot mount a tmpfs to fill ({e}); run as root");
            return;
        }
    };
    let db = mount_dir.join("dtmx.db");
    let db = db.to_string_lossy().into_owned();
    let dtm = Dtmx::start_in_with_env(dir.clone(), &[("STORE_PATH", db.as_str())]).await;
    let busi = Busi::start().await;
    // Finished before the outage.
    let mut expected: Vec<(String, &str)> = Vec::new();
    for i in 0..3 {
        let gid = format!("full-before-{i}");
        let r = dtm
            .submit(&transfer(&busi, &gid, json!({"wait_result": true})))
            .await;
        assert_eq!(r.status, 200, "{gid}: {:?}", r.body);
        expected.push((gid, "succeed"));
    }
    // Acknowledged but unfinished at the outage: their service is down.
    let later_port = free_port();
    for i in 0..3 {
        let gid = format!("full-pending-{i}");
        let r = dtm.submit(&raw_transfer(later_port, &gid, json!({}))).await;
        assert_eq!(r.status, 200, "{gid}: {:?}", r.body);
        expected.push((gid, "succeed"));
    }

    let filler = fill_disk(&mount_dir);
    // Writes now fail: submit sagas with 100 KB payloads until the server refuses one.
    let payload = format!("{{\"pad\":\"{}\"}}", "x".repeat(100 * 1024));
    let mut refused = Vec::new();
    let mut accepted_during = 0;
    for i in 0..40 {
        let gid = format!("full-during-{i}");
        let body = saga(
            &busi,
            &gid,
            &[("TransOut", "TransOutRevert"), ("TransIn", "TransInRevert")],
            &[&payload, &payload],
            json!({}),
        );
        let r = dtm.submit(&body).await;
        match r.status {
            200 => {
                accepted_during += 1;
                expected.push((gid, "succeed"));
            }
            s => {
                assert!(s >= 500, "{gid}: {s} {:?}", r.body);
                let text = r.body.to_string();
                assert!(
                    text.contains("full") || text.contains("disk") || text.contains("space"),
                    "{gid}: the error does not say the disk is full: {text}"
                );
                if refused.is_empty() {
                    eprintln!("disk full: submit refused with {s} {text}");
                }
                refused.push(gid);
                if refused.len() >= 3 {
                    break;
                }
            }
        }
    }
    assert!(
        !refused.is_empty(),
        "no submit failed with a full disk ({accepted_during} accepted)"
    );
    // Reads and ping keep working during the outage.
    assert!(dtm.ping().await, "ping during the outage");
    assert_eq!(dtm.status("full-before-0").await, "succeed");
    for gid in &refused {
        let q = dtm.query_resp(gid).await;
        assert!(q.status == 200 || q.status >= 500, "{gid}: {q:?}");
    }

    // Free the space: the same process serves again.
    std::fs::remove_file(&filler).expect("remove filler");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = dtm
            .submit(&transfer(&busi, "full-after", json!({"wait_result": true})))
            .await;
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no submit succeeded after the space was freed: {} {:?}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    expected.push(("full-after".to_string(), "succeed"));
    let later = Busi::start_on(later_port).await;
    settle(&dtm, &expected, Duration::from_secs(40)).await;
    for (gid, _) in &expected {
        let names = if gid.starts_with("full-pending") {
            later.names(gid)
        } else {
            busi.names(gid)
        };
        assert!(
            names.iter().all(|n| !n.ends_with("Revert")) && names.len() >= 2,
            "{gid}: {names:?}"
        );
    }
    // Refused submits left nothing behind, or something that finishes like the others.
    let mut stored = Vec::new();
    for gid in &refused {
        if !dtm.status(gid).await.is_empty() {
            stored.push((gid.clone(), "succeed"));
        }
    }
    settle(&dtm, &stored, Duration::from_secs(20)).await;
    assert_serving(&dtm, "full").await;
    eprintln!(
        "disk full: {} acknowledged sagas finished, {} submits refused during the outage, \
         {accepted_during} accepted during it",
        expected.len(),
        refused.len()
    );
}
