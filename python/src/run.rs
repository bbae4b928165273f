//! The blocking and asyncio entry points over the bindings' runtime: blocking calls release
//! the GIL; async calls report to a `done(error, value)` callable on a runtime thread.

use crate::errors::{py_result, to_py};
use dtmx_bindings::runtime;
use pyo3::prelude::*;
use std::future::Future;

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
            if let Err(e) = done.call1(py, args) {
                e.write_unraisable(py, None);
            }
        })
    }))
}

/// `None` for results without a value.
pub fn none(py: Python<'_>, _: ()) -> PyResult<PyObject> {
    Ok(py.None())
}
