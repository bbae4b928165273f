//! Crash loop: rounds of concurrent load (sagas that succeed, some slowly or after a
//! retried error, and sagas a branch refuses), each ended by `kill -9` of the server at a
//! random moment and a restart on the same store. At the end every acknowledged saga (HTTP
//! 200 to its submit) must reach its final status with the right branch calls: no
//! compensation for a saga that succeeded, both compensations for a refused one. Sagas
//! whose submit got no reply are checked too when the server stored them.
//!
//! `DTMX_CRASH_ROUNDS` (default 5) sets the rounds, `DTMX_CRASH_SEED` the random seed (the
//! seed of each run is printed), and `DTMX_TEST_STORE=postgres` runs it on PostgreSQL (as
//! every suite). `scripts/crash-loop` runs 50 rounds on the embedded store and PostgreSQL.

#[path = "common/chaos.rs"]
mod chaos;
mod common;

use chaos::settle;
use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What a saga does, by its number.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Both steps succeed at once (every other one submitted with `wait_result`).
    Fast,
    /// TransOut answers after 300 ms, so passes are in flight at the kill.
    Slow,
    /// TransIn errors once; the cron retries it.
    Retried,
    /// TransIn refuses (always): the saga compensates both steps and fails.
    Refused,
}

impl Kind {
    fn of(n: u64) -> Kind {
        match n % 4 {
            0 => Kind::Fast,
            1 => Kind::Slow,
            2 => Kind::Retried,
            _ => Kind::Refused,
        }
    }

    fn final_status(self) -> &'static str {
        if self == Kind::Refused {
            "failed"
        } else {
            "succeed"
        }
    }
}

struct Submitted {
    gid: String,
    kind: Kind,
    acknowledged: bool,
}

/// xorshift64*: enough randomness for kill moments, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Submits sagas one after another until `stop`, recording each and whether it was
/// acknowledged; a submit cut off by the kill is simply not acknowledged.
async fn worker(
    base: String,
    busi: Arc<Busi>,
    round: u64,
    w: u64,
    stop: Arc<AtomicBool>,
    out: Arc<Mutex<Vec<Submitted>>>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let gid = format!("cl-{round}-{w}-{i}");
        let kind = Kind::of(i + w);
        match kind {
            Kind::Fast => {}
            Kind::Slow => busi.plan(
                &gid,
                "TransOut",
                [Reply::ok().after(Duration::from_millis(300))],
            ),
            Kind::Retried => busi.plan(&gid, "TransIn", [Reply::error()]),
            Kind::Refused => busi.plan(&gid, "TransIn", vec![Reply::failure("no funds"); 100]),
        }
        let extra = if kind == Kind::Fast && i % 2 == 0 {
            json!({"wait_result": true})
        } else {
            json!({})
        };
        let body = transfer(&busi, &gid, extra);
        let acknowledged = match http
            .post(format!("{base}/api/dtmsvr/submit"))
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
        {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await;
                // A reply cut short by the kill is no acknowledgement.
                text.is_ok() && status == 200
            }
            Err(_) => false,
        };
        out.lock().expect("list").push(Submitted {
            gid,
            kind,
            acknowledged,
        });
        i += 1;
    }
}

/// Checks the branch calls of a finished saga; returns a description of what is wrong.
fn wrong_calls(calls: &[Call], kind: Kind) -> Option<String> {
    let names: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
    for c in calls {
        let op = if c.name.ends_with("Revert") {
            "compensate"
        } else {
            "action"
        };
        if c.q("op") != op {
            return Some(format!("{} called with op {}", c.name, c.q("op")));
        }
    }
    let has = |n: &str| names.contains(&n);
    match kind {
        Kind::Refused => {
            for n in ["TransOut", "TransIn", "TransInRevert", "TransOutRevert"] {
                if !has(n) {
                    return Some(format!("refused saga without {n}: {names:?}"));
                }
            }
            // TransOutRevert is only called once TransInRevert answered. (Later calls
            // from a second pass are possible: moving the clock on lets the cron lease a
            // saga whose pass still runs, as in DTM; branches are idempotent.)
            let first_in_done = calls
                .iter()
                .filter(|c| c.name == "TransInRevert" && c.status == 200)
                .filter_map(|c| c.end)
                .min();
            let first_out = calls
                .iter()
                .filter(|c| c.name == "TransOutRevert")
                .map(|c| c.start)
                .min();
            match (first_in_done, first_out) {
                (Some(i), Some(o)) if i < o => {}
                _ => return Some(format!("compensations out of order: {names:?}")),
            }
        }
        _ => {
            if !has("TransOut") || !has("TransIn") {
                return Some(format!("succeeded without both actions: {names:?}"));
            }
            if names.iter().any(|n| n.ends_with("Revert")) {
                return Some(format!("succeeded but compensated: {names:?}"));
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing() {
    let started = Instant::now();
    let rounds = env_u64("DTMX_CRASH_ROUNDS").unwrap_or(5);
    let seed = env_u64("DTMX_CRASH_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1
    });
    let store = std::env::var("DTMX_TEST_STORE").unwrap_or_else(|_| "sqlite".into());
    eprintln!("crash loop: {rounds} rounds on {store}, DTMX_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let busi = Arc::new(Busi::start().await);
    let mut dtm = Dtmx::start().await;
    let all: Arc<Mutex<Vec<Submitted>>> = Arc::new(Mutex::new(Vec::new()));
    let workers_n = 8;
    let mut lost: Vec<String> = Vec::new();
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..workers_n)
            .map(|w| {
                tokio::spawn(worker(
                    dtm.base.clone(),
                    busi.clone(),
                    round,
                    w,
                    stop.clone(),
                    all.clone(),
                ))
            })
            .collect();
        // Kill at a random moment of the load: mid-submit, mid-pass, mid-commit.
        let kill_after = rng.between(150, 1200);
        tokio::time::sleep(Duration::from_millis(kill_after)).await;
        dtm.kill9();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await.expect("worker");
        }
        dtm.restart().await;
        // Every saga acknowledged so far is still there after the restart.
        let round_prefix = format!("cl-{round}-");
        let acked: Vec<String> = all
            .lock()
            .expect("list")
            .iter()
            .filter(|s| s.acknowledged && s.gid.starts_with(&round_prefix))
            .map(|s| s.gid.clone())
            .collect();
        for gid in &acked {
            if dtm.status(gid).await.is_empty() {
                eprintln!("LOST after round {round}: {gid}");
                lost.push(gid.clone());
            }
        }
        eprintln!(
            "round {}/{rounds}: killed after {kill_after} ms, {} sagas acknowledged",
            round + 1,
            acked.len()
        );
    }

    // Finish everything: every acknowledged saga, and every stored unacknowledged one.
    let submitted = std::mem::take(&mut *all.lock().expect("list"));
    let kinds: HashMap<&str, Kind> = submitted.iter().map(|s| (s.gid.as_str(), s.kind)).collect();
    let acknowledged: Vec<&Submitted> = submitted.iter().filter(|s| s.acknowledged).collect();
    let mut expected: Vec<(String, &str)> = Vec::new();
    for s in &submitted {
        if lost.contains(&s.gid) {
            continue;
        }
        if s.acknowledged || !dtm.status(&s.gid).await.is_empty() {
            expected.push((s.gid.clone(), s.kind.final_status()));
        }
    }
    let unacknowledged_stored = expected.len() - (acknowledged.len() - lost.len());
    settle(&dtm, &expected, Duration::from_secs(120 + 2 * rounds)).await;
    let mut by_gid: HashMap<String, Vec<Call>> = HashMap::new();
    for c in busi.all_calls() {
        by_gid.entry(c.gid.clone()).or_default().push(c);
    }
    let mut wrong = Vec::new();
    for (gid, _) in &expected {
        let calls = by_gid.get(gid).map(Vec::as_slice).unwrap_or_default();
        if let Some(why) = wrong_calls(calls, kinds[gid.as_str()]) {
            wrong.push(format!("{gid}: {why}"));
        }
    }
    // Nothing is called once final, even when the cron runs again much later.
    let calls = busi.all_calls().len();
    dtm.forward(3600).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let late: Vec<String> = busi.all_calls()[calls..]
        .iter()
        .map(|c| format!("{} {}", c.gid, c.name))
        .collect();
    assert!(dtm.ping().await, "ping at the end");
    let verified = expected.len() - wrong.len();
    eprintln!(
        "crash loop on {store}: {rounds} rounds, {} sagas submitted, {} acknowledged, \
         {verified} verified ({unacknowledged_stored} of them unacknowledged but stored), \
         {} lost, {} wrong, in {:.1} s (DTMX_CRASH_SEED={seed})",
        submitted.len(),
        acknowledged.len(),
        lost.len(),
        wrong.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(lost.is_empty(), "acknowledged sagas lost: {lost:?}");
    assert!(wrong.is_empty(), "wrong branch calls: {wrong:#?}");
    assert!(
        late.is_empty(),
        "branches called after their saga was final: {late:?}"
    );
    assert!(acknowledged.len() >= rounds as usize, "too little load");
}
