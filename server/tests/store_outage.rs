//! The database goes away under load: PostgreSQL restarted in immediate (crash) mode,
//! MariaDB's server process killed with `kill -9` (mysqld_safe starts it again), a Redis
//! with `appendfsync always` killed with `kill -9` and started again. Requests
//! during the outage get a clear 5xx, the server reconnects by itself, and every saga it
//! acknowledged finishes.
//!
//! These tests restart the shared database servers of `scripts/services`, so they live in
//! their own test binary (cargo runs test binaries one after another) and need root.

mod common;

use common::databases;
use common::*;
use dtmx_server::config::StoreConfig;
use serde_json::json;
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn run(cmd: &str, args: &[&str]) {
    let status = Command::new(cmd)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(status.success(), "{cmd} {args:?}: {status}");
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = ([127, 0, 0, 1], port).into();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "port {port} did not come back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn restart_postgres() {
    let versions = std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL installed");
    let version = versions
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .max()
        .expect("a PostgreSQL version");
    run(
        "pg_ctlcluster",
        &[&version, "main", "restart", "-m", "immediate"],
    );
    wait_port(5432);
}

fn crash_mariadb() {
    run("pkill", &["-9", "-x", "mariadbd"]);
    // mysqld_safe notices and starts the server again.
    std::thread::sleep(Duration::from_millis(500));
    wait_port(3306);
}

/// A Redis server of the test's own, persisting every write (`appendfsync always`), so it
/// can be killed with `kill -9` without touching the shared one.
struct OwnRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: Mutex<Option<std::process::Child>>,
}

impl OwnRedis {
    fn start() -> Arc<OwnRedis> {
        let me = Arc::new(OwnRedis {
            port: free_port(),
            dir: unique_dir("redis"),
            child: Mutex::new(None),
        });
        me.spawn();
        me
    }

    fn spawn(&self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start redis-server");
        *self.child.lock().expect("child") = Some(child);
        wait_port(self.port);
    }

    fn crash_and_restart(&self) {
        if let Some(mut child) = self.child.lock().expect("child").take() {
            child.kill().expect("kill -9 redis");
            child.wait().expect("reap redis");
        }
        std::thread::sleep(Duration::from_millis(500));
        self.spawn();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.lock().expect("child").take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn acknowledged_sagas_survive_an_outage(
    config: StoreConfig,
    outage: impl FnOnce() + Send + 'static,
) {
    dtmx_server::store::reset(&config)
        .await
        .expect("reset the store");
    let env = databases::env(&config);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dtm = Arc::new(Dtmx::start_with_env(&env).await);
    let busi = Arc::new(Busi::start().await);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(Mutex::new(Vec::<u16>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (dtm, busi, stop) = (dtm.clone(), busi.clone(), stop.clone());
        let (acknowledged, refused) = (acknowledged.clone(), refused.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let gid = format!("outage-{w}-{i}");
                i += 1;
                let r = dtm.submit(&transfer(&busi, &gid, json!({}))).await;
                match r.status {
                    200 => acknowledged.lock().expect("list").push(gid),
                    status => {
                        assert!(status >= 500, "{gid}: {status} {:?}", r.body);
                        refused.lock().expect("list").push(status);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    tokio::task::spawn_blocking(outage)
        .await
        .expect("outage done");
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    let acknowledged = acknowledged.lock().expect("list").clone();
    assert!(acknowledged.len() > 20, "too little load: {acknowledged:?}");
    // Passes cut off by the outage are resumed by the cron: move its clock on.
    let mut pending = acknowledged.clone();
    for _ in 0..60 {
        let mut still = Vec::new();
        for gid in pending {
            if dtm.status(&gid).await != "succeed" {
                still.push(gid);
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        dtm.forward(30).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        pending.is_empty(),
        "acknowledged but unfinished: {pending:?}"
    );
    // Still serving, on new connections.
    let r = dtm
        .submit(&transfer(
            &busi,
            "after-outage",
            json!({"wait_result": true}),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    eprintln!(
        "{} sagas acknowledged and finished, {} refused during the outage",
        acknowledged.len(),
        refused.lock().expect("list").len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_loses_nothing() {
    acknowledged_sagas_survive_an_outage(databases::postgres("outage"), restart_postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_crash_loses_nothing() {
    acknowledged_sagas_survive_an_outage(databases::mysql("outage"), crash_mariadb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_crash_with_appendfsync_always_loses_nothing() {
    let redis = OwnRedis::start();
    let config = StoreConfig {
        port: redis.port as i64,
        ..databases::redis("outage")
    };
    let crash = redis.clone();
    acknowledged_sagas_survive_an_outage(config, move || crash.crash_and_restart()).await;
}
