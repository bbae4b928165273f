//! The sans-IO barrier: tables, guarded calls, the msg check-back and the Redis scripts.
//! Steps are tuples: `("execute", sql, params)`, `("query", sql, params)`,
//! `("done", result)`.

use crate::errors::py_result;
use crate::rm::BranchRequest;
use dtmx_bindings::barrier::{self as b, render, ParamStyle, Step};
use dtmx_bindings::dtmx::DtmResult;
use dtmx_bindings::error::invalid;
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
    fn from_branch(branch: &BranchRequest) -> PyResult<Self> {
        let r = &branch.inner;
        Barrier::new(&r.trans_type, &r.gid, &r.branch_id, &r.op)
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
    fn from_query(pairs: Vec<(String, String)>) -> PyResult<Self> {
        Ok(Barrier {
            inner: py_result(b::Barrier::from_query(pairs))?,
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
    fn call(&mut self, table: &BarrierTable) -> BarrierCall {
        BarrierCall {
            inner: self.inner.call(&table.inner),
        }
    }

    /// The msg check-back.
    fn query_prepared(&self, table: &BarrierTable) -> QueryPrepared {
        QueryPrepared {
            inner: self.inner.query_prepared(&table.inner),
            gid: self.inner.gid().to_string(),
        }
    }

    /// Phase 1 of an XA branch.
    fn xa_action(&self, table: &BarrierTable) -> BarrierCall {
        BarrierCall {
            inner: self.inner.xa_action(&table.inner),
        }
    }

    /// The fence after a phase-2 rollback: `(sql, params)`.
    fn xa_rollback_fence(&self, table: &BarrierTable) -> (String, Vec<String>) {
        let s = self.inner.xa_rollback_fence(&table.inner);
        (s.sql, s.params)
    }

    /// The Redis barrier adjusting `key` by `amount` at most once.
    fn redis_check_adjust_amount(
        &mut self,
        key: &str,
        amount: i64,
        expire: u64,
    ) -> PyResult<RedisCall> {
        Ok(RedisCall {
            inner: py_result(self.inner.redis_check_adjust_amount(key, amount, expire))?,
        })
    }

    /// The Redis msg check-back.
    fn redis_query_prepared(&self, expire: u64) -> PyResult<RedisQueryPrepared> {
        Ok(RedisQueryPrepared {
            inner: py_result(self.inner.redis_query_prepared(expire))?,
            gid: self.inner.gid().to_string(),
        })
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

    /// Raises the error the decision carries (`DuplicatedError` for `msg_duplicated`).
    fn check(&self) -> PyResult<()> {
        match self.inner.decision().and_then(b::Decision::error) {
            Some(e) => py_result(Err(e)),
            None => Ok(()),
        }
    }
}

fn result_name(r: &DtmResult) -> &'static str {
    r.as_str()
}

/// The msg check-back.
#[pyclass(module = "dtmx._native")]
pub struct QueryPrepared {
    inner: b::QueryPrepared,
    gid: String,
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

    /// Once done: returns when the local transaction committed, raises `FailureError`
    /// when it did not (the core's `check_back_result`).
    fn check(&self) -> PyResult<()> {
        match self.inner.result() {
            Some(r) => py_result(b::check_back_result(&self.gid, r)),
            None => py_result(Err(invalid("the check-back is not done"))),
        }
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
    /// `FailureError` when it did not (the core's `check_back_result`).
    #[pyo3(signature = (reply))]
    fn check(&self, reply: Option<&str>) -> PyResult<()> {
        let result = py_result(self.inner.decide(reply))?;
        py_result(b::check_back_result(&self.gid, result))
    }
}

/// Adds this module's classes and functions to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<BarrierTable>()?;
    m.add_class::<Barrier>()?;
    m.add_class::<BarrierCall>()?;
    m.add_class::<QueryPrepared>()?;
    m.add_class::<RedisCall>()?;
    m.add_class::<RedisQueryPrepared>()?;
    m.add("REDIS_EXPIRE_SECS", b::REDIS_EXPIRE_SECS)
}
