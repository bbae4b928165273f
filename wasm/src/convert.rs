//! Values across the boundary: errors (thrown as the JS error class of their kind),
//! payloads, options, branch identities and small JS objects.

use dtmx_bindings::branch::BranchRequest;
use dtmx_bindings::error::invalid;
use dtmx_bindings::{Error, ErrorKind, Options};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::future::Future;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// A result whose error is a JS value to throw.
pub type JsResult<T> = Result<T, JsValue>;

thread_local! {
    /// `(kind, message) => Error` of the JS wrapper, making its typed error classes.
    static FACTORY: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Registers the function that makes the JS error of a kind: `(kind, message) => Error`.
/// The package's `index.js` calls it once, after loading the module.
#[wasm_bindgen(js_name = setErrorFactory)]
pub fn set_error_factory(factory: Function) {
    FACTORY.with(|f| *f.borrow_mut() = Some(factory));
}

/// The JS error for a core error: the registered factory's, else an `Error` with `code`.
pub fn to_js(error: Error) -> JsValue {
    let kind = JsValue::from_str(error.kind().as_str());
    let message = JsValue::from_str(error.message());
    let made = FACTORY.with(|f| {
        f.borrow()
            .as_ref()
            .and_then(|f| f.call2(&JsValue::NULL, &kind, &message).ok())
    });
    made.unwrap_or_else(|| {
        let e = js_sys::Error::new(error.message());
        let _ = Reflect::set(&e, &"code".into(), &kind);
        e.into()
    })
}

/// A core result as a thrown-on-error result.
pub fn js<T>(r: dtmx_bindings::Result<T>) -> JsResult<T> {
    r.map_err(to_js)
}

/// An `invalid_argument` error to throw.
pub fn bad(message: impl Into<String>) -> JsValue {
    to_js(invalid(message))
}

/// The kind named `name` (`failure`, `database`, ...).
pub fn kind_named(name: &str) -> Option<ErrorKind> {
    ErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
}

/// A Promise of `future`, its value mapped by `map`, its error thrown as a JS error.
pub fn promise<T, F>(future: F, map: fn(T) -> JsValue) -> Promise
where
    T: 'static,
    F: Future<Output = dtmx_bindings::Result<T>> + 'static,
{
    future_to_promise(async move { future.await.map(map).map_err(to_js) })
}

/// `undefined` for promises of nothing.
pub fn unit(_: ()) -> JsValue {
    JsValue::UNDEFINED
}

/// The bytes of a payload: a string or bytes as they are, `null`/`undefined` empty,
/// anything else as JSON.
pub fn payload(value: &JsValue) -> JsResult<Vec<u8>> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if let Some(s) = value.as_string() {
        return Ok(s.into_bytes());
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(bytes.to_vec());
    }
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .map(String::into_bytes)
        .ok_or_else(|| bad("payload is not JSON-serialisable"))
}

/// A property of an object.
pub fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A string property (`undefined`/`null`: empty; anything else: its `String()`).
pub fn get_string(object: &JsValue, key: &str) -> String {
    let v = get(object, key);
    if v.is_undefined() || v.is_null() {
        String::new()
    } else {
        v.as_string()
            .unwrap_or_else(|| String::from(js_sys::JsString::from(v)))
    }
}

/// A plain object with these properties.
pub fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// An array of strings.
pub fn strings(items: &[String]) -> Array {
    items.iter().map(|s| JsValue::from_str(s)).collect()
}

/// `[key, value]` pairs from an array of pairs or the entries of an object.
pub fn pairs(value: &JsValue, what: &str) -> JsResult<Vec<(String, String)>> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    let list: Array = if Array::is_array(value) {
        value.clone().unchecked_into()
    } else if value.is_object() {
        Object::entries(value.unchecked_ref())
    } else {
        return Err(bad(format!(
            "{what} must be an object or [key, value] pairs"
        )));
    };
    let text = |x: JsValue| String::from(js_sys::JsString::from(x));
    let mut out = Vec::new();
    for pair in list.iter() {
        let Some(p) = pair.dyn_ref::<Array>() else {
            return Err(bad(format!("{what} must hold [key, value] pairs")));
        };
        // A repeated key parsed into an array (`?a=1&a=2`): its first value counts.
        let v = match p.get(1).dyn_into::<Array>() {
            Ok(values) => values.get(0),
            Err(v) => v,
        };
        if !v.is_undefined() && !v.is_null() {
            out.push((text(p.get(0)), text(v)));
        }
    }
    Ok(out)
}

/// The gid and options of `{gid, waitResult, timeoutToFail, retryInterval,
/// requestTimeout, retryLimit, branchHeaders, concurrent}` (unknown names refused,
/// `undefined`/`null` values skipped).
pub fn options(value: &JsValue) -> JsResult<(Option<String>, Options)> {
    let mut o = Options::default();
    let mut gid = None;
    if value.is_undefined() || value.is_null() {
        return Ok((gid, o));
    }
    if !value.is_object() || Array::is_array(value) {
        return Err(bad("options must be an object"));
    }
    for entry in Object::entries(value.unchecked_ref()).iter() {
        let entry: Array = entry.unchecked_into();
        let name = entry.get(0).as_string().unwrap_or_default();
        let v = entry.get(1);
        if v.is_undefined() || v.is_null() {
            continue;
        }
        match name.as_str() {
            "gid" => gid = Some(v.as_string().ok_or_else(|| bad("gid must be a string"))?),
            "waitResult" => o.wait_result = Some(boolean(&v, &name)?),
            "concurrent" => o.concurrent = Some(boolean(&v, &name)?),
            "timeoutToFail" => o.timeout_to_fail = Some(integer(&v, &name)?),
            "retryInterval" => o.retry_interval = Some(integer(&v, &name)?),
            "requestTimeout" => o.request_timeout = Some(integer(&v, &name)?),
            "retryLimit" => o.retry_limit = Some(integer(&v, &name)?),
            "branchHeaders" => {
                let mut headers = pairs(&v, "branchHeaders")?;
                headers.sort();
                o.branch_headers = headers;
            }
            _ => return Err(bad(format!("unknown option {name:?}"))),
        }
    }
    js(o.validate())?;
    Ok((gid.filter(|g| !g.is_empty()), o))
}

fn boolean(v: &JsValue, name: &str) -> JsResult<bool> {
    v.as_bool()
        .ok_or_else(|| bad(format!("{name} must be a boolean")))
}

fn integer(v: &JsValue, name: &str) -> JsResult<i64> {
    match v.as_f64() {
        Some(n) if n.is_finite() && n.fract() == 0.0 && n.abs() < 9.0e15 => Ok(n as i64),
        _ => Err(bad(format!("{name} must be an integer"))),
    }
}

/// A branch identity as `{gid, transType, branchId, op, dtm, phase2Url}`.
pub fn branch_to_js(b: &BranchRequest) -> JsValue {
    object(&[
        ("gid", b.gid.as_str().into()),
        ("transType", b.trans_type.as_str().into()),
        ("branchId", b.branch_id.as_str().into()),
        ("op", b.op.as_str().into()),
        ("dtm", b.dtm.as_str().into()),
        ("phase2Url", b.phase2_url.as_str().into()),
    ])
}

/// A branch identity from `{gid, transType, branchId, op, dtm, phase2Url}` (sanitised like
/// a parsed query).
pub fn branch_from_js(value: &JsValue) -> JsResult<BranchRequest> {
    if !value.is_object() {
        return Err(bad("branch must be an object"));
    }
    let g = |k| get_string(value, k);
    Ok(BranchRequest::from_query([
        ("gid", g("gid")),
        ("trans_type", g("transType")),
        ("branch_id", g("branchId")),
        ("op", g("op")),
        ("dtm", g("dtm")),
        ("phase2_url", g("phase2Url")),
    ]))
}
