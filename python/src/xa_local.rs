//! `XaLocal`: one XA branch call on the RM side, driven step by step by the host.
//! Steps: `("execute", sql, params)`, `("query", sql, params)`, `("business",)`,
//! `("send", method, url, headers, body)`, `("done",)`.

use crate::barrier::BarrierTable;
use crate::errors::{from_body, py_result};
use crate::rm::Branch;
use dtmx_bindings::dtmx::rm::{self, XaStep};
use dtmx_bindings::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::IntoPyObjectExt;

/// One XA branch call (phase 1 `action`, phase 2 `commit` / `rollback`).
#[pyclass(module = "dtmx._native")]
pub struct XaLocal {
    inner: Option<rm::XaLocal>,
}

impl XaLocal {
    fn live(&mut self) -> PyResult<&mut rm::XaLocal> {
        py_result(
            self.inner
                .as_mut()
                .ok_or_else(|| dtmx_bindings::error::invalid("the XA call is finished")),
        )
    }
}

#[pymethods]
impl XaLocal {
    /// The constructor.
    #[new]
    fn new(branch: &Branch, table: &BarrierTable) -> PyResult<Self> {
        Ok(XaLocal {
            inner: Some(py_result(rm::XaLocal::new(&branch.inner, &table.inner))?),
        })
    }

    /// The XA transaction id.
    fn xid(&mut self) -> PyResult<String> {
        Ok(self.live()?.xid().to_string())
    }

    /// What to do now.
    fn step(&mut self, py: Python<'_>) -> PyResult<PyObject> {
        match self.live()?.step() {
            XaStep::Execute(s) => ("execute", s.sql.clone(), s.params.clone()).into_py_any(py),
            XaStep::QueryReason(s) => ("query", s.sql.clone(), s.params.clone()).into_py_any(py),
            XaStep::RunBusiness => ("business",).into_py_any(py),
            XaStep::Send(r) => (
                "send",
                r.method.as_str(),
                r.url.clone(),
                r.headers.clone(),
                r.body.as_deref().map(|b| PyBytes::new(py, b)),
            )
                .into_py_any(py),
            XaStep::Done => ("done",).into_py_any(py),
        }
    }

    /// Rows affected by the `execute` step.
    fn feed_affected(&mut self, rows: u64) -> PyResult<()> {
        py_result(self.live()?.feed_affected(rows).map(|_| ()))
    }

    /// The reason read by the `query` step.
    #[pyo3(signature = (reason))]
    fn feed_reason(&mut self, reason: Option<&str>) -> PyResult<()> {
        py_result(self.live()?.feed_reason(reason).map(|_| ()))
    }

    /// The database's error message for the `execute` or `query` step.
    fn feed_sql_error(&mut self, message: &str) -> PyResult<()> {
        py_result(self.live()?.feed_sql_error(message).map(|_| ()))
    }

    /// The business SQL's result: `None` for success, else the exception it raised.
    #[pyo3(signature = (exception))]
    fn feed_business(&mut self, py: Python<'_>, exception: Option<PyObject>) -> PyResult<()> {
        let result = match exception {
            None => Ok(()),
            Some(e) => Err(from_body(py, &PyErr::from_value(e.into_bound(py)))),
        };
        py_result(self.live()?.feed_business(result).map(|_| ()))
    }

    /// dtm's reply to the `send` step.
    fn feed_reply(&mut self, status: u16, body: &[u8]) -> PyResult<()> {
        py_result(self.live()?.feed_reply(status, body).map(|_| ()))
    }

    /// The failure to send the `send` step.
    fn feed_send_error(&mut self, message: &str) -> PyResult<()> {
        let e = Error::new(ErrorKind::Transport, message);
        py_result(self.live()?.feed_send_error(e).map(|_| ()))
    }

    /// Ends the call: raises the error to reply with, if any.
    fn finish(&mut self) -> PyResult<()> {
        let x = py_result(
            self.inner
                .take()
                .ok_or_else(|| dtmx_bindings::error::invalid("the XA call is finished")),
        )?;
        py_result(x.finish())
    }
}

/// Adds this module's classes and functions to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<XaLocal>()
}
