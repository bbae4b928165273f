//! The sans-IO barrier for hosts that run it on their own database (D1, pg, ...) or Redis:
//! tables, guarded calls, the msg check-back and the Redis scripts. A step is
//! `{kind: "execute" | "query" | "done", sql, params, result}`; a [`Guard`] drives a whole
//! guarded call or check-back (its statements, the business code and the database
//! transaction around them) as the actions the host carries out.

use crate::body::with_notes;
use crate::convert::{
    bad, get_string, js, object, pairs, strings, text, thrown_error, to_js, JsResult,
};
use dtmx_bindings::barrier::{self as b, render, Action, Ownership, ParamStyle, Step};
use dtmx_bindings::dtmx::protocol::DtmResult;
use dtmx_bindings::{Error, ErrorKind};
use wasm_bindgen::prelude::*;

/// Where barrier rows live: a dialect and a table name.
#[wasm_bindgen]
pub struct BarrierTable {
    inner: b::BarrierTable,
}

impl BarrierTable {
    /// The core's table (for the XA call).
    pub(crate) fn core(&self) -> &b::BarrierTable {
        &self.inner
    }
}

#[wasm_bindgen]
impl BarrierTable {
    /// The table `name` (default: the dialect's) of `dialect` (`mysql`, `mariadb`,
    /// `postgres`, `sqlite`, ...).
    #[wasm_bindgen(constructor)]
    pub fn new(dialect: &str, name: Option<String>) -> JsResult<BarrierTable> {
        Ok(BarrierTable {
            inner: js(b::table(dialect, name.as_deref()))?,
        })
    }

    /// The dialect's stable name.
    #[wasm_bindgen(getter)]
    pub fn dialect(&self) -> String {
        self.inner.dialect().as_str().to_string()
    }

    /// The table name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_string()
    }

    /// Statements creating the table (and schema) when missing.
    #[wasm_bindgen(unchecked_return_type = "string[]")]
    pub fn ddl(&self) -> js_sys::Array {
        strings(&self.inner.ddl())
    }

    /// The insert-ignore SQL.
    #[wasm_bindgen(js_name = insertIgnoreSql)]
    pub fn insert_ignore_sql(&self) -> String {
        self.inner.insert_ignore_sql()
    }

    /// The reason query SQL.
    #[wasm_bindgen(js_name = selectReasonSql)]
    pub fn select_reason_sql(&self) -> String {
        self.inner.select_reason_sql()
    }

    /// `sql` of this dialect with placeholders in `style` (`qmark`, `format`, `dollar`,
    /// `numeric`).
    pub fn render(&self, sql: &str, style: &str) -> JsResult<String> {
        Ok(render(
            sql,
            self.inner.dialect(),
            js(ParamStyle::parse(style))?,
        ))
    }
}

fn step_of<T>(step: &Step<T>, done: impl Fn(&T) -> &'static str) -> JsValue {
    let (kind, stmt, result) = match step {
        Step::Execute(s) => ("execute", Some(s), None),
        Step::QueryReason(s) => ("query", Some(s), None),
        Step::Done(d) => ("done", None, Some(done(d))),
    };
    object(&[
        ("kind", kind.into()),
        (
            "sql",
            stmt.map_or(JsValue::UNDEFINED, |s| s.sql.as_str().into()),
        ),
        (
            "params",
            stmt.map_or(JsValue::UNDEFINED, |s| strings(&s.params).into()),
        ),
        ("result", result.map_or(JsValue::UNDEFINED, JsValue::from)),
    ])
}

/// The barrier of one branch call.
#[wasm_bindgen]
pub struct Barrier {
    inner: b::Barrier,
}

#[wasm_bindgen]
impl Barrier {
    /// The barrier of the branch `transType`, `gid`, `branchId`, `op`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(js_name = transType)] trans_type: &str,
        gid: &str,
        #[wasm_bindgen(js_name = branchId)] branch_id: &str,
        op: &str,
    ) -> JsResult<Barrier> {
        Ok(Barrier {
            inner: js(b::Barrier::new(trans_type, gid, branch_id, op))?,
        })
    }

    /// The barrier of `branch` (`{transType, gid, branchId, op}`, e.g. a `Branch`).
    #[wasm_bindgen(js_name = fromBranch)]
    pub fn from_branch(
        #[wasm_bindgen(
            unchecked_param_type = "{transType: string, gid: string, branchId: string, op: string}"
        )]
        branch: JsValue,
    ) -> JsResult<Barrier> {
        if !branch.is_object() {
            return Err(bad("branch must be an object"));
        }
        let g = |k| get_string(&branch, k);
        Ok(Barrier {
            inner: js(b::Barrier::new(
                &g("transType"),
                &g("gid"),
                &g("branchId"),
                &g("op"),
            ))?,
        })
    }

    /// The barrier of msg `gid`'s local transaction and of its check-back (`msg`, gid,
    /// `00`, `msg`): what `doAndSubmit` hands its local work.
    #[wasm_bindgen(js_name = forMsg)]
    pub fn for_msg(gid: &str) -> JsResult<Barrier> {
        Ok(Barrier {
            inner: js(b::Barrier::for_msg(gid))?,
        })
    }

    /// From a raw query string (`gid=...&op=...`, with or without `?`).
    #[wasm_bindgen(js_name = fromQuery)]
    pub fn from_query(query: &str) -> JsResult<Barrier> {
        Ok(Barrier {
            inner: js(b::Barrier::from_query(query))?,
        })
    }

    /// From decoded query parameters (an object or `[key, value]` pairs).
    #[wasm_bindgen(js_name = fromQueryPairs)]
    pub fn from_query_pairs(
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown> | Array<[string, string]>")]
        query: JsValue,
    ) -> JsResult<Barrier> {
        Ok(Barrier {
            inner: js(b::Barrier::from_query_pairs(pairs(&query, "query")?))?,
        })
    }

    /// From gRPC metadata (`dtm-gid`, ...: an object or `[key, value]` pairs).
    #[wasm_bindgen(js_name = fromGrpcMetadata)]
    pub fn from_grpc_metadata(
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown> | Array<[string, string]>")]
        metadata: JsValue,
    ) -> JsResult<Barrier> {
        Ok(Barrier {
            inner: js(b::Barrier::from_grpc_metadata(pairs(
                &metadata, "metadata",
            )?))?,
        })
    }

    /// The transaction type.
    #[wasm_bindgen(getter, js_name = transType)]
    pub fn trans_type(&self) -> String {
        self.inner.trans_type().to_string()
    }

    /// The global transaction id.
    #[wasm_bindgen(getter)]
    pub fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// The branch id.
    #[wasm_bindgen(getter, js_name = branchId)]
    pub fn branch_id(&self) -> String {
        self.inner.branch_id().to_string()
    }

    /// The branch operation.
    #[wasm_bindgen(getter)]
    pub fn op(&self) -> String {
        self.inner.op().to_string()
    }

    /// The msg check-back's verdict `result` (`SUCCESS` or `FAILURE`, as a check-back
    /// machine ends) for this barrier's gid: returns for SUCCESS, throws the
    /// `FailureError` the check-back handler replies with otherwise.
    #[wasm_bindgen(js_name = checkBack)]
    pub fn check_back(&self, result: &str) -> JsResult<()> {
        let r = DtmResult::parse(result)
            .ok_or_else(|| bad(format!("unknown check-back result {result:?}")))?;
        js(b::check_back(self.inner.gid(), r))
    }

    /// Hands out the next barrier id.
    #[wasm_bindgen(js_name = nextBarrierId)]
    pub fn next_barrier_id(&mut self) -> String {
        self.inner.next_barrier_id()
    }

    /// Starts the guarded call of one local transaction: the sans-IO machine.
    #[wasm_bindgen(js_name = callMachine)]
    pub fn call_machine(&mut self, table: &BarrierTable) -> BarrierCall {
        BarrierCall {
            inner: self.inner.call_machine(&table.inner),
        }
    }

    /// The msg check-back.
    #[wasm_bindgen(js_name = queryPreparedMachine)]
    pub fn query_prepared_machine(&self, table: &BarrierTable) -> QueryPrepared {
        QueryPrepared {
            inner: self.inner.query_prepared_machine(&table.inner),
            gid: self.inner.gid().to_string(),
        }
    }

    /// Phase 1 of an XA branch on the host's database.
    #[wasm_bindgen(js_name = xaActionMachine)]
    pub fn xa_action_machine(&self, table: &BarrierTable) -> BarrierCall {
        BarrierCall {
            inner: self.inner.xa_action_machine(&table.inner),
        }
    }

    /// The fence statement after an XA phase-2 rollback: `{sql, params}`.
    #[wasm_bindgen(js_name = xaRollbackFence, unchecked_return_type = "{sql: string, params: string[]}")]
    pub fn xa_rollback_fence(&self, table: &BarrierTable) -> JsValue {
        let s = self.inner.xa_rollback_fence(&table.inner);
        object(&[("sql", s.sql.into()), ("params", strings(&s.params).into())])
    }

    /// The Redis barrier adjusting `key` by `amount` at most once; its keys live `expire`
    /// seconds (default: a week, as DTM).
    #[wasm_bindgen(js_name = redisCheckAdjustAmountCall)]
    pub fn redis_check_adjust_amount_call(
        &mut self,
        key: &str,
        amount: f64,
        expire: Option<u32>,
    ) -> JsResult<RedisCall> {
        if !(amount.is_finite() && amount.fract() == 0.0 && amount.abs() < 9.0e15) {
            return Err(bad("amount must be an integer"));
        }
        Ok(RedisCall {
            inner: js(self.inner.redis_check_adjust_amount_call(
                key,
                amount as i64,
                expire_secs(expire),
            ))?,
        })
    }

    /// The Redis msg check-back; its key lives `expire` seconds (default: a week).
    #[wasm_bindgen(js_name = redisQueryPreparedCall)]
    pub fn redis_query_prepared_call(&self, expire: Option<u32>) -> JsResult<RedisQueryPrepared> {
        Ok(RedisQueryPrepared {
            inner: js(self.inner.redis_query_prepared_call(expire_secs(expire)))?,
            gid: self.inner.gid().to_string(),
        })
    }
}

/// The Redis barrier's default key expiry in seconds (7 days, as DTM):
/// `Barrier.redisDefaultExpire`.
#[wasm_bindgen(js_name = redisDefaultExpire)]
pub fn redis_default_expire() -> u32 {
    u32::try_from(b::REDIS_DEFAULT_EXPIRE).unwrap_or(u32::MAX)
}

/// The expiry of Redis barrier keys: `expire` seconds, else the core's default.
fn expire_secs(expire: Option<u32>) -> u64 {
    expire.map_or(b::REDIS_DEFAULT_EXPIRE, u64::from)
}

/// The guarded call of one local transaction.
#[wasm_bindgen]
pub struct BarrierCall {
    inner: b::BarrierCall,
}

#[wasm_bindgen]
impl BarrierCall {
    /// The barrier id of this call.
    #[wasm_bindgen(getter, js_name = barrierId)]
    pub fn barrier_id(&self) -> String {
        self.inner.barrier_id().to_string()
    }

    /// What to do now; `done` with the decision (`run_business`,
    /// `skip_null_compensation`, ...).
    #[wasm_bindgen(unchecked_return_type = "BarrierStep")]
    pub fn step(&self) -> JsValue {
        step_of(self.inner.step(), |d| d.as_str())
    }

    /// Rows affected by the `execute` step.
    #[wasm_bindgen(js_name = feedAffected)]
    pub fn feed_affected(&mut self, rows: u32) -> JsResult<()> {
        js(self.inner.feed_affected(u64::from(rows)).map(|_| ()))
    }

    /// The reason read by the `query` step (`null`: no row).
    #[wasm_bindgen(js_name = feedReason)]
    pub fn feed_reason(&mut self, reason: Option<String>) -> JsResult<()> {
        js(self.inner.feed_reason(reason.as_deref()).map(|_| ()))
    }

    /// Throws the error the decision carries (`DuplicatedError` for a msg whose
    /// check-back already rolled it back).
    pub fn check(&self) -> JsResult<()> {
        match self.inner.decision().and_then(b::Decision::error) {
            Some(e) => Err(to_js(e)),
            None => Ok(()),
        }
    }
}

/// The msg check-back.
#[wasm_bindgen]
pub struct QueryPrepared {
    inner: b::QueryPrepared,
    gid: String,
}

#[wasm_bindgen]
impl QueryPrepared {
    /// What to do now; `done` with `SUCCESS` or `FAILURE`.
    #[wasm_bindgen(unchecked_return_type = "BarrierStep")]
    pub fn step(&self) -> JsValue {
        step_of(self.inner.step(), |r| r.as_str())
    }

    /// Rows affected by the `execute` step.
    #[wasm_bindgen(js_name = feedAffected)]
    pub fn feed_affected(&mut self, rows: u32) -> JsResult<()> {
        js(self.inner.feed_affected(u64::from(rows)).map(|_| ()))
    }

    /// The reason read by the `query` step.
    #[wasm_bindgen(js_name = feedReason)]
    pub fn feed_reason(&mut self, reason: Option<String>) -> JsResult<()> {
        js(self.inner.feed_reason(reason.as_deref()).map(|_| ()))
    }

    /// Once done: returns when the msg's local transaction committed, throws a
    /// `FailureError` when it did not (the check-back handler's reply, see `reply`).
    pub fn check(&self) -> JsResult<()> {
        match self.inner.result() {
            Some(r) => js(b::check_back(&self.gid, r)),
            None => Err(to_js(Error::new(
                ErrorKind::Internal,
                "the check-back has not run to its end",
            ))),
        }
    }
}

/// One run of the Redis adjust-amount script.
#[wasm_bindgen]
pub struct RedisCall {
    inner: b::RedisCall,
}

#[wasm_bindgen]
impl RedisCall {
    /// The Lua text.
    #[wasm_bindgen(getter)]
    pub fn script(&self) -> String {
        self.inner.script().to_string()
    }

    /// `KEYS`.
    #[wasm_bindgen(getter, unchecked_return_type = "string[]")]
    pub fn keys(&self) -> js_sys::Array {
        strings(self.inner.keys())
    }

    /// `ARGV`.
    #[wasm_bindgen(getter, unchecked_return_type = "string[]")]
    pub fn args(&self) -> js_sys::Array {
        strings(self.inner.args())
    }

    /// The decision for the script's reply (`null`: nil): `applied`,
    /// `null_compensation`, `duplicate` or `suspended`.
    pub fn decide(&self, reply: Option<String>) -> JsResult<String> {
        js(self
            .inner
            .decide(reply.as_deref())
            .map(|d| d.as_str().to_string()))
    }
}

/// One run of the Redis msg check-back script.
#[wasm_bindgen]
pub struct RedisQueryPrepared {
    inner: b::RedisQueryPrepared,
    gid: String,
}

#[wasm_bindgen]
impl RedisQueryPrepared {
    /// The Lua text.
    #[wasm_bindgen(getter)]
    pub fn script(&self) -> String {
        self.inner.script().to_string()
    }

    /// `KEYS`.
    #[wasm_bindgen(getter, unchecked_return_type = "string[]")]
    pub fn keys(&self) -> js_sys::Array {
        strings(self.inner.keys())
    }

    /// `ARGV`.
    #[wasm_bindgen(getter, unchecked_return_type = "string[]")]
    pub fn args(&self) -> js_sys::Array {
        strings(self.inner.args())
    }

    /// `SUCCESS` or `FAILURE` for the script's reply.
    pub fn decide(&self, reply: Option<String>) -> JsResult<String> {
        js(self
            .inner
            .decide(reply.as_deref())
            .map(|d| d.as_str().to_string()))
    }

    /// Returns when the script's reply says the msg's local transaction committed,
    /// throws a `FailureError` when it did not.
    pub fn check(&self, reply: Option<String>) -> JsResult<()> {
        let r = js(self.inner.decide(reply.as_deref()))?;
        js(b::check_back(&self.gid, r))
    }
}

/// One guarded call, or one msg check-back, as the actions the host carries out on its
/// database (`action()`): `begin`, `execute` (feed the rows affected), `query` (feed the
/// reason read), `business` (call the business code), `commit`, `rollback` (then `ok()`),
/// until `return` (the business code's value if it ran) or `raise` (throw `error()`).
/// Whatever an action throws goes to `fail()`. Every decision, and who owns the database
/// transaction, is the core's (`Guard` in core/src/barrier/guard.rs).
#[wasm_bindgen]
pub struct Guard {
    inner: b::Guard,
    /// The values the host's actions threw, in order; a core error whose source is
    /// [`Thrown`]`(i)` stands for the i-th.
    thrown: Vec<JsValue>,
}

/// Marks the core error fed for a value the host threw: its index in `Guard::thrown`.
#[derive(Debug)]
struct Thrown(usize);

impl std::fmt::Display for Thrown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the host's own error #{}", self.0)
    }
}

impl std::error::Error for Thrown {}

/// The ownership rule on the driver's fact: `inTransaction` true joins the caller's open
/// transaction, false (or `null`/`undefined`: not known) gets the barrier's own.
fn ownership(in_transaction: &JsValue) -> JsResult<Ownership> {
    let fact = if in_transaction.is_undefined() || in_transaction.is_null() {
        false
    } else {
        in_transaction.as_bool().ok_or_else(|| {
            bad(format!(
                "inTransaction must be a boolean, got {}",
                text(in_transaction)
            ))
        })?
    };
    Ok(Ownership::for_connection(fact))
}

#[wasm_bindgen]
impl Guard {
    /// The guarded call `call` (from `barrier.call(table)`, consumed) on a connection that
    /// is inside a transaction or not (`inTransaction`, the driver's fact): an open
    /// transaction is joined and its commit or rollback left to the caller; otherwise the
    /// guard begins its own, commits it when the business code returns or is skipped and
    /// rolls it back when anything throws.
    #[wasm_bindgen(constructor)]
    pub fn new(
        call: BarrierCall,
        #[wasm_bindgen(
            js_name = inTransaction,
            unchecked_param_type = "boolean | null | undefined"
        )]
        in_transaction: JsValue,
    ) -> JsResult<Guard> {
        Ok(Guard {
            inner: b::Guard::new(call.inner, ownership(&in_transaction)?),
            thrown: Vec::new(),
        })
    }

    /// The msg check-back `query` (from `Barrier.forMsg(gid).queryPrepared(table)`,
    /// consumed), with the same ownership rule; both of its answers are committed.
    #[wasm_bindgen(js_name = checkBack)]
    pub fn check_back(
        query: QueryPrepared,
        #[wasm_bindgen(
            js_name = inTransaction,
            unchecked_param_type = "boolean | null | undefined"
        )]
        in_transaction: JsValue,
    ) -> JsResult<Guard> {
        Ok(Guard {
            inner: b::Guard::check_back(query.inner, &query.gid, ownership(&in_transaction)?),
            thrown: Vec::new(),
        })
    }

    /// Who owns the database transaction: `own` (the guard's) or `join` (the caller's).
    #[wasm_bindgen(getter, unchecked_return_type = "'own' | 'join'")]
    pub fn ownership(&self) -> String {
        self.inner.ownership().as_str().to_string()
    }

    /// What to do now: `{kind, sql, params}` for `execute` and `query`, `{kind,
    /// decision}` for `return` (the barrier's decision, `null` for a check-back), `{kind}`
    /// otherwise.
    #[wasm_bindgen(unchecked_return_type = "GuardAction")]
    pub fn action(&self) -> JsValue {
        let statement = |kind: &str, s: &b::Statement| {
            object(&[
                ("kind", kind.into()),
                ("sql", s.sql.as_str().into()),
                ("params", strings(&s.params).into()),
            ])
        };
        let kind = match self.inner.action() {
            Action::Execute(s) => return statement("execute", s),
            Action::QueryReason(s) => return statement("query", s),
            Action::Return(d) => {
                return object(&[
                    ("kind", "return".into()),
                    ("decision", d.map_or(JsValue::NULL, |d| d.as_str().into())),
                ])
            }
            Action::Begin => "begin",
            Action::RunBusiness => "business",
            Action::Commit => "commit",
            Action::Rollback => "rollback",
            Action::Raise(_) => "raise",
        };
        object(&[("kind", kind.into())])
    }

    /// The `begin`, `business`, `commit` or `rollback` action succeeded.
    pub fn ok(&mut self) -> JsResult<()> {
        js(self.inner.ok().map(drop))
    }

    /// The rows affected by the `execute` action's statement.
    #[wasm_bindgen(js_name = feedAffected)]
    pub fn feed_affected(&mut self, rows: u32) -> JsResult<()> {
        js(self.inner.feed_affected(u64::from(rows)).map(drop))
    }

    /// The reason the `query` action read (`null`: no row).
    #[wasm_bindgen(js_name = feedReason)]
    pub fn feed_reason(&mut self, reason: Option<String>) -> JsResult<()> {
        js(self.inner.feed_reason(reason.as_deref()).map(drop))
    }

    /// The current action threw `thrown` (the driver's error, the business code's): the
    /// core sees a dtmx error as its kind and anything else as a host error; the value is
    /// kept, to be thrown again by `error()` when it is what the call ends with.
    pub fn fail(&mut self, thrown: JsValue) {
        let error = thrown_error(&thrown).with_source(Thrown(self.thrown.len()));
        self.thrown.push(thrown);
        self.inner.fail(error);
    }

    /// Once the action is `raise`: what to throw, the host's own value when that is what
    /// the call ends with (its `notes` set to the core's, e.g. a failed rollback), else
    /// the core's error (`DuplicatedError`, the check-back's `FailureError`).
    pub fn error(&mut self) -> JsValue {
        let Some(e) = self.inner.take_error() else {
            return bad("the guard has not raised");
        };
        let own = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<Thrown>())
            .and_then(|t| self.thrown.get(t.0).cloned());
        match own {
            Some(value) => with_notes(value, &e),
            None => to_js(e),
        }
    }
}
