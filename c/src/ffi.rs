//! The plumbing every export shares: panics caught at the boundary, errors written to the
//! caller's `DtmxError`, C strings in and out, handles boxed and unboxed.

use crate::error::{DtmxCode, DtmxError, DtmxErrorDetails};
use dtmx_bindings::error::invalid;
use dtmx_bindings::{Error, ErrorKind, Result};
use std::collections::HashMap;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, OnceLock};

/// Runs `f`, catching panics; on success clears `error` and returns the value, on failure
/// writes the error to `error` and returns `fallback`.
pub fn guard<T>(error: *mut DtmxError, fallback: T, f: impl FnOnce() -> Result<T>) -> T {
    match run(f) {
        Ok(v) => {
            write_error(error, None);
            v
        }
        Err(e) => {
            write_error(error, Some(&e));
            fallback
        }
    }
}

/// [`guard`] for calls that report through their return code as well.
pub fn guard_code(error: *mut DtmxError, f: impl FnOnce() -> Result<()>) -> DtmxCode {
    match run(f) {
        Ok(()) => {
            write_error(error, None);
            DtmxCode::DTMX_OK
        }
        Err(e) => {
            write_error(error, Some(&e));
            DtmxCode::of(e.kind())
        }
    }
}

/// Runs an infallible export, catching panics (`fallback` then).
pub fn guard_plain<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

fn run<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::new(
            ErrorKind::Internal,
            "dtmx panicked inside a C call",
        ))
    })
}

/// Writes `e` (or "no error") into the caller's error, freeing what it held.
pub fn write_error(error: *mut DtmxError, e: Option<&Error>) {
    let Some(slot) = (unsafe { error.as_mut() }) else {
        return;
    };
    free_string(slot.message);
    free_boxed(slot.details);
    *slot = DtmxError::empty();
    if let Some(e) = e {
        slot.code = DtmxCode::of(e.kind());
        slot.message = owned(e.message());
        if !e.notes().is_empty() || e.status().is_some() {
            slot.details = boxed(DtmxErrorDetails {
                notes: e.notes().iter().map(|n| c_string(n)).collect(),
                status: e
                    .status()
                    .map_or(std::ptr::null(), |s| interned(s.as_str())),
            });
        }
    }
}

/// The text behind `p`; an `InvalidArgument` error naming `what` when it is NULL or not
/// UTF-8.
pub fn text<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    opt_text(p, what)?.ok_or_else(|| invalid(format!("{what} must not be NULL")))
}

/// The text behind `p`, `None` for NULL.
pub fn opt_text<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map(Some)
        .map_err(|_| invalid(format!("{what} is not valid UTF-8")))
}

/// The `len` bytes at `p` (NULL with any length: none).
pub fn bytes<'a>(p: *const u8, len: usize) -> &'a [u8] {
    if p.is_null() || len == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(p, len) }
    }
}

/// `count` strings from two parallel arrays of C strings.
pub fn pairs(
    keys: *const *const c_char,
    values: *const *const c_char,
    count: usize,
) -> Result<Vec<(String, String)>> {
    if count > 0 && (keys.is_null() || values.is_null()) {
        return Err(invalid("keys and values must not be NULL"));
    }
    (0..count)
        .map(|i| {
            let k = text(unsafe { *keys.add(i) }, "key")?;
            let v = text(unsafe { *values.add(i) }, "value")?;
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// A C string for `s`; NUL bytes inside `s`, which C strings cannot hold, are dropped.
pub fn c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| {
        CString::new(s.replace('\0', "")).unwrap_or_else(|_| CString::default())
    })
}

/// An owned copy of `s` for the caller, freed with `dtmx_string_free`.
pub fn owned(s: &str) -> *mut c_char {
    c_string(s).into_raw()
}

/// Frees a string made by [`owned`]; NULL is ignored.
pub fn free_string(p: *mut c_char) {
    if !p.is_null() {
        drop(unsafe { CString::from_raw(p) });
    }
}

/// A NUL-terminated copy of a static name, made once and kept for the process.
pub fn interned(s: &'static str) -> *const c_char {
    static NAMES: OnceLock<Mutex<HashMap<&'static str, &'static CStr>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    names
        .entry(s)
        .or_insert_with(|| Box::leak(c_string(s).into_boxed_c_str()))
        .as_ptr()
}

/// Moves `value` to the heap and hands it to the caller.
pub fn boxed<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back and drops a handle made by [`boxed`]; NULL is ignored.
pub fn free_boxed<T>(p: *mut T) {
    if !p.is_null() {
        drop(unsafe { Box::from_raw(p) });
    }
}

/// The handle behind `p`; an `InvalidArgument` error when it is NULL.
pub fn handle<'a, T>(p: *const T, what: &str) -> Result<&'a T> {
    unsafe { p.as_ref() }.ok_or_else(|| invalid(format!("{what} must not be NULL")))
}

/// The handle behind `p`, mutably; an `InvalidArgument` error when it is NULL.
pub fn handle_mut<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T> {
    unsafe { p.as_mut() }.ok_or_else(|| invalid(format!("{what} must not be NULL")))
}

/// Writes `value` through `out` when it is not NULL.
pub fn put<T>(out: *mut T, value: T) {
    if let Some(slot) = unsafe { out.as_mut() } {
        *slot = value;
    }
}
