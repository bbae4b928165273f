//! Closed-loop load generator for any DTM-compatible server: keeps N sagas of two
//! branches in flight (`wait_result: true`, unique gids), measures submit latency in an
//! HDR histogram, then verifies that every saga is `succeed` through `/query`.
//!
//! Usage: `bench-load DTM_URL BUSI_URL [IN_FLIGHT] [SECONDS]`
//! e.g. `bench-load http://127.0.0.1:36789/api/dtmsvr http://127.0.0.1:8082/api/busi 64 30`

use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn saga_body(gid: &str, busi: &str) -> String {
    serde_json::json!({
        "gid": gid, "trans_type": "saga", "wait_result": true, "concurrent": false,
        "protocol": "",
        "steps": [
            {"action": format!("{busi}/TransOut"), "compensate": format!("{busi}/TransOutRevert")},
            {"action": format!("{busi}/TransIn"), "compensate": format!("{busi}/TransInRevert")}
        ],
        "payloads": ["{\"amount\":30}", "{\"amount\":30}"]
    })
    .to_string()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: bench-load DTM_URL BUSI_URL [IN_FLIGHT] [SECONDS]");
        std::process::exit(2);
    }
    let dtm = args[1].clone();
    let busi = args[2].clone();
    let in_flight: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(64);
    let seconds: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(10);
    let warmup = Duration::from_secs(2);
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(in_flight)
        .build()
        .expect("http client");
    let run = format!("b{}", std::process::id());
    let counter = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let hist = Arc::new(Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram"),
    ));
    let errors = Arc::new(AtomicU64::new(0));
    let measured = Arc::new(AtomicU64::new(0));
    let gids = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for _ in 0..in_flight {
        let (client, dtm, busi, run) = (client.clone(), dtm.clone(), busi.clone(), run.clone());
        let (counter, stop, measuring, hist, errors, measured, gids) = (
            counter.clone(),
            stop.clone(),
            measuring.clone(),
            hist.clone(),
            errors.clone(),
            measured.clone(),
            gids.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("h");
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let gid = format!("{run}-{}", counter.fetch_add(1, Ordering::Relaxed));
                let body = saga_body(&gid, &busi);
                let start = Instant::now();
                let resp = client
                    .post(format!("{dtm}/submit"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let ok = match resp {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        local.saturating_record(start.elapsed().as_micros() as u64);
                        measured.fetch_add(1, Ordering::Relaxed);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                mine.push(gid);
            }
            hist.lock().expect("lock").add(&local).expect("merge");
            gids.lock().expect("lock").extend(mine);
        }));
    }
    tokio::time::sleep(warmup).await;
    measuring.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    let h = hist.lock().expect("lock").clone();
    let done = measured.load(Ordering::Relaxed);
    println!(
        "in_flight={in_flight} sagas={done} errors={} sagas/s={:.0} p50={}us p90={}us p99={}us p99.9={}us max={}us",
        errors.load(Ordering::Relaxed),
        done as f64 / elapsed,
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.90),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    );
    let all = gids.lock().expect("lock").clone();
    let bad = verify(&client, &dtm, &all).await;
    println!("verified {} sagas: {} not succeed", all.len(), bad);
    if bad > 0 {
        std::process::exit(1);
    }
}

/// Counts the sagas whose status is not `succeed`.
async fn verify(client: &reqwest::Client, dtm: &str, gids: &[String]) -> usize {
    let bad = Arc::new(AtomicU64::new(0));
    let chunks: Vec<Vec<String>> = gids
        .chunks(gids.len().div_ceil(32).max(1))
        .map(|c| c.to_vec())
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (client, dtm, bad) = (client.clone(), dtm.to_string(), bad.clone());
        tasks.push(tokio::spawn(async move {
            for gid in chunk {
                let ok = match client.get(format!("{dtm}/query?gid={gid}")).send().await {
                    Ok(r) => r
                        .json::<serde_json::Value>()
                        .await
                        .map(|v| v["transaction"]["status"] == "succeed")
                        .unwrap_or(false),
                    Err(_) => false,
                };
                if !ok {
                    bad.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    bad.load(Ordering::Relaxed) as usize
}
