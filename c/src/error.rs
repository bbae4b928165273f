//! Result codes, the caller's error out-parameter, and the strings dtmx hands out.

use crate::ffi::{free_string, guard_plain, interned, opt_text, write_error};
use dtmx_bindings::error::{class_name, kind_of};
use dtmx_bindings::{Error, ErrorKind};
use std::ffi::c_char;

/// The result of a call: `DTMX_OK`, or the kind of its error. The values are stable and
/// the same in every dtmx binding.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmxCode {
    /// No error.
    DTMX_OK = 0,
    /// An argument was refused (NULL, not UTF-8, malformed, out of range).
    DTMX_INVALID_ARGUMENT = 1,
    /// The request could not be sent or its reply not read.
    DTMX_TRANSPORT = 2,
    /// The DTM server answered with an error.
    DTMX_SERVER = 3,
    /// A branch or the server refused: the transaction rolls back.
    DTMX_FAILURE = 4,
    /// Not done yet: retried later.
    DTMX_ONGOING = 5,
    /// The work was already done (a duplicate request).
    DTMX_DUPLICATED = 6,
    /// A deadline passed.
    DTMX_TIMEOUT = 7,
    /// The host's database reported an error.
    DTMX_DATABASE = 8,
    /// A bug in dtmx (a caught panic, say).
    DTMX_INTERNAL = 9,
}

impl DtmxCode {
    /// The code of an error kind.
    pub fn of(kind: ErrorKind) -> DtmxCode {
        match kind {
            ErrorKind::InvalidArgument => DtmxCode::DTMX_INVALID_ARGUMENT,
            ErrorKind::Transport => DtmxCode::DTMX_TRANSPORT,
            ErrorKind::Server => DtmxCode::DTMX_SERVER,
            ErrorKind::Failure => DtmxCode::DTMX_FAILURE,
            ErrorKind::Ongoing => DtmxCode::DTMX_ONGOING,
            ErrorKind::Duplicated => DtmxCode::DTMX_DUPLICATED,
            ErrorKind::Timeout => DtmxCode::DTMX_TIMEOUT,
            ErrorKind::Database => DtmxCode::DTMX_DATABASE,
            _ => DtmxCode::DTMX_INTERNAL,
        }
    }
}

/// An error out-parameter. Zero-initialise it (`DtmxError error = {0};`) before its first
/// use. Every call that takes one rewrites it: `code` is `DTMX_OK` and `message` NULL after
/// a success; after a failure `code` is the error's kind and `message` an owned
/// description. The next call frees the previous message; free the last one with
/// `dtmx_error_free`. Passing NULL instead of an error is allowed.
#[repr(C)]
#[derive(Debug)]
pub struct DtmxError {
    /// `DTMX_OK` or the kind of the error.
    pub code: DtmxCode,
    /// What went wrong (owned by the error; NULL after a success).
    pub message: *mut c_char,
}

/// Frees the message of `error` and resets it to `DTMX_OK`. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_error_free(error: *mut DtmxError) {
    guard_plain((), || write_error(error, None));
}

/// Sets `error` to `code` (1 and up; anything else is `DTMX_INTERNAL`) with a copy of
/// `message`, for callbacks that report a failure back to dtmx. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_error_set(error: *mut DtmxError, code: i32, message: *const c_char) {
    guard_plain((), || {
        let kind = kind_of(code).unwrap_or(ErrorKind::Internal);
        let text = opt_text(message, "message").ok().flatten().unwrap_or("");
        write_error(error, Some(&Error::new(kind, text)));
    });
}

/// The stable name of a code (`"ok"`, `"invalid_argument"`, `"failure"`, ...). Static.
#[no_mangle]
pub extern "C" fn dtmx_code_name(code: i32) -> *const c_char {
    guard_plain(std::ptr::null(), || match kind_of(code) {
        Some(kind) => interned(kind.as_str()),
        None if code == 0 => interned("ok"),
        None => interned("unknown"),
    })
}

/// The class name bindings give errors of `code` (`"FailureError"`, ...); `"DtmxError"`
/// for 0 and unknown codes. Static.
#[no_mangle]
pub extern "C" fn dtmx_code_class(code: i32) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        interned(kind_of(code).map_or("DtmxError", class_name))
    })
}

/// Frees a string returned by dtmx. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_string_free(s: *mut c_char) {
    guard_plain((), || free_string(s));
}

/// The version of libdtmx (`"0.1.0"`). Static.
#[no_mangle]
pub extern "C" fn dtmx_version() -> *const c_char {
    guard_plain(std::ptr::null(), || interned(env!("CARGO_PKG_VERSION")))
}
