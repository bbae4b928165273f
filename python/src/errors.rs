//! Errors across the boundary: core errors become the `dtmx.errors` exception of their
//! kind (through the bindings' one code table), Python exceptions become core errors.

use dtmx_bindings::error::{kind_of, table};
use dtmx_bindings::{Error, ErrorKind};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The `dtmx.errors` exception for `error`.
pub fn to_py(error: Error) -> PyErr {
    Python::with_gil(|py| {
        let made = py
            .import("dtmx.errors")
            .and_then(|m| m.getattr("_from_native"))
            .and_then(|f| f.call1((error.kind().code(), error.message())));
        match made {
            Ok(exc) => PyErr::from_value(exc),
            Err(_) => PyRuntimeError::new_err(error.to_string()),
        }
    })
}

/// `Result` of the core into `PyResult`.
pub fn py_result<T>(r: dtmx_bindings::Result<T>) -> PyResult<T> {
    r.map_err(to_py)
}

/// The core error a Python exception stands for: a `dtmx.DtmxError` keeps its kind, any
/// other exception becomes `fallback` with the exception's text.
pub fn from_py(py: Python<'_>, err: &PyErr, fallback: ErrorKind) -> Error {
    let value = err.value(py);
    let kind = value
        .getattr("code")
        .ok()
        .and_then(|c| c.extract::<i32>().ok())
        .filter(|_| is_dtmx_error(py, value))
        .and_then(kind_of)
        .unwrap_or(fallback);
    let message = value
        .getattr("message")
        .ok()
        .filter(|_| is_dtmx_error(py, value))
        .and_then(|m| m.extract::<String>().ok())
        .unwrap_or_else(|| value.to_string());
    Error::new(kind, message)
}

fn is_dtmx_error(py: Python<'_>, value: &Bound<'_, pyo3::exceptions::PyBaseException>) -> bool {
    py.import("dtmx.errors")
        .and_then(|m| m.getattr("DtmxError"))
        .and_then(|c| value.is_instance(&c))
        .unwrap_or(false)
}

/// `[(code, name, class), ...]`: the bindings' error table.
#[pyfunction]
fn error_table() -> Vec<(i32, &'static str, &'static str)> {
    table()
        .into_iter()
        .map(|r| (r.code, r.name, r.class))
        .collect()
}

/// Adds this module's classes and functions to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(error_table, m)?)
}
