//! The sans-IO barrier: tables, guarded calls, the msg check-back, the [`Guard`] around
//! them and the Redis scripts. Steps of a call or check-back are tuples: `("execute", sql,
//! params)`, `("query", sql, params)`, `("done", result)`. Actions of a guard are tuples
//! too: `("begin",)`, `("execute", sql, params)`, `("query", sql, params)`,
//! `("business",)`, `("commit",)`, `("rollback",)`, `("return", decision)` (`None` for a
//! check-back) and `("raise", exception)`.

use crate::errors::{carrying, py_result, raise_error};
use crate::rm::Branch;
use dtmx_bindings::barrier::{self as b, render, Action, ParamStyle, Step};
use dtmx_bindings::dtmx::DtmResult;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;

/// Where barrier rows live: a dialect and a table name.
#[pyclass(module = "dtmx._native", frozen)]
pub struct BarrierTable {
    /// The facade value.
    pub inner: b::BarrierTable,
}

#[pymethods]
impl BarrierTable {
    /// The table `name` (default: the dialect's) of `dialect` (`mysql`, `mariadb`,
    /// `postgres`, `sqlite`, ...).
    /// The constructor.
    #[new]
    #[pyo3(signature = (dialect, name=None))]
    fn new(dialect: &str, name: Option<&str>) -> PyResult<Self> {
        Ok(BarrierTable {
            inner: py_result(b::table(dialect, name))?,
        })
    }

    /// The dialect's stable name.
    #[getter]
    fn dialect(&self) -> &'static str {
        self.inner.dialect().as_str()
    }

    /// The table name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// Statements creating the table if missing.
    fn ddl(&self) -> Vec<String> {
        self.inner.ddl()
    }

    /// The insert-ignore SQL.
    fn insert_ignore_sql(&self) -> String {
        self.inner.insert_ignore_sql()
    }

    /// The reason query SQL.
    fn select_reason_sql(&self) -> String {
        self.inner.select_reason_sql()
    }

    /// `sql` of this dialect with placeholders in `style` (`qmark`, `format`, `pyformat`,
    /// `dollar`, `numeric`).
    fn render(&self, sql: &str, style: &str) -> PyResult<String> {
        let s = py_result(ParamStyle::parse(style))?;
        Ok(render(sql, self.inner.dialect(), s))
    }
}

/// The barrier of one branch call.
#[pyclass(module = "dtmx._native")]
pub struct Barrier {
    inner: b::Barrier,
}

#[pymethods]
impl Barrier {
    /// The constructor.
    #[new]
    fn new(trans_type: &str, gid: &str, branch_id: &str, op: &str) -> PyResult<Self> {
        Ok(Barrier {
            inner: py_result(b::Barrier::new(trans_type, gid, branch_id, op))?,
        })
    }

    /// The barrier of a branch request.
    #[staticmethod]
    fn from_branch(branch: &Branch) -> PyResult<Self> {
        Ok(Barrier {
            inner: py_result(b::Barrier::from_branch(&branch.inner))?,
        })
    }

    /// From the raw query string of an HTTP branch call (with or without `?`).
    #[staticmethod]
    fn from_query(query: &str) -> PyResult<Self> {
        Ok(Barrier {
            inner: py_result(b::Barrier::from_query(query))?,
        })
    }

    /// The barrier of the msg `gid`'s local work and check-back (the core's
    /// `Barrier::for_msg`).
    #[staticmethod]
    fn for_msg(gid: &str) -> PyResult<Self> {
        Ok(Barrier {
            inner: py_result(b::Barrier::for_msg(gid))?,
        })
    }

    /// From decoded HTTP query pairs.
    #[staticmethod]
    fn from_query_pairs(pairs: Vec<(String, String)>) -> PyResult<Self> {
        Ok(Barrier {
            inner: py_result(b::Barrier::from_query_pairs(pairs))?,
        })
    }

    /// From gRPC metadata pairs.
    #[staticmethod]
    fn from_grpc_metadata(pairs: Vec<(String, String)>) -> PyResult<Self> {
        Ok(Barrier {
            inner: py_result(b::Barrier::from_grpc_metadata(pairs))?,
        })
    }

    /// The barrier's trans type.
    #[getter]
    fn trans_type(&self) -> &str {
        self.inner.trans_type()
    }

    /// The barrier's gid.
    #[getter]
    fn gid(&self) -> &str {
        self.inner.gid()
    }

    /// The barrier's branch id.
    #[getter]
    fn branch_id(&self) -> &str {
        self.inner.branch_id()
    }

    /// The barrier's op.
    #[getter]
    fn op(&self) -> &str {
        self.inner.op()
    }

    /// Hands out the next barrier id.
    fn next_barrier_id(&mut self) -> String {
        self.inner.next_barrier_id()
    }

    /// Starts the guarded call of one local transaction.
    fn call_machine(&mut self, table: &BarrierTable) -> BarrierCall {
        BarrierCall {
            inner: self.inner.call_machine(&table.inner),
        }
    }

    /// The msg check-back.
    fn query_prepared_machine(&self, table: &BarrierTable) -> QueryPrepared {
        QueryPrepared {
            inner: self.inner.query_prepared_machine(&table.inner),
        }
    }

    /// Phase 1 of an XA branch.
    fn xa_action_machine(&self, table: &BarrierTable) -> BarrierCall {
        BarrierCall {
            inner: self.inner.xa_action_machine(&table.inner),
        }
    }

    /// The fence after a phase-2 rollback: `(sql, params)`.
    fn xa_rollback_fence(&self, table: &BarrierTable) -> (String, Vec<String>) {
        let s = self.inner.xa_rollback_fence(&table.inner);
        (s.sql, s.params)
    }

    /// The Redis barrier adjusting `key` by `amount` at most once.
    fn redis_check_adjust_amount_call(
        &mut self,
        key: &str,
        amount: i64,
        expire: u64,
    ) -> PyResult<RedisCall> {
        Ok(RedisCall {
            inner: py_result(
                self.inner
                    .redis_check_adjust_amount_call(key, amount, expire),
            )?,
        })
    }

    /// The Redis msg check-back.
    fn redis_query_prepared_call(&self, expire: u64) -> PyResult<RedisQueryPrepared> {
        Ok(RedisQueryPrepared {
            inner: py_result(self.inner.redis_query_prepared_call(expire))?,
            gid: self.inner.gid().to_string(),
        })
    }

    /// What a check-back handler answers for `result` (`SUCCESS`, `FAILURE`, ...): returns
    /// for `SUCCESS`, raises `FailureError` for anything else.
    fn check_back(&self, result: &str) -> PyResult<()> {
        let r = DtmResult::parse(result).unwrap_or(DtmResult::Failure);
        py_result(b::check_back(self.inner.gid(), r))
    }
}

fn step_tuple<T>(
    py: Python<'_>,
    step: &Step<T>,
    done: impl Fn(&T) -> &'static str,
) -> PyResult<PyObject> {
    match step {
        Step::Execute(s) => ("execute", s.sql.clone(), s.params.clone()).into_py_any(py),
        Step::QueryReason(s) => ("query", s.sql.clone(), s.params.clone()).into_py_any(py),
        Step::Done(d) => ("done", done(d)).into_py_any(py),
    }
}

/// The guarded call of one local transaction.
#[pyclass(module = "dtmx._native")]
pub struct BarrierCall {
    inner: b::BarrierCall,
}

#[pymethods]
impl BarrierCall {
    /// The barrier id of this call.
    #[getter]
    fn barrier_id(&self) -> &str {
        self.inner.barrier_id()
    }

    /// What to do now.
    fn step(&self, py: Python<'_>) -> PyResult<PyObject> {
        step_tuple(py, self.inner.step(), |d| d.as_str())
    }

    /// Rows affected by the `execute` step.
    fn feed_affected(&mut self, rows: u64) -> PyResult<()> {
        py_result(self.inner.feed_affected(rows).map(|_| ()))
    }

    /// The reason read by the `query` step (`None`: no row).
    #[pyo3(signature = (reason))]
    fn feed_reason(&mut self, reason: Option<&str>) -> PyResult<()> {
        py_result(self.inner.feed_reason(reason).map(|_| ()))
    }
}

fn result_name(r: &DtmResult) -> &'static str {
    r.as_str()
}

/// The msg check-back.
#[pyclass(module = "dtmx._native")]
pub struct QueryPrepared {
    inner: b::QueryPrepared,
}

#[pymethods]
impl QueryPrepared {
    /// What to do now; done with `SUCCESS` or `FAILURE`.
    fn step(&self, py: Python<'_>) -> PyResult<PyObject> {
        step_tuple(py, self.inner.step(), result_name)
    }

    /// Rows affected by the `execute` step.
    fn feed_affected(&mut self, rows: u64) -> PyResult<()> {
        py_result(self.inner.feed_affected(rows).map(|_| ()))
    }

    /// The reason read by the `query` step.
    #[pyo3(signature = (reason))]
    fn feed_reason(&mut self, reason: Option<&str>) -> PyResult<()> {
        py_result(self.inner.feed_reason(reason).map(|_| ()))
    }
}

/// Who begins, commits and rolls back the database transaction of a guarded call (the
/// core's `Ownership`).
#[pyclass(module = "dtmx._native", eq, eq_int, frozen)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// The barrier's own transaction: begun, committed, rolled back by the guard.
    Own,
    /// The caller's open transaction, joined: committing or rolling back stays with the
    /// caller.
    Join,
}

impl From<b::Ownership> for Ownership {
    fn from(o: b::Ownership) -> Self {
        match o {
            b::Ownership::Own => Ownership::Own,
            b::Ownership::Join => Ownership::Join,
        }
    }
}

impl From<Ownership> for b::Ownership {
    fn from(o: Ownership) -> Self {
        match o {
            Ownership::Own => b::Ownership::Own,
            Ownership::Join => b::Ownership::Join,
        }
    }
}

#[pymethods]
impl Ownership {
    /// The rule of every package: a connection already inside a transaction is joined, one
    /// with none open gets the barrier's own.
    #[staticmethod]
    fn for_connection(in_transaction: bool) -> Ownership {
        b::Ownership::for_connection(in_transaction).into()
    }

    /// The stable name: `own` or `join`.
    fn as_str(&self) -> &'static str {
        b::Ownership::from(*self).as_str()
    }
}

/// One guarded call or msg check-back as the actions the host carries out on its driver
/// (the core's `Guard`): look at [`Guard::action`], do it, report back.
#[pyclass(module = "dtmx._native")]
pub struct Guard {
    inner: b::Guard,
    /// The exception of a finished `raise` action, made once.
    raised: Option<PyObject>,
}

impl Guard {
    fn made(py: Python<'_>, inner: b::Guard) -> Guard {
        let mut g = Guard {
            inner,
            raised: None,
        };
        g.settle(py);
        g
    }

    /// Turns the error of a `raise` action, once reached, into the exception to raise.
    fn settle(&mut self, py: Python<'_>) {
        if self.raised.is_none() {
            if let Some(e) = self.inner.take_error() {
                self.raised = Some(raise_error(py, e).into_value(py).into_any());
            }
        }
    }

    /// The outcome of reporting an action: the guard's next state, or the misuse error.
    fn moved(&mut self, py: Python<'_>, r: dtmx_bindings::Result<()>) -> PyResult<()> {
        let r = py_result(r);
        self.settle(py);
        r
    }
}

#[pymethods]
impl Guard {
    /// The guarded call `call` (a copy of its state) under `ownership`.
    #[new]
    fn new(py: Python<'_>, call: &BarrierCall, ownership: Ownership) -> Guard {
        Guard::made(py, b::Guard::new(call.inner.clone(), ownership.into()))
    }

    /// The msg check-back `query` of the msg `gid` (a copy of its state) under
    /// `ownership`: both answers commit; a local transaction that did not commit ends in
    /// `FailureError`.
    #[staticmethod]
    fn check_back(py: Python<'_>, query: &QueryPrepared, gid: &str, ownership: Ownership) -> Guard {
        Guard::made(
            py,
            b::Guard::check_back(query.inner.clone(), gid, ownership.into()),
        )
    }

    /// Who owns the transaction.
    #[getter]
    fn ownership(&self) -> Ownership {
        self.inner.ownership().into()
    }

    /// The barrier's decision once reached (`run_business`, ...), else None.
    #[getter]
    fn decision(&self) -> Option<&'static str> {
        self.inner.decision().map(|d| d.as_str())
    }

    /// What to do now, as a tuple (see the module's doc).
    fn action(&self, py: Python<'_>) -> PyResult<PyObject> {
        match self.inner.action() {
            Action::Begin => ("begin",).into_py_any(py),
            Action::Execute(s) => ("execute", s.sql.clone(), s.params.clone()).into_py_any(py),
            Action::QueryReason(s) => ("query", s.sql.clone(), s.params.clone()).into_py_any(py),
            Action::RunBusiness => ("business",).into_py_any(py),
            Action::Commit => ("commit",).into_py_any(py),
            Action::Rollback => ("rollback",).into_py_any(py),
            Action::Return(d) => ("return", d.map(|d| d.as_str())).into_py_any(py),
            Action::Raise(_) => match &self.raised {
                Some(e) => ("raise", e.clone_ref(py)).into_py_any(py),
                None => py_result(Err(dtmx_bindings::error::invalid(
                    "the guard's error was taken",
                ))),
            },
        }
    }

    /// The `begin`, `business`, `commit` or `rollback` action succeeded.
    fn ok(&mut self, py: Python<'_>) -> PyResult<()> {
        let r = self.inner.ok().map(drop);
        self.moved(py, r)
    }

    /// Rows affected by the `execute` action.
    fn feed_affected(&mut self, py: Python<'_>, rows: u64) -> PyResult<()> {
        let r = self.inner.feed_affected(rows).map(drop);
        self.moved(py, r)
    }

    /// The reason read by the `query` action (`None`: no row).
    #[pyo3(signature = (reason))]
    fn feed_reason(&mut self, py: Python<'_>, reason: Option<&str>) -> PyResult<()> {
        let r = self.inner.feed_reason(reason).map(drop);
        self.moved(py, r)
    }

    /// The current action raised `exception` (the driver's or the business code's): it is
    /// kept, and raised in the end with the notes of what failed after it.
    fn fail(&mut self, py: Python<'_>, exception: PyObject) {
        let e = carrying(py, PyErr::from_value(exception.into_bound(py)));
        self.inner.fail(e);
        self.settle(py);
    }
}

/// One run of the Redis adjust-amount script.
#[pyclass(module = "dtmx._native", frozen)]
pub struct RedisCall {
    inner: b::RedisCall,
}

#[pymethods]
impl RedisCall {
    /// The Lua text.
    #[getter]
    fn script(&self) -> &'static str {
        self.inner.script()
    }

    /// `KEYS`.
    #[getter]
    fn keys(&self) -> Vec<String> {
        self.inner.keys().to_vec()
    }

    /// `ARGV`.
    #[getter]
    fn args(&self) -> Vec<String> {
        self.inner.args().to_vec()
    }

    /// The decision for the script's reply (`None`: nil).
    #[pyo3(signature = (reply))]
    fn decide(&self, reply: Option<&str>) -> PyResult<&'static str> {
        py_result(self.inner.decide(reply).map(|d| d.as_str()))
    }
}

/// One run of the Redis msg check-back script.
#[pyclass(module = "dtmx._native", frozen)]
pub struct RedisQueryPrepared {
    inner: b::RedisQueryPrepared,
    gid: String,
}

#[pymethods]
impl RedisQueryPrepared {
    /// The Lua text.
    #[getter]
    fn script(&self) -> &'static str {
        self.inner.script()
    }

    /// `KEYS`.
    #[getter]
    fn keys(&self) -> Vec<String> {
        self.inner.keys().to_vec()
    }

    /// `ARGV`.
    #[getter]
    fn args(&self) -> Vec<String> {
        self.inner.args().to_vec()
    }

    /// `SUCCESS` or `FAILURE` for the script's reply.
    #[pyo3(signature = (reply))]
    fn decide(&self, reply: Option<&str>) -> PyResult<&'static str> {
        py_result(self.inner.decide(reply).map(|d| d.as_str()))
    }

    /// For the script's reply: returns when the local transaction committed, raises
    /// `FailureError` when it did not (the core's `check_back`).
    #[pyo3(signature = (reply))]
    fn check(&self, reply: Option<&str>) -> PyResult<()> {
        let result = py_result(self.inner.decide(reply))?;
        py_result(b::check_back(&self.gid, result))
    }
}

/// Adds this module's classes and functions to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<BarrierTable>()?;
    m.add_class::<Barrier>()?;
    m.add_class::<BarrierCall>()?;
    m.add_class::<QueryPrepared>()?;
    m.add_class::<Ownership>()?;
    m.add_class::<Guard>()?;
    m.add_class::<RedisCall>()?;
    m.add_class::<RedisQueryPrepared>()?;
    m.add("REDIS_DEFAULT_EXPIRE", b::REDIS_DEFAULT_EXPIRE)
}
