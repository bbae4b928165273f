//! The sans-IO barrier: tables, the barrier machines (replayed by the vectors), the
//! core's [`Guard`] that a guarded call and the msg check-back follow, and the Redis
//! scripts. A machine's step is `{kind: "execute" | "query" | "done", sql, params, result}`.

use crate::errors::{describe, js, thrown};
use crate::rm::Branch;
use dtmx_bindings::barrier::{self as b, render, Action, Ownership, ParamStyle, Step};
use dtmx_bindings::dtmx::protocol::DtmResult;
use dtmx_bindings::error::invalid;
use napi_derive::napi;

/// The Redis barrier's default expiry of its keys, in seconds (7 days).
#[napi]
pub const REDIS_DEFAULT_EXPIRE: u32 = b::REDIS_DEFAULT_EXPIRE as u32;

/// Where barrier rows live: a dialect and a table name.
#[napi]
pub struct BarrierTable {
    pub(crate) inner: b::BarrierTable,
}

#[napi]
impl BarrierTable {
    /// The table `name` (default: the dialect's) of `dialect` (`mysql`, `mariadb`,
    /// `postgres`, `sqlite`, ...).
    #[napi(constructor, catch_unwind)]
    pub fn new(dialect: String, name: Option<String>) -> napi::Result<Self, String> {
        Ok(BarrierTable {
            inner: js(b::table(&dialect, name.as_deref()))?,
        })
    }

    /// The dialect's stable name.
    #[napi(getter, catch_unwind)]
    pub fn dialect(&self) -> String {
        self.inner.dialect().as_str().to_string()
    }

    /// The table name.
    #[napi(getter, catch_unwind)]
    pub fn name(&self) -> String {
        self.inner.name().to_string()
    }

    /// Statements creating the table if missing.
    #[napi(catch_unwind)]
    pub fn ddl(&self) -> Vec<String> {
        self.inner.ddl()
    }

    /// The insert-ignore SQL.
    #[napi(catch_unwind)]
    pub fn insert_ignore_sql(&self) -> String {
        self.inner.insert_ignore_sql()
    }

    /// The reason query SQL.
    #[napi(catch_unwind)]
    pub fn select_reason_sql(&self) -> String {
        self.inner.select_reason_sql()
    }

    /// `sql` of this dialect with placeholders in `style` (`qmark`, `format`, `dollar`,
    /// `numeric`).
    #[napi(catch_unwind)]
    pub fn render(&self, sql: String, style: String) -> napi::Result<String, String> {
        let s = js(ParamStyle::parse(&style))?;
        Ok(render(&sql, self.inner.dialect(), s))
    }
}

/// What a barrier machine wants done next.
#[napi(object)]
pub struct BarrierStep {
    /// `execute` (feed the affected rows), `query` (feed the reason read) or `done`.
    pub kind: String,
    /// The statement (execute and query).
    pub sql: Option<String>,
    /// Its parameters (execute and query).
    pub params: Option<Vec<String>>,
    /// The decision or check-back result (done).
    pub result: Option<String>,
}

fn step_of<T>(step: &Step<T>, done: impl Fn(&T) -> &'static str) -> BarrierStep {
    let (kind, stmt, result) = match step {
        Step::Execute(s) => ("execute", Some(s), None),
        Step::QueryReason(s) => ("query", Some(s), None),
        Step::Done(d) => ("done", None, Some(done(d).to_string())),
    };
    BarrierStep {
        kind: kind.to_string(),
        sql: stmt.map(|s| s.sql.clone()),
        params: stmt.map(|s| s.params.clone()),
        result,
    }
}

/// A statement with its parameters.
#[napi(object)]
pub struct Statement {
    /// The SQL text.
    pub sql: String,
    /// Its parameters.
    pub params: Vec<String>,
}

/// `[key, value]` arrays as pairs (missing values are empty).
fn two(pairs: Vec<Vec<String>>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|p| {
            let mut it = p.into_iter();
            (it.next().unwrap_or_default(), it.next().unwrap_or_default())
        })
        .collect()
}

/// The barrier of one branch call.
#[napi]
pub struct Barrier {
    inner: b::Barrier,
}

#[napi]
impl Barrier {
    /// The barrier of the branch `trans_type`, `gid`, `branch_id`, `op`.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        trans_type: String,
        gid: String,
        branch_id: String,
        op: String,
    ) -> napi::Result<Self, String> {
        Ok(Barrier {
            inner: js(b::Barrier::new(&trans_type, &gid, &branch_id, &op))?,
        })
    }

    /// The barrier of a msg's local work and of its check-back: `msg`, `gid`, `00`, `msg`.
    #[napi(factory, catch_unwind)]
    pub fn for_msg(gid: String) -> napi::Result<Self, String> {
        Ok(Barrier {
            inner: js(b::Barrier::for_msg(&gid))?,
        })
    }

    /// From a raw query string (`gid=...&op=...`, with or without `?`).
    #[napi(factory, catch_unwind)]
    pub fn from_query(query: String) -> napi::Result<Self, String> {
        Ok(Barrier {
            inner: js(b::Barrier::from_query(&query))?,
        })
    }

    /// From decoded HTTP query pairs (`[key, value]` arrays).
    #[napi(factory, catch_unwind)]
    pub fn from_query_pairs(pairs: Vec<Vec<String>>) -> napi::Result<Self, String> {
        Ok(Barrier {
            inner: js(b::Barrier::from_query_pairs(two(pairs)))?,
        })
    }

    /// From gRPC metadata pairs (`[key, value]` arrays).
    #[napi(factory, catch_unwind)]
    pub fn from_grpc_metadata(pairs: Vec<Vec<String>>) -> napi::Result<Self, String> {
        Ok(Barrier {
            inner: js(b::Barrier::from_grpc_metadata(two(pairs)))?,
        })
    }

    /// The branch this barrier guards.
    #[napi(getter, catch_unwind)]
    pub fn branch(&self) -> Branch {
        Branch {
            gid: self.inner.gid().to_string(),
            trans_type: self.inner.trans_type().to_string(),
            branch_id: self.inner.branch_id().to_string(),
            op: self.inner.op().to_string(),
            ..Default::default()
        }
    }

    /// The transaction type.
    #[napi(getter, catch_unwind)]
    pub fn trans_type(&self) -> String {
        self.inner.trans_type().to_string()
    }

    /// The global transaction id.
    #[napi(getter, catch_unwind)]
    pub fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// The branch id.
    #[napi(getter, catch_unwind)]
    pub fn branch_id(&self) -> String {
        self.inner.branch_id().to_string()
    }

    /// The branch operation.
    #[napi(getter, catch_unwind)]
    pub fn op(&self) -> String {
        self.inner.op().to_string()
    }

    /// The msg check-back's verdict `result` (`SUCCESS` or `FAILURE`, as a check-back
    /// machine ends) for this barrier's gid: returns for SUCCESS, throws the FailureError
    /// the check-back handler replies with otherwise.
    #[napi(catch_unwind)]
    pub fn check_back(&self, result: String) -> napi::Result<(), String> {
        let r = js(DtmResult::parse(&result)
            .ok_or_else(|| invalid(format!("unknown check-back result {result:?}"))))?;
        js(b::check_back(self.inner.gid(), r))
    }

    /// Hands out the next barrier id.
    #[napi(catch_unwind)]
    pub fn next_barrier_id(&mut self) -> String {
        self.inner.next_barrier_id()
    }

    /// Starts the guarded call of one local transaction.
    #[napi(catch_unwind)]
    pub fn call_machine(&mut self, table: &BarrierTable) -> BarrierCall {
        BarrierCall {
            inner: self.inner.call_machine(&table.inner),
        }
    }

    /// The msg check-back.
    #[napi(catch_unwind)]
    pub fn query_prepared_machine(&self, table: &BarrierTable) -> QueryPrepared {
        QueryPrepared {
            inner: self.inner.query_prepared_machine(&table.inner),
        }
    }

    /// Phase 1 of an XA branch.
    #[napi(catch_unwind)]
    pub fn xa_action_machine(&self, table: &BarrierTable) -> BarrierCall {
        BarrierCall {
            inner: self.inner.xa_action_machine(&table.inner),
        }
    }

    /// The fence after a phase-2 rollback.
    #[napi(catch_unwind)]
    pub fn xa_rollback_fence(&self, table: &BarrierTable) -> Statement {
        let s = self.inner.xa_rollback_fence(&table.inner);
        Statement {
            sql: s.sql,
            params: s.params,
        }
    }

    /// The Redis barrier adjusting `key` by `amount` at most once.
    #[napi(catch_unwind)]
    pub fn redis_check_adjust_amount_call(
        &mut self,
        key: String,
        amount: i64,
        expire: u32,
    ) -> napi::Result<RedisCall, String> {
        Ok(RedisCall {
            inner: js(self
                .inner
                .redis_check_adjust_amount_call(&key, amount, u64::from(expire)))?,
        })
    }

    /// The Redis msg check-back.
    #[napi(catch_unwind)]
    pub fn redis_query_prepared_call(
        &self,
        expire: u32,
    ) -> napi::Result<RedisQueryPrepared, String> {
        Ok(RedisQueryPrepared {
            inner: js(self.inner.redis_query_prepared_call(u64::from(expire)))?,
            gid: self.inner.gid().to_string(),
        })
    }
}

/// The guarded call of one local transaction.
#[napi]
pub struct BarrierCall {
    inner: b::BarrierCall,
}

#[napi]
impl BarrierCall {
    /// The barrier id of this call.
    #[napi(getter, catch_unwind)]
    pub fn barrier_id(&self) -> String {
        self.inner.barrier_id().to_string()
    }

    /// What to do now; done with the decision (`run`, `skip_null_compensation`, ...).
    #[napi(catch_unwind)]
    pub fn step(&self) -> BarrierStep {
        step_of(self.inner.step(), |d| d.as_str())
    }

    /// Rows affected by the `execute` step.
    #[napi(catch_unwind)]
    pub fn feed_affected(&mut self, rows: u32) -> napi::Result<(), String> {
        js(self.inner.feed_affected(u64::from(rows)).map(|_| ()))
    }

    /// The reason read by the `query` step (`null`: no row).
    #[napi(catch_unwind)]
    pub fn feed_reason(&mut self, reason: Option<String>) -> napi::Result<(), String> {
        js(self.inner.feed_reason(reason.as_deref()).map(|_| ()))
    }

    /// Throws the error the decision carries (`duplicated` for a duplicated msg).
    #[napi(catch_unwind)]
    pub fn check(&self) -> napi::Result<(), String> {
        match self.inner.decision().and_then(b::Decision::error) {
            Some(e) => js(Err(e)),
            None => Ok(()),
        }
    }
}

/// The msg check-back.
#[napi]
pub struct QueryPrepared {
    inner: b::QueryPrepared,
}

#[napi]
impl QueryPrepared {
    /// What to do now; done with `SUCCESS` or `FAILURE`.
    #[napi(catch_unwind)]
    pub fn step(&self) -> BarrierStep {
        step_of(self.inner.step(), |r| r.as_str())
    }

    /// Rows affected by the `execute` step.
    #[napi(catch_unwind)]
    pub fn feed_affected(&mut self, rows: u32) -> napi::Result<(), String> {
        js(self.inner.feed_affected(u64::from(rows)).map(|_| ()))
    }

    /// The reason read by the `query` step.
    #[napi(catch_unwind)]
    pub fn feed_reason(&mut self, reason: Option<String>) -> napi::Result<(), String> {
        js(self.inner.feed_reason(reason.as_deref()).map(|_| ()))
    }
}

/// What a [`Guard`] wants done next on the caller's database client.
#[napi(object)]
pub struct GuardAction {
    /// `begin`, `execute` (feed the affected rows), `query` (feed the reason read),
    /// `business` (run the business code, then `ok`), `commit`, `rollback` (then `ok`), or
    /// the end: `return` (the business code's value if it ran, else nothing) or `raise`.
    pub kind: String,
    /// The statement (execute and query).
    pub sql: Option<String>,
    /// Its parameters (execute and query).
    pub params: Option<Vec<String>>,
    /// The error to raise (raise): `{kind, message, notes, status}`.
    pub error: Option<serde_json::Value>,
    /// When the error to raise is one JavaScript reported with [`Guard::fail`]: which
    /// report (0 for the first), so that the very value thrown is raised, with the notes.
    pub thrown: Option<u32>,
}

/// Marks the error of the `n`-th [`Guard::fail`] report, to tell it apart when raised.
#[derive(Debug)]
struct Thrown(u32);

impl std::fmt::Display for Thrown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "thrown by JavaScript (report {})", self.0)
    }
}

impl std::error::Error for Thrown {}

/// One guarded barrier call, or one msg check-back, as the actions the JavaScript loop
/// carries out on the caller's client; the core decides what runs, what commits and what
/// is raised, and who owns the database transaction ([`Ownership::for_connection`]).
#[napi]
pub struct Guard {
    inner: b::Guard,
    /// How many failures JavaScript reported.
    reports: u32,
}

#[napi]
impl Guard {
    /// The guarded call of `barrier` on a connection that is (`in_transaction`) or is not
    /// inside a transaction: an open transaction is joined and left to the caller, a bare
    /// connection gets the barrier's own.
    #[napi(factory, catch_unwind)]
    pub fn for_call(barrier: &mut Barrier, table: &BarrierTable, in_transaction: bool) -> Guard {
        Guard {
            inner: b::Guard::new(
                barrier.inner.call_machine(&table.inner),
                Ownership::for_connection(in_transaction),
            ),
            reports: 0,
        }
    }

    /// The msg check-back of `gid` (on the msg's barrier), under the same ownership rule.
    #[napi(factory, catch_unwind)]
    pub fn for_check_back(
        gid: String,
        table: &BarrierTable,
        in_transaction: bool,
    ) -> napi::Result<Guard, String> {
        let barrier = js(b::Barrier::for_msg(&gid))?;
        Ok(Guard {
            inner: b::Guard::check_back(
                barrier.query_prepared_machine(&table.inner),
                &gid,
                Ownership::for_connection(in_transaction),
            ),
            reports: 0,
        })
    }

    /// Who owns the database transaction: `own` (the barrier) or `join` (the caller).
    #[napi(getter, catch_unwind)]
    pub fn ownership(&self) -> String {
        self.inner.ownership().as_str().to_string()
    }

    /// What to do now.
    #[napi(catch_unwind)]
    pub fn action(&self) -> GuardAction {
        let (kind, stmt, error) = match self.inner.action() {
            Action::Begin => ("begin", None, None),
            Action::Execute(s) => ("execute", Some(s), None),
            Action::QueryReason(s) => ("query", Some(s), None),
            Action::RunBusiness => ("business", None, None),
            Action::Commit => ("commit", None, None),
            Action::Rollback => ("rollback", None, None),
            Action::Return(_) => ("return", None, None),
            Action::Raise(e) => ("raise", None, Some(e)),
        };
        let thrown = error
            .and_then(|e| std::error::Error::source(e))
            .and_then(|s| s.downcast_ref::<Thrown>())
            .map(|t| t.0);
        GuardAction {
            kind: kind.to_string(),
            sql: stmt.map(|s| s.sql.clone()),
            params: stmt.map(|s| s.params.clone()),
            error: error.map(describe),
            thrown,
        }
    }

    /// `begin`, `business`, `commit` or `rollback` succeeded.
    #[napi(catch_unwind)]
    pub fn ok(&mut self) -> napi::Result<(), String> {
        js(self.inner.ok().map(drop))
    }

    /// Rows affected by the `execute` statement.
    #[napi(catch_unwind)]
    pub fn feed_affected(&mut self, rows: u32) -> napi::Result<(), String> {
        js(self.inner.feed_affected(u64::from(rows)).map(drop))
    }

    /// The reason read by the `query` statement (`null`: no row).
    #[napi(catch_unwind)]
    pub fn feed_reason(&mut self, reason: Option<String>) -> napi::Result<(), String> {
        js(self.inner.feed_reason(reason.as_deref()).map(drop))
    }

    /// The current action threw: a dtmx error of `kind`, or (`null`) the caller's own error
    /// (the driver's or the business code's). JavaScript keeps every thrown value in the
    /// order reported: `thrown` of a `raise` says which one to raise.
    #[napi(catch_unwind)]
    pub fn fail(&mut self, kind: Option<String>, message: String) {
        let error = thrown(kind.as_deref(), message).with_source(Thrown(self.reports));
        self.reports += 1;
        self.inner.fail(error);
    }
}

/// One run of the Redis adjust-amount script.
#[napi]
pub struct RedisCall {
    inner: b::RedisCall,
}

#[napi]
impl RedisCall {
    /// The Lua text.
    #[napi(getter, catch_unwind)]
    pub fn script(&self) -> String {
        self.inner.script().to_string()
    }

    /// `KEYS`.
    #[napi(getter, catch_unwind)]
    pub fn keys(&self) -> Vec<String> {
        self.inner.keys().to_vec()
    }

    /// `ARGV`.
    #[napi(getter, catch_unwind)]
    pub fn args(&self) -> Vec<String> {
        self.inner.args().to_vec()
    }

    /// The decision for the script's reply (`null`: nil).
    #[napi(catch_unwind)]
    pub fn decide(&self, reply: Option<String>) -> napi::Result<String, String> {
        js(self
            .inner
            .decide(reply.as_deref())
            .map(|d| d.as_str().to_string()))
    }
}

/// One run of the Redis msg check-back script.
#[napi]
pub struct RedisQueryPrepared {
    inner: b::RedisQueryPrepared,
    gid: String,
}

#[napi]
impl RedisQueryPrepared {
    /// The Lua text.
    #[napi(getter, catch_unwind)]
    pub fn script(&self) -> String {
        self.inner.script().to_string()
    }

    /// `KEYS`.
    #[napi(getter, catch_unwind)]
    pub fn keys(&self) -> Vec<String> {
        self.inner.keys().to_vec()
    }

    /// `ARGV`.
    #[napi(getter, catch_unwind)]
    pub fn args(&self) -> Vec<String> {
        self.inner.args().to_vec()
    }

    /// `SUCCESS` or `FAILURE` for the script's reply.
    #[napi(catch_unwind)]
    pub fn decide(&self, reply: Option<String>) -> napi::Result<String, String> {
        js(self
            .inner
            .decide(reply.as_deref())
            .map(|d| d.as_str().to_string()))
    }

    /// What the check-back handler answers for the script's reply: nothing when the
    /// local transaction committed, else throws the core's `failure`.
    #[napi(catch_unwind)]
    pub fn check(&self, reply: Option<String>) -> napi::Result<(), String> {
        let result = self.inner.decide(reply.as_deref());
        js(result.and_then(|r| b::check_back(&self.gid, r)))
    }
}
