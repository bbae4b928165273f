//! The business-service side: `Branch`, and outcomes to replies and back.

use crate::errors::py_result;
use dtmx_bindings::branch::{self, outcome_named, outcome_parts, Outcome};
use dtmx_bindings::dtmx::{rm, tm};
use dtmx_bindings::error::{invalid, kind_of};
use pyo3::prelude::*;

/// The identity of a branch call (from its query string or gRPC metadata).
#[pyclass(module = "dtmx._native", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct Branch {
    /// The facade value.
    pub inner: branch::Branch,
}

impl From<branch::Branch> for Branch {
    fn from(inner: branch::Branch) -> Self {
        Branch { inner }
    }
}

#[pymethods]
impl Branch {
    /// The constructor.
    #[new]
    #[pyo3(signature = (gid="", trans_type="", branch_id="", op="", dtm="", phase2_url=""))]
    fn new(
        gid: &str,
        trans_type: &str,
        branch_id: &str,
        op: &str,
        dtm: &str,
        phase2_url: &str,
    ) -> Self {
        let pairs = [
            ("gid", gid),
            ("trans_type", trans_type),
            ("branch_id", branch_id),
            ("op", op),
            ("dtm", dtm),
            ("phase2_url", phase2_url),
        ];
        branch::Branch::from_query_pairs(pairs).into()
    }

    /// Reads a query string (`gid=...&op=...`, with or without `?`).
    #[staticmethod]
    fn from_query(query: &str) -> Self {
        branch::Branch::from_query(query).into()
    }

    /// Reads decoded query pairs (the first value of a key wins).
    #[staticmethod]
    fn from_query_pairs(pairs: Vec<(String, String)>) -> Self {
        branch::Branch::from_query_pairs(pairs).into()
    }

    /// Reads gRPC metadata pairs (`dtm-gid`, ...).
    #[staticmethod]
    fn from_grpc_metadata(pairs: Vec<(String, String)>) -> Self {
        branch::Branch::from_grpc_metadata(pairs).into()
    }

    /// Global transaction id.
    #[getter]
    fn gid(&self) -> &str {
        &self.inner.gid
    }

    /// Transaction type.
    #[getter]
    fn trans_type(&self) -> &str {
        &self.inner.trans_type
    }

    /// Branch id.
    #[getter]
    fn branch_id(&self) -> &str {
        &self.inner.branch_id
    }

    /// Operation.
    #[getter]
    fn op(&self) -> &str {
        &self.inner.op
    }

    /// The DTM server URL (TCC and XA calls).
    #[getter]
    fn dtm(&self) -> &str {
        &self.inner.dtm
    }

    /// XA phase-2 URL.
    #[getter]
    fn phase2_url(&self) -> &str {
        &self.inner.phase2_url
    }

    /// The identity as query pairs (sorted, empty ones left out).
    fn to_query(&self) -> Vec<(String, String)> {
        self.inner
            .to_query()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The fields, for debugging.
    fn __repr__(&self) -> String {
        let b = &self.inner;
        format!(
            "Branch(gid={:?}, trans_type={:?}, branch_id={:?}, op={:?}, dtm={:?}, phase2_url={:?})",
            b.gid, b.trans_type, b.branch_id, b.op, b.dtm, b.phase2_url
        )
    }
}

/// The HTTP reply `(status, body)` for an outcome (`success`, `failure`, `ongoing`,
/// `unknown`) and its message.
#[pyfunction]
#[pyo3(signature = (outcome, message=""))]
fn outcome_reply(outcome: &str, message: &str) -> PyResult<(u16, String)> {
    let o = py_result(named(outcome, message))?;
    let r = branch::outcome_reply(&o);
    Ok((r.status, r.body))
}

/// The outcome of a handler's error, `(outcome, message)`: `code` is a dtmx error code,
/// `None` for any other exception (retried, never a rollback).
#[pyfunction]
#[pyo3(signature = (code, message))]
fn outcome_of_error(code: Option<i32>, message: &str) -> (&'static str, String) {
    parts(&branch::outcome_of_error(code.and_then(kind_of), message))
}

/// How dtm reads a branch's HTTP reply: `(outcome, message)`.
#[pyfunction]
fn outcome_from_http(status: u16, body: &[u8]) -> (&'static str, String) {
    parts(&Outcome::from_http(status, body))
}

/// The gRPC code for an outcome.
#[pyfunction]
#[pyo3(signature = (outcome, message=""))]
fn grpc_code(outcome: &str, message: &str) -> PyResult<i32> {
    Ok(rm::grpc_code(&py_result(named(outcome, message))?).code())
}

/// The outcome of a gRPC status: `(outcome, message)`.
#[pyfunction]
fn outcome_from_grpc(code: i32, message: &str) -> (&'static str, String) {
    parts(&rm::outcome_from_grpc(code, message))
}

/// Raises the error a branch reply to the client's own call stands for (TCC try, XA
/// action, msg check-back).
#[pyfunction]
fn check_branch_reply(status: u16, body: &[u8]) -> PyResult<()> {
    py_result(tm::check_branch_reply(status, body))
}

/// Raises the error a reply of the DTM server stands for.
#[pyfunction]
fn check_server_reply(status: u16, body: &[u8]) -> PyResult<()> {
    py_result(tm::check_server_reply(status, body))
}

fn named(outcome: &str, message: &str) -> dtmx_bindings::Result<Outcome> {
    outcome_named(outcome, message).ok_or_else(|| invalid(format!("unknown outcome {outcome:?}")))
}

fn parts(o: &Outcome) -> (&'static str, String) {
    let (n, m) = outcome_parts(o);
    (n, m.to_string())
}

/// Adds this module's classes and functions to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Branch>()?;
    m.add_function(wrap_pyfunction!(outcome_reply, m)?)?;
    m.add_function(wrap_pyfunction!(outcome_of_error, m)?)?;
    m.add_function(wrap_pyfunction!(outcome_from_http, m)?)?;
    m.add_function(wrap_pyfunction!(grpc_code, m)?)?;
    m.add_function(wrap_pyfunction!(outcome_from_grpc, m)?)?;
    m.add_function(wrap_pyfunction!(check_branch_reply, m)?)?;
    m.add_function(wrap_pyfunction!(check_server_reply, m)?)
}
