//! `Client`: a DTM server, its transport (reqwest, or a Python callable), and the factory
//! of transactions.

use crate::errors::{from_py, py_result};
use crate::run::{blocking, spawn};
use crate::trans::{Msg, Saga, Tcc, Xa};
use dtmx_bindings::dtmx::transport::{HttpRequest, HttpResponse};
use dtmx_bindings::options::Naming;
use dtmx_bindings::transport::CallbackTransport;
use dtmx_bindings::{Client as Facade, ErrorKind, Options};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// A DTM server (`http://host:36789/api/dtmsvr`) and the transport to reach it.
#[pyclass(module = "dtmx._native", frozen)]
pub struct Client {
    /// The facade value.
    pub inner: Facade,
}

#[pymethods]
impl Client {
    /// The constructor.
    #[new]
    #[pyo3(signature = (server, transport=None, token=None))]
    fn new(server: &str, transport: Option<PyObject>, token: Option<&str>) -> PyResult<Client> {
        let inner = match transport {
            None => Facade::new(server),
            Some(t) => Facade::with_transport(
                server,
                Arc::new(CallbackTransport::new(move |r| call_transport(&t, r))),
            ),
        };
        let inner = match token {
            None => inner,
            Some(token) => inner.and_then(|c| c.with_token(token)),
        };
        Ok(Client {
            inner: py_result(inner)?,
        })
    }

    /// The server URL.
    #[getter]
    fn server(&self) -> &str {
        self.inner.server()
    }

    /// A new gid made locally (no request).
    fn local_gid(&self) -> String {
        self.inner.dtm().local_gid()
    }

    /// A new gid from the server.
    fn new_gid(&self, py: Python<'_>) -> PyResult<String> {
        let c = self.inner.dtm().clone();
        blocking(py, async move { c.new_gid().await })
    }

    /// `new_gid` reporting to `done`.
    fn new_gid_async(&self, done: PyObject) -> PyResult<()> {
        let c = self.inner.dtm().clone();
        spawn(async move { c.new_gid().await }, done, |py, g| {
            g.into_py_any(py)
        })
    }

    /// The transaction and its branches as JSON text (`GET /query`).
    fn query(&self, py: Python<'_>, gid: String) -> PyResult<String> {
        let c = self.inner.dtm().clone();
        blocking(
            py,
            async move { c.query(&gid).await.map(|v| v.to_string()) },
        )
    }

    /// `query` reporting to `done`.
    fn query_async(&self, gid: String, done: PyObject) -> PyResult<()> {
        let c = self.inner.dtm().clone();
        spawn(
            async move { c.query(&gid).await.map(|v| v.to_string()) },
            done,
            |py, v| v.into_py_any(py),
        )
    }

    /// Polls until the transaction is final; its status.
    fn wait_final(
        &self,
        py: Python<'_>,
        gid: String,
        timeout: f64,
        interval: f64,
    ) -> PyResult<String> {
        let c = self.inner.dtm().clone();
        let (t, i) = (duration(timeout)?, duration(interval)?);
        blocking(py, async move {
            c.wait_final(&gid, t, i)
                .await
                .map(|s| s.as_str().to_string())
        })
    }

    /// `wait_final` reporting to `done`.
    fn wait_final_async(
        &self,
        gid: String,
        timeout: f64,
        interval: f64,
        done: PyObject,
    ) -> PyResult<()> {
        let c = self.inner.dtm().clone();
        let (t, i) = (duration(timeout)?, duration(interval)?);
        spawn(
            async move {
                c.wait_final(&gid, t, i)
                    .await
                    .map(|s| s.as_str().to_string())
            },
            done,
            |py, v| v.into_py_any(py),
        )
    }

    /// A saga.
    #[pyo3(signature = (gid=None, options=None))]
    fn saga(&self, gid: Option<&str>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Saga> {
        let o = options_from(options)?;
        Ok(Saga::wrap(py_result(self.inner.saga(gid, &o))?))
    }

    /// A two-phase message.
    #[pyo3(signature = (gid=None, options=None))]
    fn msg(&self, gid: Option<&str>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Msg> {
        let o = options_from(options)?;
        Ok(Msg::wrap(
            py_result(self.inner.msg(gid, &o))?,
            self.inner.dtm().clone(),
        ))
    }

    /// A TCC global transaction.
    #[pyo3(signature = (gid=None, options=None))]
    fn tcc(&self, gid: Option<&str>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Tcc> {
        let o = options_from(options)?;
        Ok(Tcc::wrap(py_result(self.inner.tcc(gid, &o))?))
    }

    /// A TCC nested in the branch a try request describes.
    #[pyo3(signature = (branch, options=None))]
    fn tcc_from_branch(
        &self,
        branch: &crate::rm::Branch,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Tcc> {
        let o = options_from(options)?;
        let mut t = py_result(self.inner.tcc_from_branch(&branch.inner))?;
        py_result(o.apply(t.options_mut()))?;
        Ok(Tcc::wrap(t))
    }

    /// An XA global transaction.
    #[pyo3(signature = (gid=None, options=None))]
    fn xa(&self, gid: Option<&str>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Xa> {
        let o = options_from(options)?;
        Ok(Xa::wrap(py_result(self.inner.xa(gid, &o))?))
    }
}

fn duration(seconds: f64) -> PyResult<Duration> {
    py_result(Duration::try_from_secs_f64(seconds).map_err(|_| {
        dtmx_bindings::error::invalid(format!("not a duration in seconds: {seconds}"))
    }))
}

/// The facade's options from a dict of the option names, read by the bindings' one
/// option reader (`Options::from_json`, snake_case names): no checking here.
fn options_from(d: Option<&Bound<'_, PyDict>>) -> PyResult<Options> {
    let value = match d {
        Some(d) => json_of(d.as_any(), 0),
        None => Value::Null,
    };
    py_result(Options::from_json(&value, Naming::Snake))
}

/// `v` as JSON: `None`, `bool`, `int`, `float`, `str`, lists, tuples and dicts with `str`
/// keys as themselves. A value with no JSON form (a set, bytes, NaN, an int beyond 64
/// bits, any other object, nesting deeper than [`MAX_DEPTH`]) becomes an array holding its
/// `repr`, a value no option takes, so the reader reports it as a value of the wrong type.
fn json_of(v: &Bound<'_, PyAny>, depth: usize) -> Value {
    let no_form = || Value::Array(vec![Value::String(repr_of(v))]);
    if v.is_none() {
        return Value::Null;
    }
    if let Ok(b) = v.downcast::<PyBool>() {
        return Value::Bool(b.is_true());
    }
    if v.is_instance_of::<PyInt>() {
        return v
            .extract::<i64>()
            .map(Value::from)
            .or_else(|_| v.extract::<u64>().map(Value::from))
            .unwrap_or_else(|_| no_form());
    }
    if let Ok(f) = v.downcast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value()).map_or_else(no_form, Value::Number);
    }
    if v.is_instance_of::<PyString>() {
        return v
            .extract::<String>()
            .map_or_else(|_| no_form(), Value::String);
    }
    if depth >= MAX_DEPTH {
        return no_form();
    }
    if let Ok(d) = v.downcast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, item) in d.iter() {
            if !k.is_instance_of::<PyString>() {
                return no_form();
            }
            match k.extract::<String>() {
                Ok(k) => map.insert(k, json_of(&item, depth + 1)),
                Err(_) => return no_form(),
            };
        }
        return Value::Object(map);
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        return match v.try_iter() {
            Ok(items) => items
                .map(|item| item.map(|i| json_of(&i, depth + 1)))
                .collect::<PyResult<Vec<Value>>>()
                .map_or_else(|_| no_form(), Value::Array),
            Err(_) => no_form(),
        };
    }
    no_form()
}

/// How deep [`json_of`] follows lists and dicts (a list holding itself has no JSON form).
const MAX_DEPTH: usize = 32;

fn repr_of(v: &Bound<'_, PyAny>) -> String {
    v.repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "<unprintable>".to_string())
}

/// Calls a Python transport: `transport(method, url, headers, body, timeout)` →
/// `(status, body)`.
fn call_transport(t: &PyObject, r: HttpRequest) -> dtmx_bindings::Result<HttpResponse> {
    Python::with_gil(|py| {
        let body = r.body.as_deref().map(|b| PyBytes::new(py, b));
        let timeout = r.timeout.map(|d| d.as_secs_f64());
        let reply = t
            .call1(
                py,
                (r.method.as_str(), &r.url, r.headers.clone(), body, timeout),
            )
            .and_then(|v| v.extract::<(u16, Vec<u8>)>(py));
        match reply {
            Ok((status, body)) => Ok(HttpResponse { status, body }),
            Err(e) => Err(from_py(py, &e, ErrorKind::Transport)),
        }
    })
}

/// Adds this module's classes and functions to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Client>()
}
