//! `Saga`, `Msg`, `Tcc` and `Xa`: the core's builders, each call blocking (GIL released)
//! or reporting to a `done` callable (`*_async`).

use crate::errors::py_result;
use crate::run::{blocking, blocking_with_body, none, spawn, spawn_with_body};
use dtmx_bindings::dtmx::{tm, transport::HttpResponse};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use pyo3::IntoPyObjectExt;

/// A payload given as `str` or `bytes`.
pub fn payload(p: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if p.is_instance_of::<PyString>() {
        return Ok(p.extract::<String>()?.into_bytes());
    }
    if let Ok(b) = p.downcast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    py_result(Err(dtmx_bindings::error::invalid(
        "payload must be str or bytes",
    )))
}

fn reply(py: Python<'_>, r: HttpResponse) -> PyResult<PyObject> {
    (r.status, PyBytes::new(py, &r.body)).into_py_any(py)
}

/// A saga under construction.
#[pyclass(module = "dtmx._native")]
pub struct Saga {
    inner: tm::Saga,
}

impl Saga {
    /// Wraps the core builder.
    pub fn wrap(inner: tm::Saga) -> Saga {
        Saga { inner }
    }
}

#[pymethods]
impl Saga {
    /// The gid.
    #[getter]
    fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// Adds a step.
    fn add(
        &mut self,
        action: String,
        compensate: String,
        payload: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.inner.add(action, compensate, self::payload(payload)?);
        Ok(())
    }

    /// Step `branch` starts after `pre_branches` (concurrent sagas).
    fn add_branch_order(&mut self, branch: usize, pre_branches: Vec<usize>) {
        self.inner.add_branch_order(branch, &pre_branches);
    }

    /// Runs the actions concurrently.
    fn enable_concurrent(&mut self) {
        self.inner.enable_concurrent();
    }

    /// Submits the saga.
    fn submit(&self, py: Python<'_>) -> PyResult<()> {
        let s = self.inner.clone();
        blocking(py, async move { s.submit().await })
    }

    /// `submit` reporting to `done`.
    fn submit_async(&self, done: PyObject) -> PyResult<()> {
        let s = self.inner.clone();
        spawn(async move { s.submit().await }, done, none)
    }
}

/// A two-phase message.
#[pyclass(module = "dtmx._native")]
pub struct Msg {
    inner: tm::Msg,
    client: tm::Client,
}

impl Msg {
    /// Wraps the core builder.
    pub fn wrap(inner: tm::Msg, client: tm::Client) -> Msg {
        Msg { inner, client }
    }
}

#[pymethods]
impl Msg {
    /// The gid.
    #[getter]
    fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// Adds a step.
    fn add(&mut self, action: String, payload: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.add(action, self::payload(payload)?);
        Ok(())
    }

    /// Adds a step for every subscriber of `topic`.
    fn add_topic(&mut self, topic: &str, payload: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.add_topic(topic, self::payload(payload)?);
        Ok(())
    }

    /// Delivers the steps `seconds` after the submit.
    fn set_delay(&mut self, seconds: u64) {
        self.inner.set_delay(seconds);
    }

    /// Delivers the steps concurrently.
    fn enable_concurrent(&mut self) {
        self.inner.enable_concurrent();
    }

    /// Prepares with `query_prepared` as the check-back URL.
    fn prepare(&mut self, py: Python<'_>, query_prepared: &str) -> PyResult<()> {
        let req = py_result(self.inner.prepare_request(query_prepared))?;
        let c = self.client.clone();
        blocking(py, async move { c.call_dtm(req).await.map(|_| ()) })
    }

    /// `prepare` reporting to `done`.
    fn prepare_async(&mut self, query_prepared: &str, done: PyObject) -> PyResult<()> {
        let req = py_result(self.inner.prepare_request(query_prepared))?;
        let c = self.client.clone();
        spawn(async move { c.call_dtm(req).await.map(|_| ()) }, done, none)
    }

    /// Submits (with `wait_result`, the core reads a refused transaction back).
    fn submit(&self, py: Python<'_>) -> PyResult<()> {
        let mut m = self.inner.clone();
        blocking(py, async move { m.submit().await })
    }

    /// `submit` reporting to `done`.
    fn submit_async(&self, done: PyObject) -> PyResult<()> {
        let mut m = self.inner.clone();
        spawn(async move { m.submit().await }, done, none)
    }

    /// Aborts a prepared message.
    fn abort(&self, py: Python<'_>) -> PyResult<()> {
        let m = self.inner.clone();
        blocking(py, async move { m.abort().await })
    }

    /// `abort` reporting to `done`.
    fn abort_async(&self, done: PyObject) -> PyResult<()> {
        let m = self.inner.clone();
        spawn(async move { m.abort().await }, done, none)
    }

    /// Prepare, `busi(branch)` (the local work, guarded by the msg barrier of `branch`),
    /// then submit, abort or ask the check-back (the core's `Msg::do_and_submit`):
    /// `busi`'s value, or its exception with the notes of what failed after it.
    fn do_and_submit(
        &self,
        py: Python<'_>,
        query_prepared: String,
        busi: PyObject,
    ) -> PyResult<PyObject> {
        let mut m = self.inner.clone();
        blocking_with_body(py, busi, |body| async move {
            m.do_and_submit(&query_prepared, |b| body.call(Some(b)))
                .await
        })
    }

    /// `do_and_submit` for a host event loop: `on_barrier(branch, resume)` is called on a
    /// runtime thread; the host runs the local work and calls `resume.ok(value)` or
    /// `resume.err(exception)`; `done(error, value)` reports the end.
    fn do_and_submit_async(
        &self,
        query_prepared: String,
        on_barrier: PyObject,
        done: PyObject,
    ) -> PyResult<()> {
        let mut m = self.inner.clone();
        spawn_with_body(on_barrier, done, |body| async move {
            m.do_and_submit(&query_prepared, |b| body.call(Some(b)))
                .await
        })
    }
}

/// A TCC global transaction (or one nested in a branch).
#[pyclass(module = "dtmx._native", frozen)]
pub struct Tcc {
    inner: tm::Tcc,
}

impl Tcc {
    /// Wraps the core builder.
    pub fn wrap(inner: tm::Tcc) -> Tcc {
        Tcc { inner }
    }
}

#[pymethods]
impl Tcc {
    /// The gid.
    #[getter]
    fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// The id of the last branch created.
    fn current_branch_id(&self) -> String {
        self.inner.current_branch_id()
    }

    /// Prepares the global transaction.
    fn prepare(&self, py: Python<'_>) -> PyResult<()> {
        let t = self.inner.clone();
        blocking(py, async move { t.prepare().await })
    }

    /// `prepare` reporting to `done`.
    fn prepare_async(&self, done: PyObject) -> PyResult<()> {
        let t = self.inner.clone();
        spawn(async move { t.prepare().await }, done, none)
    }

    /// Submits (dtm confirms every branch).
    fn submit(&self, py: Python<'_>) -> PyResult<()> {
        let t = self.inner.clone();
        blocking(py, async move { t.submit().await })
    }

    /// `submit` reporting to `done`.
    fn submit_async(&self, done: PyObject) -> PyResult<()> {
        let t = self.inner.clone();
        spawn(async move { t.submit().await }, done, none)
    }

    /// Aborts (dtm cancels every branch) with `reason` recorded.
    fn abort(&self, py: Python<'_>, reason: String) -> PyResult<()> {
        let t = self.inner.clone();
        blocking(py, async move { t.abort(&reason).await })
    }

    /// `abort` reporting to `done`.
    fn abort_async(&self, reason: String, done: PyObject) -> PyResult<()> {
        let t = self.inner.clone();
        spawn(async move { t.abort(&reason).await }, done, none)
    }

    /// Prepare, `busi()`, then submit, or abort with its error's message as the rollback
    /// reason (the core's `Tcc::run`): `busi`'s value, or its exception with the notes of
    /// what failed after it.
    fn run(&self, py: Python<'_>, busi: PyObject) -> PyResult<PyObject> {
        let t = self.inner.clone();
        blocking_with_body(
            py,
            busi,
            |body| async move { t.run(|_| body.call(None)).await },
        )
    }

    /// `run` for a host event loop: `on_body(resume)` is called on a runtime thread; the
    /// host runs the body and calls `resume.ok(value)` or `resume.err(exception)`;
    /// `done(error, value)` reports the end.
    fn run_async(&self, on_body: PyObject, done: PyObject) -> PyResult<()> {
        let t = self.inner.clone();
        spawn_with_body(on_body, done, |body| async move {
            t.run(|_| body.call(None)).await
        })
    }

    /// Registers a branch and calls its try URL: `(status, body)` of the try.
    fn call_branch(
        &self,
        py: Python<'_>,
        payload: &Bound<'_, PyAny>,
        try_url: String,
        confirm_url: String,
        cancel_url: String,
    ) -> PyResult<PyObject> {
        let (t, body) = (self.inner.clone(), self::payload(payload)?);
        let r = blocking(py, async move {
            t.call_branch(&body, &try_url, &confirm_url, &cancel_url)
                .await
        })?;
        reply(py, r)
    }

    /// `call_branch` reporting to `done`.
    fn call_branch_async(
        &self,
        payload: &Bound<'_, PyAny>,
        try_url: String,
        confirm_url: String,
        cancel_url: String,
        done: PyObject,
    ) -> PyResult<()> {
        let (t, body) = (self.inner.clone(), self::payload(payload)?);
        spawn(
            async move {
                t.call_branch(&body, &try_url, &confirm_url, &cancel_url)
                    .await
            },
            done,
            reply,
        )
    }
}

/// An XA global transaction.
#[pyclass(module = "dtmx._native", frozen)]
pub struct Xa {
    inner: tm::Xa,
}

impl Xa {
    /// Wraps the core builder.
    pub fn wrap(inner: tm::Xa) -> Xa {
        Xa { inner }
    }
}

#[pymethods]
impl Xa {
    /// The gid.
    #[getter]
    fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// The id of the last branch created.
    fn current_branch_id(&self) -> String {
        self.inner.current_branch_id()
    }

    /// Prepares the global transaction.
    fn prepare(&self, py: Python<'_>) -> PyResult<()> {
        let t = self.inner.clone();
        blocking(py, async move { t.prepare().await })
    }

    /// `prepare` reporting to `done`.
    fn prepare_async(&self, done: PyObject) -> PyResult<()> {
        let t = self.inner.clone();
        spawn(async move { t.prepare().await }, done, none)
    }

    /// Submits (dtm commits every branch).
    fn submit(&self, py: Python<'_>) -> PyResult<()> {
        let t = self.inner.clone();
        blocking(py, async move { t.submit().await })
    }

    /// `submit` reporting to `done`.
    fn submit_async(&self, done: PyObject) -> PyResult<()> {
        let t = self.inner.clone();
        spawn(async move { t.submit().await }, done, none)
    }

    /// Aborts (dtm rolls back every branch).
    fn abort(&self, py: Python<'_>) -> PyResult<()> {
        let t = self.inner.clone();
        blocking(py, async move { t.abort().await })
    }

    /// `abort` reporting to `done`.
    fn abort_async(&self, done: PyObject) -> PyResult<()> {
        let t = self.inner.clone();
        spawn(async move { t.abort().await }, done, none)
    }

    /// Prepare, `busi()`, then submit, or abort (the core's `Xa::run`): `busi`'s value, or
    /// its exception with the notes of what failed after it.
    fn run(&self, py: Python<'_>, busi: PyObject) -> PyResult<PyObject> {
        let t = self.inner.clone();
        blocking_with_body(
            py,
            busi,
            |body| async move { t.run(|_| body.call(None)).await },
        )
    }

    /// `run` for a host event loop, as `Tcc.run_async`.
    fn run_async(&self, on_body: PyObject, done: PyObject) -> PyResult<()> {
        let t = self.inner.clone();
        spawn_with_body(on_body, done, |body| async move {
            t.run(|_| body.call(None)).await
        })
    }

    /// Calls a new branch at `url`: `(status, body)` of its reply.
    fn call_branch(
        &self,
        py: Python<'_>,
        payload: &Bound<'_, PyAny>,
        url: String,
    ) -> PyResult<PyObject> {
        let (t, body) = (self.inner.clone(), self::payload(payload)?);
        let r = blocking(py, async move { t.call_branch(&body, &url).await })?;
        reply(py, r)
    }

    /// `call_branch` reporting to `done`.
    fn call_branch_async(
        &self,
        payload: &Bound<'_, PyAny>,
        url: String,
        done: PyObject,
    ) -> PyResult<()> {
        let (t, body) = (self.inner.clone(), self::payload(payload)?);
        spawn(async move { t.call_branch(&body, &url).await }, done, reply)
    }
}

/// Adds this module's classes and functions to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Saga>()?;
    m.add_class::<Msg>()?;
    m.add_class::<Tcc>()?;
    m.add_class::<Xa>()
}
