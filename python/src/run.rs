//! The blocking and asyncio entry points over the bindings' runtime: blocking calls release
//! the GIL; async calls report to a `done(error, value)` callable on a runtime thread.
//!
//! The core's `run()` and `do_and_submit()` await a Python body in the middle. The core
//! future runs on the runtime and hands the body to the host: the calling thread runs it
//! (blocking; it may make blocking dtmx calls itself), or the asyncio loop (async). The
//! body's value or exception comes back through a [`Resume`]; an exception is kept and
//! raised at the end in place of the core's error that stood for it, with that error's
//! notes.

use crate::errors::{from_body, py_result, to_py, with_notes};
use crate::rm::Branch;
use dtmx_bindings::dtmx::rm;
use dtmx_bindings::{runtime, Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Runs `future` with the GIL released.
pub fn blocking<T, F>(py: Python<'_>, future: F) -> PyResult<T>
where
    T: Send,
    F: Future<Output = dtmx_bindings::Result<T>> + Send,
{
    py_result(py.allow_threads(|| runtime::block_on(future)))
}

/// Runs `future` on the runtime; `done(None, value)` or `done(exception, None)` is called
/// when it ends, `value` made by `convert` under the GIL.
pub fn spawn<T, F, C>(future: F, done: PyObject, convert: C) -> PyResult<()>
where
    T: Send + 'static,
    F: Future<Output = dtmx_bindings::Result<T>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<PyObject> + Send + 'static,
{
    py_result(runtime::spawn(future, move |result| {
        Python::with_gil(|py| {
            let args = match result.map_err(to_py).and_then(|v| convert(py, v)) {
                Ok(value) => (py.None(), value),
                Err(e) => (e.into_value(py).into_any(), py.None()),
            };
            report(py, &done, args);
        })
    }))
}

/// `None` for results without a value.
pub fn none(py: Python<'_>, _: ()) -> PyResult<PyObject> {
    Ok(py.None())
}

fn report(py: Python<'_>, done: &PyObject, args: (PyObject, PyObject)) {
    if let Err(e) = done.call1(py, args) {
        e.write_unraisable(py, None);
    }
}

/// The Python exception a body raised, kept to be raised in place of the core's error.
#[derive(Clone, Default)]
struct Stash(Arc<Mutex<Option<PyErr>>>);

impl Stash {
    /// Keeps `e`, raised by the body; the core's error for it.
    fn keep(&self, py: Python<'_>, e: PyErr) -> Error {
        let core = from_body(py, &e);
        if let Ok(mut s) = self.0.lock() {
            *s = Some(e);
        }
        core
    }

    /// The end of the call: the body's own exception (with the notes of the core's error)
    /// when the body raised one, else the core's result.
    fn finish(
        &self,
        py: Python<'_>,
        result: dtmx_bindings::Result<PyObject>,
    ) -> PyResult<PyObject> {
        let raised = self.0.lock().ok().and_then(|mut s| s.take());
        match (result, raised) {
            (Ok(v), _) => Ok(v),
            (Err(e), Some(exception)) => Err(with_notes(py, exception, &e)),
            (Err(e), None) => Err(to_py(e)),
        }
    }
}

/// Resumes the core once the host's body ended.
#[pyclass(module = "dtmx._native", frozen)]
pub struct Resume {
    sender: Mutex<Option<oneshot::Sender<dtmx_bindings::Result<PyObject>>>>,
    stash: Stash,
}

#[pymethods]
impl Resume {
    /// The body returned `value`.
    #[pyo3(signature = (value=None))]
    fn ok(&self, py: Python<'_>, value: Option<PyObject>) {
        self.settle(py, Ok(value.unwrap_or_else(|| py.None())));
    }

    /// The body raised `exception`.
    fn err(&self, py: Python<'_>, exception: PyObject) {
        self.settle(py, Err(PyErr::from_value(exception.into_bound(py))));
    }
}

impl Resume {
    /// Hands the body's value, or the core's error for its exception (kept), to the core.
    fn settle(&self, py: Python<'_>, r: PyResult<PyObject>) {
        let r = r.map_err(|e| self.stash.keep(py, e));
        if let Some(tx) = self.sender.lock().ok().and_then(|mut s| s.take()) {
            let _ = tx.send(r);
        }
    }
}

/// What a body is called with: nothing (`run()`: the Python layer passes its own
/// transaction object), or the msg barrier's branch (`do_and_submit()`).
pub type BodyArg = Option<rm::Branch>;

type HandOver = Box<dyn FnOnce(BodyArg, Resume) -> dtmx_bindings::Result<()> + Send>;

/// The body of one call, as the core's closure awaits it.
pub struct Body {
    stash: Stash,
    hand_over: HandOver,
}

impl Body {
    /// Hands the body (called with `arg`) to the host and awaits its value or exception.
    pub async fn call(self, arg: BodyArg) -> dtmx_bindings::Result<PyObject> {
        let (tx, rx) = oneshot::channel();
        let resume = Resume {
            sender: Mutex::new(Some(tx)),
            stash: self.stash,
        };
        (self.hand_over)(arg, resume)?;
        rx.await.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Internal,
                "the body was never resumed",
            ))
        })
    }
}

fn args<'py>(
    py: Python<'py>,
    arg: BodyArg,
    resume: Option<Resume>,
) -> PyResult<Bound<'py, PyTuple>> {
    let mut items: Vec<PyObject> = Vec::new();
    if let Some(b) = arg {
        items.push(Py::new(py, Branch::from(b))?.into_any());
    }
    if let Some(r) = resume {
        items.push(Py::new(py, r)?.into_any());
    }
    PyTuple::new(py, items)
}

enum Event {
    Body(BodyArg, Resume),
    Done(dtmx_bindings::Result<PyObject>),
}

/// Runs the core future `make(body)` on the runtime while the calling thread waits (GIL
/// released) and runs the body when the core asks for it: `busi()`, or `busi(branch)`.
/// The body's value is the result; its exception is raised with the core error's notes.
pub fn blocking_with_body<F>(
    py: Python<'_>,
    busi: PyObject,
    make: impl FnOnce(Body) -> F,
) -> PyResult<PyObject>
where
    F: Future<Output = dtmx_bindings::Result<PyObject>> + Send + 'static,
{
    // Refused where every blocking call is (a runtime thread, a forked child), before the
    // transaction starts.
    blocking(py, async { Ok(()) })?;
    let stash = Stash::default();
    let (events, mut inbox) = mpsc::unbounded_channel();
    let to_caller = events.clone();
    let body = Body {
        stash: stash.clone(),
        hand_over: Box::new(move |arg, resume| {
            to_caller
                .send(Event::Body(arg, resume))
                .map_err(|_| Error::new(ErrorKind::Internal, "the caller is gone"))
        }),
    };
    py_result(runtime::spawn(make(body), move |r| {
        let _ = events.send(Event::Done(r));
    }))?;
    loop {
        match py.allow_threads(|| inbox.blocking_recv()) {
            Some(Event::Body(arg, resume)) => {
                let r = args(py, arg, None).and_then(|a| busi.call1(py, a));
                resume.settle(py, r);
            }
            Some(Event::Done(r)) => return stash.finish(py, r),
            None => {
                return Err(to_py(Error::new(
                    ErrorKind::Internal,
                    "the call ended without a result",
                )))
            }
        }
    }
}

/// Runs the core future `make(body)` on the runtime, reporting to `done(error, value)`
/// as [`spawn`] does. The body is handed to `on_body(resume)` or `on_body(branch,
/// resume)`, called on a runtime thread: the host runs it on its loop and calls
/// `resume.ok(value)` or `resume.err(exception)`.
pub fn spawn_with_body<F>(
    on_body: PyObject,
    done: PyObject,
    make: impl FnOnce(Body) -> F,
) -> PyResult<()>
where
    F: Future<Output = dtmx_bindings::Result<PyObject>> + Send + 'static,
{
    let stash = Stash::default();
    let keep = stash.clone();
    let body = Body {
        stash: stash.clone(),
        hand_over: Box::new(move |arg, resume| {
            Python::with_gil(|py| {
                args(py, arg, Some(resume))
                    .and_then(|a| on_body.call1(py, a))
                    .map(|_| ())
                    .map_err(|e| keep.keep(py, e))
            })
        }),
    };
    py_result(runtime::spawn(make(body), move |r| {
        Python::with_gil(|py| {
            let args = match stash.finish(py, r) {
                Ok(value) => (py.None(), value),
                Err(e) => (e.into_value(py).into_any(), py.None()),
            };
            report(py, &done, args);
        })
    }))
}

/// Adds this module's classes to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Resume>()
}
