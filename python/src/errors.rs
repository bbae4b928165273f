//! Errors across the boundary: core errors become the `dtmx._errors` exception of their
//! kind (through the bindings' one code table) with their notes and status, Python
//! exceptions become core errors.

use dtmx_bindings::error::{host_error, kind_of, table};
use dtmx_bindings::{Error, ErrorKind};
use pyo3::exceptions::{PyBaseException, PyRuntimeError};
use pyo3::prelude::*;

/// The `dtmx._errors` exception for `error`.
pub fn to_py(error: Error) -> PyErr {
    Python::with_gil(|py| {
        let made = py
            .import("dtmx._errors")
            .and_then(|m| m.getattr("_from_native"))
            .and_then(|f| {
                f.call1((
                    error.kind().code(),
                    error.message(),
                    error.notes().to_vec(),
                    error.status().map(|s| s.as_str()),
                ))
            });
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

/// The core error a Python exception stands for: a `dtmx.DtmxError` keeps its kind and
/// message, any other exception becomes `fallback` with its text (see [`text_of`]).
pub fn from_py(py: Python<'_>, err: &PyErr, fallback: ErrorKind) -> Error {
    dtmx_error(py, err).unwrap_or_else(|| Error::new(fallback, text_of(py, err)))
}

/// What the core sees of an exception raised by the host's own code (a `run()` body, the
/// local work of `do_and_submit()`, an XA branch's SQL): a `dtmx.DtmxError` keeps its kind
/// and message, any other exception is the bindings' `host_error` of its text.
pub fn from_body(py: Python<'_>, err: &PyErr) -> Error {
    dtmx_error(py, err).unwrap_or_else(|| host_error(text_of(py, err)))
}

/// [`from_body`] of `err`, carrying `err` itself as its source, so that whoever raises the
/// error later raises the host's own exception instead (see [`raise_error`]).
pub fn carrying(py: Python<'_>, err: PyErr) -> Error {
    from_body(py, &err).with_source(err)
}

/// The exception to raise for `error`: the host's own exception it carries (see
/// [`carrying`]) with the error's notes attached, else the `dtmx._errors` exception.
pub fn raise_error(py: Python<'_>, error: Error) -> PyErr {
    let own = std::error::Error::source(&error)
        .and_then(|s| s.downcast_ref::<PyErr>())
        .map(|e| e.clone_ref(py));
    match own {
        Some(exception) => with_notes(py, exception, &error),
        None => to_py(error),
    }
}

/// The kind and message of a `dtmx.DtmxError`; `None` for other exceptions.
fn dtmx_error(py: Python<'_>, err: &PyErr) -> Option<Error> {
    let value = err.value(py);
    if !is_dtmx_error(py, value) {
        return None;
    }
    let kind = value
        .getattr("code")
        .ok()
        .and_then(|c| c.extract::<i32>().ok())
        .and_then(kind_of)
        .unwrap_or(ErrorKind::Internal);
    let message = value
        .getattr("message")
        .ok()
        .and_then(|m| m.extract::<String>().ok())
        .unwrap_or_else(|| value.to_string());
    Some(Error::new(kind, message))
}

/// An exception's text, or its class name when the text is empty (`KeyboardInterrupt`).
fn text_of(py: Python<'_>, err: &PyErr) -> String {
    let value = err.value(py);
    let text = value.to_string();
    if !text.is_empty() {
        return text;
    }
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or(text)
}

/// Attaches the notes of `error` (the core's error a Python exception stood for) to that
/// exception, which is raised in its place.
pub fn with_notes(py: Python<'_>, exception: PyErr, error: &Error) -> PyErr {
    if error.notes().is_empty() {
        return exception;
    }
    let attached = py
        .import("dtmx._errors")
        .and_then(|m| m.getattr("_add_notes"))
        .and_then(|f| f.call1((exception.value(py), error.notes().to_vec())));
    if let Err(e) = attached {
        // The body's exception is raised all the same; say why its notes are missing.
        e.write_unraisable(py, Some(exception.value(py)));
    }
    exception
}

fn is_dtmx_error(py: Python<'_>, value: &Bound<'_, PyBaseException>) -> bool {
    py.import("dtmx._errors")
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

/// The `InvalidArgumentError` of a payload that cannot be encoded as JSON (`detail`: why),
/// to be raised.
#[pyfunction]
fn invalid_payload(py: Python<'_>, detail: &str) -> Py<PyBaseException> {
    to_py(dtmx_bindings::error::invalid_payload(detail)).into_value(py)
}

/// Adds this module's classes and functions to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(error_table, m)?)?;
    m.add_function(wrap_pyfunction!(invalid_payload, m)?)
}
