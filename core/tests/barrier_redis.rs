//! The Redis barrier on a real Redis (`DTMX_TEST_REDIS_URL`, default the one of
//! scripts/services): idempotence, null compensation, fencing, the msg check-back and
//! random concurrent deliveries. Fails when Redis is unreachable.

mod barrier_common;

use barrier_common::{env_url, run_id, unreachable_db};
use dtmx::barrier::{redis as rb, Barrier, RedisDecision};
use dtmx::{DtmResult, ErrorKind, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use std::time::Duration;

const DEFAULT_URL: &str = "redis://127.0.0.1:6379/";
const EXPIRE: u64 = 120;

async fn connection() -> MultiplexedConnection {
    let url = env_url("DTMX_TEST_REDIS_URL", DEFAULT_URL);
    let client =
        redis::Client::open(url.as_str()).unwrap_or_else(|e| unreachable_db("Redis", &url, e));
    let connect = client.get_multiplexed_async_connection();
    match tokio::time::timeout(Duration::from_secs(30), connect).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => unreachable_db("Redis", &url, e),
        Err(e) => unreachable_db("Redis", &url, e),
    }
}

/// Keys of one test run, deleted at the end.
struct Keys {
    conn: MultiplexedConnection,
    prefix: String,
}

impl Keys {
    fn new(conn: &MultiplexedConnection) -> Keys {
        Keys {
            conn: conn.clone(),
            prefix: format!("dtmx-test-{}", run_id()),
        }
    }

    fn gid(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    async fn account(&mut self, name: &str, amount: i64) -> String {
        let key = format!("{}:acct:{name}", self.prefix);
        let _: () = self
            .conn
            .set_ex(&key, amount, EXPIRE)
            .await
            .expect("set account");
        key
    }

    async fn get(&mut self, key: &str) -> Option<String> {
        self.conn.get(key).await.expect("get")
    }

    async fn cleanup(mut self) {
        let pattern = format!("{}*", self.prefix);
        let keys: Vec<String> = self.conn.keys(&pattern).await.expect("keys");
        if !keys.is_empty() {
            let _: () = self.conn.del(keys).await.expect("del");
        }
    }
}

async fn adjust(
    conn: &mut MultiplexedConnection,
    tt: &str,
    gid: &str,
    op: &str,
    key: &str,
    amount: i64,
) -> Result<RedisDecision> {
    let branch_id = if op == "msg" { "00" } else { "01" };
    let mut barrier = Barrier::new(tt, gid, branch_id, op)?;
    rb::check_adjust_amount(conn, &mut barrier, key, amount, EXPIRE).await
}

async fn balance(conn: &mut MultiplexedConnection, key: &str) -> i64 {
    conn.get(key).await.expect("balance")
}

#[tokio::test]
async fn check_adjust_amount_is_idempotent_and_fenced() {
    use RedisDecision::*;
    let mut conn = connection().await;
    let mut keys = Keys::new(&conn);
    let c = &mut conn;

    // TCC: try, repeated try, cancel, repeated cancel, late try.
    let acct = keys.account("a", 100).await;
    let g = keys.gid("tcc");
    assert_eq!(
        adjust(c, "tcc", &g, "try", &acct, -30).await.ok(),
        Some(Applied)
    );
    assert_eq!(
        adjust(c, "tcc", &g, "try", &acct, -30).await.ok(),
        Some(Duplicate)
    );
    assert_eq!(balance(c, &acct).await, 70);
    assert_eq!(
        adjust(c, "tcc", &g, "cancel", &acct, 30).await.ok(),
        Some(Applied)
    );
    assert_eq!(
        adjust(c, "tcc", &g, "cancel", &acct, 30).await.ok(),
        Some(Duplicate)
    );
    assert_eq!(
        adjust(c, "tcc", &g, "try", &acct, -30).await.ok(),
        Some(Duplicate)
    );
    assert_eq!(balance(c, &acct).await, 100);
    let ttl: i64 = c.ttl(format!("{g}-01-try-01")).await.expect("ttl");
    assert!(
        ttl > 0 && ttl <= EXPIRE as i64,
        "barrier key expires: {ttl}"
    );

    // Null compensation: cancel first, then the late try is fenced.
    let g = keys.gid("null");
    assert_eq!(
        adjust(c, "tcc", &g, "cancel", &acct, 30).await.ok(),
        Some(NullCompensation)
    );
    assert_eq!(
        adjust(c, "tcc", &g, "try", &acct, -30).await.ok(),
        Some(Suspended)
    );
    assert_eq!(
        adjust(c, "tcc", &g, "cancel", &acct, 30).await.ok(),
        Some(Duplicate)
    );
    assert_eq!(balance(c, &acct).await, 100);
    assert_eq!(
        keys.get(&format!("{g}-01-try-01")).await.as_deref(),
        Some("rollback")
    );

    // Saga: an action refused for lack of funds leaves no barrier key, so its
    // compensation is a null compensation; repeating it never fails for lack of funds.
    let poor = keys.account("poor", 10).await;
    let g = keys.gid("saga");
    let refused = adjust(c, "saga", &g, "action", &poor, -30).await;
    assert_eq!(refused.map_err(|e| e.kind()), Err(ErrorKind::Failure));
    assert_eq!(keys.get(&format!("{g}-01-action-01")).await, None);
    assert_eq!(
        adjust(c, "saga", &g, "compensate", &poor, -30).await.ok(),
        Some(NullCompensation)
    );
    assert_eq!(
        adjust(c, "saga", &g, "compensate", &poor, -30).await.ok(),
        Some(Duplicate)
    );
    assert_eq!(balance(c, &poor).await, 10);

    // A missing amount key is a failure.
    let missing = format!("{}:acct:missing", keys.prefix);
    let got = adjust(c, "saga", &keys.gid("missing"), "action", &missing, 1).await;
    assert_eq!(got.map_err(|e| e.kind()), Err(ErrorKind::Failure));

    // Two guarded adjustments in one handler use barrier ids 01 and 02.
    let g = keys.gid("two");
    let mut barrier = Barrier::new("saga", &g, "01", "action").expect("barrier");
    for _ in 0..2 {
        let got = rb::check_adjust_amount(c, &mut barrier, &acct, 1, EXPIRE).await;
        assert_eq!(got.ok(), Some(Applied));
    }
    assert_eq!(balance(c, &acct).await, 102);
    assert_eq!(
        keys.get(&format!("{g}-01-action-02")).await.as_deref(),
        Some("action")
    );

    keys.cleanup().await;
}

#[tokio::test]
async fn msg_check_back() {
    let mut conn = connection().await;
    let mut keys = Keys::new(&conn);
    let acct = keys.account("m", 0).await;
    let c = &mut conn;
    let check = |gid: String| async move {
        let mut conn = connection().await;
        let barrier = Barrier::new("msg", &gid, "00", "msg").expect("barrier");
        rb::query_prepared(&mut conn, &barrier, EXPIRE).await
    };

    // The check-back comes first: FAILURE, and the local transaction is fenced for good.
    let g = keys.gid("fenced");
    assert_eq!(check(g.clone()).await.expect("check"), DtmResult::Failure);
    let got = adjust(c, "msg", &g, "msg", &acct, 5).await;
    assert_eq!(got.map_err(|e| e.kind()), Err(ErrorKind::Duplicated));
    assert_eq!(check(g).await.expect("check"), DtmResult::Failure);

    // The local transaction comes first: SUCCESS, and a second one is a duplicate.
    let g = keys.gid("done");
    assert_eq!(
        adjust(c, "msg", &g, "msg", &acct, 5).await.ok(),
        Some(RedisDecision::Applied)
    );
    assert_eq!(check(g.clone()).await.expect("check"), DtmResult::Success);
    let got = adjust(c, "msg", &g, "msg", &acct, 5).await;
    assert_eq!(got.map_err(|e| e.kind()), Err(ErrorKind::Duplicated));
    assert_eq!(balance(c, &acct).await, 5);

    keys.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_concurrent_deliveries() {
    let conn = connection().await;
    let mut keys = Keys::new(&conn);
    let seed = barrier_common::seed();
    let mut rng = StdRng::seed_from_u64(seed);
    let cases = barrier_common::case_count();
    let mut tasks = tokio::task::JoinSet::new();
    let mut accounts = Vec::new();
    for i in 0..cases {
        let acct = keys.account(&format!("r{i}"), 100).await;
        let gid = keys.gid(&format!("r{i}"));
        // Saga abort path: duplicated actions and compensations in any order; or commit
        // path: duplicated actions only.
        let abort = rng.gen_bool(0.5);
        let mut ops = vec!["action"; rng.gen_range(usize::from(abort)..=3)];
        if abort {
            ops.extend(vec!["compensate"; rng.gen_range(1..=3)]);
        }
        accounts.push((acct.clone(), abort, ops.contains(&"action")));
        for op in ops {
            let delay = Duration::from_micros(rng.gen_range(0..3000));
            let (mut conn, acct, gid) = (conn.clone(), acct.clone(), gid.clone());
            tasks.spawn(async move {
                tokio::time::sleep(delay).await;
                let amount = if op == "action" { -30 } else { 30 };
                adjust(&mut conn, "saga", &gid, op, &acct, amount).await
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task").expect("delivery");
    }
    let mut c = conn.clone();
    for (acct, abort, had_action) in accounts {
        let got = balance(&mut c, &acct).await;
        let want = if abort || !had_action { 100 } else { 70 };
        assert_eq!(got, want, "{acct} (abort {abort})");
    }
    keys.cleanup().await;
}
