//! Several `dtmx` servers on one store (PostgreSQL, MariaDB, Redis): three servers share
//! it under load, one is killed with `kill -9` mid-run, and the other two finish
//! everything it left behind. Every acknowledged saga ends with the right status, and no
//! branch is called after its transaction is final.

mod common;

use common::databases;
use common::*;
use dtmx_server::config::StoreConfig;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

/// What a saga of the run does, by its number.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Both steps succeed (the first slowly, so passes are in flight at the kill).
    Slow,
    /// The second step errors once and is retried by the cron.
    Retried,
    /// The second step refuses: the saga compensates and fails.
    Refused,
}

impl Kind {
    fn of(i: usize) -> Kind {
        match i % 3 {
            0 => Kind::Slow,
            1 => Kind::Retried,
            _ => Kind::Refused,
        }
    }

    fn final_status(self) -> &'static str {
        match self {
            Kind::Refused => "failed",
            _ => "succeed",
        }
    }
}

async fn three_servers_survive_a_kill(config: StoreConfig) {
    dtmx_server::store::reset(&config)
        .await
        .expect("reset the shared store");
    let env = databases::env(&config);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let busi = Busi::start().await;
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(Dtmx::start_with_env(&env).await);
    }
    let total = 90;
    let mut acknowledged: HashMap<String, Kind> = HashMap::new();
    for i in 0..total {
        let gid = format!("multi-{i}");
        let kind = Kind::of(i);
        match kind {
            Kind::Slow => busi.plan(
                &gid,
                "TransOut",
                [Reply::ok().after(Duration::from_millis(400))],
            ),
            Kind::Retried => busi.plan(&gid, "TransIn", [Reply::error()]),
            Kind::Refused => busi.plan(&gid, "TransIn", [Reply::failure("no funds")]),
        }
        // Round robin over the servers still alive; server 0 dies a third of the way in.
        if i == total / 3 {
            servers[0].kill9();
        }
        let alive = if i >= total / 3 { 1 + i % 2 } else { i % 3 };
        let r = servers[alive]
            .submit(&transfer(&busi, &gid, json!({})))
            .await;
        assert_eq!(r.status, 200, "{gid}: {:?}", r.body);
        acknowledged.insert(gid, kind);
    }
    // The killed server's leases and the retries come due after the retry interval: move
    // the survivors' clocks on instead of waiting.
    let mut pending: Vec<(&String, &Kind)> = acknowledged.iter().collect();
    for _ in 0..60 {
        let mut still = Vec::new();
        for (gid, kind) in pending {
            let status = servers[1].status(gid).await;
            if status != kind.final_status() {
                assert!(
                    !matches!(status.as_str(), "succeed" | "failed"),
                    "{gid} ({kind:?}) ended {status}"
                );
                still.push((gid, kind));
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        for s in &servers[1..] {
            s.forward(30).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(pending.is_empty(), "unfinished: {pending:?}");
    for (gid, kind) in &acknowledged {
        let names = busi.names(gid);
        let expected: &[&str] = match kind {
            Kind::Refused => &["TransOut", "TransIn", "TransInRevert", "TransOutRevert"],
            _ => &["TransOut", "TransIn"],
        };
        for name in expected {
            assert!(names.iter().any(|n| n == name), "{gid}: {names:?}");
        }
    }
    // Nothing is called once final, even when every cron runs again much later.
    let calls = busi.all_calls().len();
    for s in &servers[1..] {
        s.forward(600).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        busi.all_calls().len(),
        calls,
        "a branch was called after its transaction was final"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_on_postgres_survive_a_kill() {
    three_servers_survive_a_kill(databases::postgres("multi")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_on_mariadb_survive_a_kill() {
    three_servers_survive_a_kill(databases::mysql("multi")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_on_redis_survive_a_kill() {
    three_servers_survive_a_kill(databases::redis("multi")).await;
}
