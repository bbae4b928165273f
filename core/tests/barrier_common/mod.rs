//! Shared driver of the barrier tests on real databases: a property test of random
//! interleavings (duplicated, reordered, late and concurrent deliveries) and fixed
//! scenarios, run against one backend per database.
#![allow(dead_code, unused_macros)]

use dtmx::barrier::Decision;
use dtmx::{DtmResult, Error, ErrorKind, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A boxed, sendable future.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the business code of each op counts, per gid.
pub const COLUMNS: [&str; 6] = [
    "try_n",
    "confirm_n",
    "cancel_n",
    "action_n",
    "compensate_n",
    "msg_n",
];

/// The effect counter an op's business code increments.
pub fn column(op: &str) -> &'static str {
    match op {
        "try" => "try_n",
        "confirm" => "confirm_n",
        "cancel" => "cancel_n",
        "action" => "action_n",
        "compensate" => "compensate_n",
        "msg" => "msg_n",
        other => panic!("no effect column for op {other}"),
    }
}

/// Final effect counters of one gid, in [`COLUMNS`] order.
pub type Counters = [i64; 6];

/// One database under test.
pub trait Backend: Send + Sync + 'static {
    /// Creates the effect rows of `gids`.
    fn add_gids<'a>(&'a self, gids: &'a [String]) -> BoxFut<'a, Result<()>>;
    /// One branch delivery: a guarded local transaction whose business code increments the
    /// op's counter of `gid` and then fails when `fail` is set. `Ok(decision)` once
    /// committed; errors: `Failure` (injected), `Duplicated` (msg), `Database`.
    fn deliver<'a>(
        &'a self,
        trans_type: &'a str,
        gid: &'a str,
        op: &'a str,
        fail: bool,
    ) -> BoxFut<'a, Result<Decision>>;
    /// The msg check-back of `gid`.
    fn query_prepared<'a>(&'a self, gid: &'a str) -> BoxFut<'a, Result<DtmResult>>;
    /// XA phase 1 of `gid` (barrier row, business, commit), after the phase-2 rollback fence
    /// when `fence_first`.
    fn xa_action<'a>(&'a self, gid: &'a str, fence_first: bool) -> BoxFut<'a, Result<Decision>>;
    /// Effect counters of every gid.
    fn counters(&self) -> BoxFut<'_, Result<HashMap<String, Counters>>>;
}

/// A database URL from `var`, else `default`.
pub fn env_url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// A short id unique to this test run, for table names and gids.
pub fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}_{nanos}", std::process::id())
}

/// Panics with a hint when a database is unreachable: such tests fail, never skip.
pub fn unreachable_db(what: &str, url: &str, e: impl std::fmt::Display) -> ! {
    panic!(
        "{what} at {url} is unreachable ({e}); start the test databases with \
         scripts/services or point the DTMX_TEST_*_URL variables at running ones"
    )
}

/// Transaction shapes of the property test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// try succeeds, then confirms and late duplicate tries, concurrently.
    TccCommit,
    /// tries (some failing) and cancels, all concurrently and in any order.
    TccAbort,
    /// action succeeds, then late duplicates.
    SagaCommit,
    /// actions (some failing) and compensations, concurrently.
    SagaAbort,
    /// DoAndSubmit-style msg transactions (some failing) racing check-backs.
    Msg,
}

/// One delivery: an op, whether its business code fails, and its delay.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub op: &'static str,
    pub fail: bool,
    pub delay: Duration,
}

/// One gid's schedule.
#[derive(Debug, Clone)]
pub struct Case {
    pub gid: String,
    pub shape: Shape,
    /// Delivered (and retried until it commits) before everything else.
    pub first: Option<&'static str>,
    /// Delivered concurrently, each after its delay.
    pub rest: Vec<Delivery>,
    /// Delays of msg check-backs, concurrent with `rest`.
    pub checks: Vec<Duration>,
}

fn delays(rng: &mut StdRng, n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| Duration::from_micros(rng.gen_range(0..4000)))
        .collect()
}

fn deliveries(
    rng: &mut StdRng,
    op: &'static str,
    count: std::ops::RangeInclusive<usize>,
    fail_p: f64,
) -> Vec<Delivery> {
    let n = rng.gen_range(count);
    delays(rng, n)
        .into_iter()
        .map(|delay| Delivery {
            op,
            fail: rng.gen_bool(fail_p),
            delay,
        })
        .collect()
}

/// Random schedules for `n` gids.
pub fn cases(seed: u64, n: usize, run: &str) -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let shape = [
                Shape::TccCommit,
                Shape::TccAbort,
                Shape::SagaCommit,
                Shape::SagaAbort,
                Shape::Msg,
            ][rng.gen_range(0..5)];
            let gid = format!("p{run}-{i}");
            let (first, mut rest, checks) = match shape {
                Shape::TccCommit => {
                    let mut rest = deliveries(&mut rng, "confirm", 1..=3, 0.0);
                    rest.extend(deliveries(&mut rng, "try", 0..=2, 0.0));
                    (Some("try"), rest, vec![])
                }
                Shape::TccAbort => {
                    let mut rest = deliveries(&mut rng, "try", 0..=3, 0.3);
                    rest.extend(deliveries(&mut rng, "cancel", 1..=3, 0.0));
                    (None, rest, vec![])
                }
                Shape::SagaCommit => {
                    let rest = deliveries(&mut rng, "action", 0..=3, 0.0);
                    (Some("action"), rest, vec![])
                }
                Shape::SagaAbort => {
                    let mut rest = deliveries(&mut rng, "action", 0..=3, 0.3);
                    rest.extend(deliveries(&mut rng, "compensate", 1..=3, 0.0));
                    (None, rest, vec![])
                }
                Shape::Msg => {
                    let rest = deliveries(&mut rng, "msg", 1..=2, 0.3);
                    let n = rng.gen_range(1..=3);
                    (None, rest, delays(&mut rng, n))
                }
            };
            // Shuffle so that no op kind is systematically started first.
            for i in (1..rest.len()).rev() {
                rest.swap(i, rng.gen_range(0..=i));
            }
            Case {
                gid,
                shape,
                first,
                rest,
                checks,
            }
        })
        .collect()
}

fn trans_type(shape: Shape) -> &'static str {
    match shape {
        Shape::TccCommit | Shape::TccAbort => "tcc",
        Shape::SagaCommit | Shape::SagaAbort => "saga",
        Shape::Msg => "msg",
    }
}

/// Ops that DTM retries until they succeed (so the test does too on database errors).
fn retried(op: &str) -> bool {
    matches!(op, "confirm" | "cancel" | "compensate")
}

const MAX_ATTEMPTS: usize = 100;

/// Delivers `op`, retrying database errors (deadlocks, busy) when DTM would retry.
async fn deliver<B: Backend>(
    backend: &B,
    tt: &str,
    gid: &str,
    op: &str,
    fail: bool,
    retry: bool,
) -> Result<Decision> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match backend.deliver(tt, gid, op, fail).await {
            Err(e) if e.kind() == ErrorKind::Database && retry && attempt < MAX_ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(attempt as u64)).await;
            }
            other => return other,
        }
    }
}

async fn check_back<B: Backend>(backend: &B, gid: &str) -> Result<DtmResult> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match backend.query_prepared(gid).await {
            Err(e) if e.kind() == ErrorKind::Database && attempt < MAX_ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(attempt as u64)).await;
            }
            other => return other,
        }
    }
}

/// What one case observed.
#[derive(Debug, Default)]
pub struct Observed {
    /// Per op: `(decision or error kind)` of each delivery.
    pub replies: Vec<(&'static str, std::result::Result<Decision, ErrorKind>)>,
    /// Results of the check-backs.
    pub checks: Vec<DtmResult>,
}

async fn run_case<B: Backend>(backend: Arc<B>, case: Case) -> (Case, Observed) {
    let tt = trans_type(case.shape);
    let mut observed = Observed::default();
    if let Some(op) = case.first {
        let got = deliver(&*backend, tt, &case.gid, op, false, true).await;
        let got = got.unwrap_or_else(|e| panic!("{}: first {op} failed: {e}", case.gid));
        observed.replies.push((op, Ok(got)));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for d in case.rest.clone() {
        let (backend, gid) = (backend.clone(), case.gid.clone());
        tasks.spawn(async move {
            tokio::time::sleep(d.delay).await;
            let got = deliver(&*backend, tt, &gid, d.op, d.fail, retried(d.op)).await;
            (d.op, got.map_err(|e| e.kind()), None)
        });
    }
    for delay in case.checks.clone() {
        let (backend, gid) = (backend.clone(), case.gid.clone());
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            let got = check_back(&*backend, &gid).await;
            let got = got.unwrap_or_else(|e| panic!("{gid}: check-back failed: {e}"));
            ("check", Ok(Decision::Duplicate), Some(got))
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (op, got, check) = joined.expect("delivery task");
        match check {
            Some(result) => observed.checks.push(result),
            None => observed.replies.push((op, got)),
        }
    }
    (case, observed)
}

fn ran(observed: &Observed, op: &str) -> i64 {
    observed
        .replies
        .iter()
        .filter(|(o, r)| *o == op && *r == Ok(Decision::RunBusiness))
        .count() as i64
}

/// Checks the final state of one case against the barrier's promises.
pub fn check_case(case: &Case, observed: &Observed, counters: &Counters) {
    let c = |op: &str| {
        counters[COLUMNS
            .iter()
            .position(|n| *n == column(op))
            .expect("column")]
    };
    let ctx = || format!("{case:?}\nobserved {observed:?}\ncounters {counters:?}");
    // Every committed RunBusiness is one effect, and nothing else is.
    for op in ["try", "confirm", "cancel", "action", "compensate", "msg"] {
        assert_eq!(
            c(op),
            ran(observed, op),
            "{op} effects vs replies\n{}",
            ctx()
        );
    }
    // Retried ops end committed.
    for (op, reply) in &observed.replies {
        if retried(op) {
            assert!(reply.is_ok(), "{op} never committed\n{}", ctx());
        }
    }
    match case.shape {
        Shape::TccCommit => {
            assert_eq!(
                (c("try"), c("confirm"), c("cancel")),
                (1, 1, 0),
                "{}",
                ctx()
            );
        }
        Shape::TccAbort => {
            assert_eq!(c("confirm"), 0, "{}", ctx());
            assert!(c("try") <= 1, "try applied twice\n{}", ctx());
            assert_eq!(
                c("cancel"),
                c("try"),
                "cancel without try, or try left uncancelled\n{}",
                ctx()
            );
        }
        Shape::SagaCommit => {
            assert_eq!((c("action"), c("compensate")), (1, 0), "{}", ctx());
        }
        Shape::SagaAbort => {
            assert!(c("action") <= 1, "action applied twice\n{}", ctx());
            assert_eq!(c("compensate"), c("action"), "{}", ctx());
        }
        Shape::Msg => {
            assert!(c("msg") <= 1, "msg applied twice\n{}", ctx());
            let failure = observed.checks.contains(&DtmResult::Failure);
            let success = observed.checks.contains(&DtmResult::Success);
            assert!(!(failure && success), "check-backs disagree\n{}", ctx());
            assert_eq!(c("msg"), i64::from(success), "{}", ctx());
        }
    }
    // A late try/action never runs after its compensation fenced it: covered above, since
    // a fenced op that ran would leave an effect without its compensation.
}

/// The seed of the property test: `DTMX_TEST_SEED`, else the clock (printed to reproduce).
pub fn seed() -> u64 {
    let seed = std::env::var("DTMX_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        });
    eprintln!("barrier property test seed: {seed} (set DTMX_TEST_SEED to replay)");
    seed
}

/// Number of gids of the property test: `DTMX_TEST_CASES`, else 200.
pub fn case_count() -> usize {
    std::env::var("DTMX_TEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

/// The property test: random schedules for many gids, `wave` gids at a time concurrently.
pub async fn property<B: Backend>(backend: Arc<B>, run: &str, wave: usize) {
    let seed = seed();
    let all = cases(seed, case_count(), run);
    let gids: Vec<String> = all.iter().map(|c| c.gid.clone()).collect();
    backend.add_gids(&gids).await.expect("effect rows");
    let mut results = Vec::new();
    for chunk in all.chunks(wave) {
        let mut set = tokio::task::JoinSet::new();
        for case in chunk.iter().cloned() {
            set.spawn(run_case(backend.clone(), case));
        }
        while let Some(done) = set.join_next().await {
            results.push(done.expect("case task"));
        }
    }
    let counters = backend.counters().await.expect("counters");
    let mut decisions: HashMap<String, usize> = HashMap::new();
    for (case, observed) in &results {
        let got = counters
            .get(&case.gid)
            .unwrap_or_else(|| panic!("no effect row for {}", case.gid));
        check_case(case, observed, got);
        for (_, reply) in &observed.replies {
            let name = match reply {
                Ok(d) => d.as_str().to_owned(),
                Err(k) => k.as_str().to_owned(),
            };
            *decisions.entry(name).or_default() += 1;
        }
    }
    eprintln!(
        "barrier property test: {} gids, outcomes {decisions:?}",
        results.len()
    );
    // The schedules must have exercised the interesting paths.
    for needed in ["run_business", "null_compensation", "duplicate"] {
        assert!(
            decisions.contains_key(needed),
            "no {needed} in {decisions:?}"
        );
    }
}

/// Fixed scenarios every backend must pass.
pub async fn scenarios<B: Backend>(backend: &B, run: &str) {
    use Decision::*;
    let gid = |n: &str| format!("s{run}-{n}");
    let names = [
        "null",
        "failed",
        "tcc",
        "msg-fenced",
        "msg-ok",
        "xa-fenced",
        "xa-ok",
    ];
    let gids: Vec<String> = names.iter().map(|n| gid(n)).collect();
    backend.add_gids(&gids).await.expect("effect rows");
    let d = |tt: &'static str, g: String, op: &'static str, fail: bool| async move {
        backend.deliver(tt, &g, op, fail).await
    };
    let kind = |r: Result<Decision>| r.map_err(|e: Error| e.kind());

    // Compensation before its action: null compensation, then the late action is fenced.
    assert_eq!(
        kind(d("saga", gid("null"), "compensate", false).await),
        Ok(NullCompensation)
    );
    assert_eq!(
        kind(d("saga", gid("null"), "action", false).await),
        Ok(Suspended)
    );
    assert_eq!(
        kind(d("saga", gid("null"), "compensate", false).await),
        Ok(Duplicate)
    );

    // A failed action leaves no barrier row: its compensation is a null compensation.
    assert_eq!(
        kind(d("saga", gid("failed"), "action", true).await),
        Err(ErrorKind::Failure)
    );
    assert_eq!(
        kind(d("saga", gid("failed"), "compensate", false).await),
        Ok(NullCompensation)
    );

    // TCC: try, duplicate try, cancel, duplicate cancel, late try.
    assert_eq!(
        kind(d("tcc", gid("tcc"), "try", false).await),
        Ok(RunBusiness)
    );
    assert_eq!(
        kind(d("tcc", gid("tcc"), "try", false).await),
        Ok(Duplicate)
    );
    assert_eq!(
        kind(d("tcc", gid("tcc"), "cancel", false).await),
        Ok(RunBusiness)
    );
    assert_eq!(
        kind(d("tcc", gid("tcc"), "cancel", false).await),
        Ok(Duplicate)
    );
    assert_eq!(
        kind(d("tcc", gid("tcc"), "try", false).await),
        Ok(Duplicate)
    );

    // Msg: a check-back before the local transaction fences it for good.
    let q = |g: String| async move { backend.query_prepared(&g).await };
    assert_eq!(
        q(gid("msg-fenced")).await.expect("check-back"),
        DtmResult::Failure
    );
    assert_eq!(
        kind(d("msg", gid("msg-fenced"), "msg", false).await),
        Err(ErrorKind::Duplicated)
    );
    assert_eq!(
        q(gid("msg-fenced")).await.expect("check-back"),
        DtmResult::Failure
    );
    assert_eq!(
        kind(d("msg", gid("msg-ok"), "msg", false).await),
        Ok(RunBusiness)
    );
    assert_eq!(
        q(gid("msg-ok")).await.expect("check-back"),
        DtmResult::Success
    );
    assert_eq!(
        kind(d("msg", gid("msg-ok"), "msg", false).await),
        Err(ErrorKind::Duplicated)
    );

    // XA: the phase-2 rollback fence stops a late phase 1.
    let xa = |g: String, fence: bool| async move { backend.xa_action(&g, fence).await };
    assert_eq!(kind(xa(gid("xa-fenced"), true).await), Ok(Suspended));
    assert_eq!(kind(xa(gid("xa-ok"), false).await), Ok(RunBusiness));
    assert_eq!(kind(xa(gid("xa-ok"), true).await), Ok(Duplicate));

    let counters = backend.counters().await.expect("counters");
    let get = |n: &str| counters[&gid(n)];
    assert_eq!(get("null"), [0; 6]);
    assert_eq!(get("failed"), [0; 6]);
    assert_eq!(get("tcc"), [1, 0, 1, 0, 0, 0]);
    assert_eq!(get("msg-fenced"), [0; 6]);
    assert_eq!(get("msg-ok"), [0, 0, 0, 0, 0, 1]);
}

/// Implements [`Backend`] on one of dtmx's sqlx executors.
///
/// `$exec`: the executor module under `dtmx::barrier`; `$ph`: the first placeholder.
macro_rules! sql_backend {
    ($name:ident, $exec:ident, $db:ty, $conn:ty, $ph:literal) => {
        pub struct $name {
            pub pool: ::sqlx::Pool<$db>,
            pub table: ::dtmx::barrier::BarrierTable,
            pub effects: String,
        }

        fn db_err(e: ::sqlx::Error) -> ::dtmx::Error {
            ::dtmx::Error::new(::dtmx::ErrorKind::Database, e.to_string())
        }

        impl $name {
            /// Creates the barrier table (twice: DDL is idempotent) and the effects table.
            pub async fn setup(&self) {
                let mut conn = self.pool.acquire().await.expect("connection");
                for _ in 0..2 {
                    ::dtmx::barrier::$exec::create(&mut conn, &self.table)
                        .await
                        .expect("barrier table");
                }
                let columns: Vec<String> = barrier_common::COLUMNS
                    .iter()
                    .map(|c| format!("{c} bigint not null default 0"))
                    .collect();
                let ddl = format!(
                    "create table if not exists {} (gid varchar(128) primary key, {})",
                    self.effects,
                    columns.join(", ")
                );
                ::sqlx::query(&ddl)
                    .execute(&mut *conn)
                    .await
                    .expect("effects table");
            }

            /// Drops the test tables.
            pub async fn teardown(&self, extra: &[String]) {
                let mut stmts = vec![
                    format!("drop table if exists {}", self.effects),
                    format!("drop table if exists {}", self.table.name()),
                ];
                stmts.extend(extra.iter().cloned());
                for s in stmts {
                    let _ = ::sqlx::query(&s).execute(&self.pool).await;
                }
            }
        }

        impl barrier_common::Backend for $name {
            fn add_gids<'a>(
                &'a self,
                gids: &'a [String],
            ) -> barrier_common::BoxFut<'a, ::dtmx::Result<()>> {
                Box::pin(async move {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let sql = format!("insert into {} (gid) values ({})", self.effects, $ph);
                    for gid in gids {
                        ::sqlx::query(&sql)
                            .bind(gid.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    }
                    tx.commit().await.map_err(db_err)
                })
            }

            fn deliver<'a>(
                &'a self,
                trans_type: &'a str,
                gid: &'a str,
                op: &'a str,
                fail: bool,
            ) -> barrier_common::BoxFut<'a, ::dtmx::Result<::dtmx::barrier::Decision>> {
                Box::pin(async move {
                    // The DoAndSubmit barrier of a msg is branch 00, op msg.
                    let branch_id = if op == "msg" { "00" } else { "01" };
                    let mut barrier =
                        ::dtmx::barrier::Barrier::new(trans_type, gid, branch_id, op)?;
                    let col = barrier_common::column(op);
                    let sql = format!(
                        "update {} set {col} = {col} + 1 where gid = {}",
                        self.effects, $ph
                    );
                    let gid = gid.to_owned();
                    let out = ::dtmx::barrier::$exec::call_with_pool(
                        &self.pool,
                        &mut barrier,
                        &self.table,
                        move |conn: &mut $conn| {
                            Box::pin(async move {
                                let done = ::sqlx::query(&sql)
                                    .bind(gid.as_str())
                                    .execute(&mut *conn)
                                    .await
                                    .map_err(db_err)?;
                                assert_eq!(done.rows_affected(), 1, "effect row of {gid}");
                                if fail {
                                    return Err(::dtmx::Error::new(
                                        ::dtmx::ErrorKind::Failure,
                                        "injected business failure",
                                    ));
                                }
                                Ok(())
                            })
                        },
                    )
                    .await?;
                    assert_eq!(out.value.is_some(), out.decision.runs_business());
                    Ok(out.decision)
                })
            }

            fn query_prepared<'a>(
                &'a self,
                gid: &'a str,
            ) -> barrier_common::BoxFut<'a, ::dtmx::Result<::dtmx::DtmResult>> {
                Box::pin(async move {
                    let barrier = ::dtmx::barrier::Barrier::new("msg", gid, "00", "msg")?;
                    let mut conn = self.pool.acquire().await.map_err(db_err)?;
                    ::dtmx::barrier::$exec::query_prepared(&mut conn, &barrier, &self.table).await
                })
            }

            fn xa_action<'a>(
                &'a self,
                gid: &'a str,
                fence_first: bool,
            ) -> barrier_common::BoxFut<'a, ::dtmx::Result<::dtmx::barrier::Decision>> {
                Box::pin(async move {
                    if fence_first {
                        let phase2 = ::dtmx::barrier::Barrier::new("xa", gid, "01", "rollback")?;
                        let mut conn = self.pool.acquire().await.map_err(db_err)?;
                        let fence = phase2.xa_rollback_fence(&self.table);
                        ::dtmx::barrier::$exec::execute_statement(&mut conn, &fence).await?;
                    }
                    let phase1 = ::dtmx::barrier::Barrier::new("xa", gid, "01", "action")?;
                    let mut call = phase1.xa_action_machine(&self.table);
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let decision = ::dtmx::barrier::$exec::decide(&mut tx, &mut call).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(decision)
                })
            }

            fn counters(
                &self,
            ) -> barrier_common::BoxFut<
                '_,
                ::dtmx::Result<std::collections::HashMap<String, barrier_common::Counters>>,
            > {
                Box::pin(async move {
                    let sql = format!(
                        "select gid, {} from {}",
                        barrier_common::COLUMNS.join(", "),
                        self.effects
                    );
                    let rows: Vec<(String, i64, i64, i64, i64, i64, i64)> = ::sqlx::query_as(&sql)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(rows
                        .into_iter()
                        .map(|(g, a, b, c, d, e, f)| (g, [a, b, c, d, e, f]))
                        .collect())
                })
            }
        }
    };
}
