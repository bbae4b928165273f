//! Values across the boundary: errors (thrown as the JS error class of their kind),
//! payloads, options, branch identities and small JS objects.

use dtmx_bindings::branch::Branch;
use dtmx_bindings::dtmx::protocol::TransStatus;
use dtmx_bindings::error::{invalid, invalid_payload};
use dtmx_bindings::options::Naming;
use dtmx_bindings::{Error, ErrorKind, Options};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::future::Future;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// A result whose error is a JS value to throw.
pub type JsResult<T> = Result<T, JsValue>;

/// The JS wrapper's hooks into its error classes.
struct ErrorClasses {
    /// `(kind, message, notes, status) => Error`.
    make: Function,
    /// `(error) => kind name | null`.
    kind_of: Function,
}

thread_local! {
    static CLASSES: RefCell<Option<ErrorClasses>> = const { RefCell::new(None) };
}

/// Registers the JS wrapper's error classes: `make(kind, message, notes, status)` makes
/// the error of a kind, `kindOf(error)` tells the kind of a dtmx error (`null` for any
/// other value). The package's `index.js` calls it once, after loading the module.
#[wasm_bindgen(js_name = setErrorClasses)]
pub fn set_error_classes(make: Function, kind_of: Function) {
    CLASSES.with(|c| *c.borrow_mut() = Some(ErrorClasses { make, kind_of }));
}

/// The JS error for a core error: the registered class's (with `notes` and `status`),
/// else an `Error` with `kind` and `code`.
pub fn to_js(error: Error) -> JsValue {
    let kind = JsValue::from_str(error.kind().as_str());
    let message = JsValue::from_str(error.message());
    let notes: JsValue = strings(error.notes()).into();
    let status = error
        .status()
        .map_or(JsValue::NULL, |s| JsValue::from_str(s.as_str()));
    let made = CLASSES.with(|c| {
        c.borrow().as_ref().and_then(|c| {
            c.make
                .call4(&JsValue::NULL, &kind, &message, &notes, &status)
                .ok()
        })
    });
    made.unwrap_or_else(|| {
        let e = js_sys::Error::new(error.message());
        let _ = Reflect::set(&e, &"kind".into(), &kind);
        let _ = Reflect::set(&e, &"code".into(), &error.kind().code().into());
        let _ = Reflect::set(&e, &"notes".into(), &notes);
        let _ = Reflect::set(&e, &"status".into(), &status);
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

/// The dtmx kind of a thrown JS value, `None` for anything but a dtmx error.
pub fn kind_of(value: &JsValue) -> Option<ErrorKind> {
    let name = CLASSES.with(|c| {
        c.borrow()
            .as_ref()
            .and_then(|c| c.kind_of.call1(&JsValue::NULL, value).ok())
    })?;
    kind_named(&name.as_string()?)
}

/// What the core sees of a value a JS callback threw: a dtmx error as its own kind (its
/// notes and status kept), anything else as [`dtmx_bindings::error::host_error`]; the
/// message is the error's `message` (any other value: its `String()`).
pub fn thrown_error(value: &JsValue) -> Error {
    let message = message_of(value);
    let Some(kind) = kind_of(value) else {
        return dtmx_bindings::error::host_error(message);
    };
    let mut e = Error::new(kind, message);
    if let Ok(notes) = get(value, "notes").dyn_into::<Array>() {
        for note in notes.iter() {
            e = e.with_note(text(&note));
        }
    }
    match get(value, "status")
        .as_string()
        .and_then(|s| TransStatus::parse(&s))
    {
        Some(status) => e.with_status(status),
        None => e,
    }
}

/// The `message` of a thrown JS error, `String(value)` of anything else.
fn message_of(value: &JsValue) -> String {
    match value.dyn_ref::<js_sys::Error>() {
        Some(e) => String::from(e.message()),
        None => text(value),
    }
}

/// `value`'s `String(value)`.
pub fn text(value: &JsValue) -> String {
    if let Some(s) = value.as_string() {
        return s;
    }
    let string: Function = get(&js_sys::global(), "String").unchecked_into();
    string
        .call1(&JsValue::NULL, value)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
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
/// anything else as JSON (a value without a JSON form, such as a BigInt or a circular
/// object, is [`invalid_payload`]).
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
    match js_sys::JSON::stringify(value) {
        Ok(s) => match s.as_string() {
            Some(s) => Ok(s.into_bytes()),
            None => Err(to_js(invalid_payload(&format!(
                "{} has no JSON form",
                value.js_typeof().as_string().unwrap_or_default()
            )))),
        },
        Err(e) => Err(to_js(invalid_payload(&message_of(&e)))),
    }
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
        text(&v)
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
            out.push((text(&p.get(0)), text(&v)));
        }
    }
    Ok(out)
}

/// The gid and options of `{gid, waitResult, timeoutToFail, ...}`: the gid taken out (a
/// string, or `null`/`undefined`), the rest read by the bindings' option reader
/// ([`Options::from_json`], camelCase names).
pub fn options(value: &JsValue) -> JsResult<(Option<String>, Options)> {
    let mut json: serde_json::Value = serde_wasm_bindgen::from_value(value.clone())
        .map_err(|e| bad(format!("options are not valid JSON: {e}")))?;
    let gid = match json.as_object_mut().and_then(|o| o.remove("gid")) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(g)) => Some(g),
        Some(other) => return Err(bad(format!("gid must be a string, got {other}"))),
    };
    let o = js(Options::from_json(&json, Naming::Camel))?;
    Ok((gid.filter(|g| !g.is_empty()), o))
}

/// A branch identity as `{gid, transType, branchId, op, dtm, phase2Url}`.
pub fn branch_to_js(b: &Branch) -> JsValue {
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
pub fn branch_from_js(value: &JsValue) -> JsResult<Branch> {
    if !value.is_object() {
        return Err(bad("branch must be an object"));
    }
    let g = |k| get_string(value, k);
    Ok(Branch::from_query_pairs([
        ("gid", g("gid")),
        ("trans_type", g("transType")),
        ("branch_id", g("branchId")),
        ("op", g("op")),
        ("dtm", g("dtm")),
        ("phase2_url", g("phase2Url")),
    ]))
}
