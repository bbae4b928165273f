//! Result codes, the caller's error out-parameter, and the strings dtmx hands out.

use crate::ffi::{free_string, guard_plain, interned, opt_text, write_error};
use dtmx_bindings::error::{class_name, host_error, invalid_payload, kind_of};
use dtmx_bindings::{Error, ErrorKind};
use std::ffi::{c_char, CString};

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
    /// A transaction submitted with `wait_result` has not finished: dtm is still retrying
    /// it (`dtmx_error_status` says where it is: `submitted`, `aborting`, `prepared`).
    DTMX_UNFINISHED = 10,
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
            ErrorKind::Unfinished => DtmxCode::DTMX_UNFINISHED,
            _ => DtmxCode::DTMX_INTERNAL,
        }
    }
}

/// An error out-parameter. Zero-initialise it (`DtmxError error = {0};`) before its first
/// use. Every call that takes one rewrites it: `code` is `DTMX_OK` and `message` NULL after
/// a success; after a failure `code` is the error's kind and `message` an owned
/// description, and the error may carry notes (`dtmx_error_note_count`, `dtmx_error_note`:
/// what else failed on the way, e.g. `abort failed: ...` after a run whose body failed)
/// and the status of the transaction it is about (`dtmx_error_status`). The next call
/// frees what the previous one left; free the last one with `dtmx_error_free`. Passing
/// NULL instead of an error is allowed.
#[repr(C)]
#[derive(Debug)]
pub struct DtmxError {
    /// `DTMX_OK` or the kind of the error.
    pub code: DtmxCode,
    /// What went wrong (owned by the error; NULL after a success).
    pub message: *mut c_char,
    /// The notes and the status (owned by the error; NULL when it has neither). Read them
    /// with `dtmx_error_note` and `dtmx_error_status`.
    pub details: *mut DtmxErrorDetails,
}

/// The notes and the status of an error, behind `DtmxError.details`.
#[derive(Debug)]
pub struct DtmxErrorDetails {
    pub(crate) notes: Vec<CString>,
    pub(crate) status: *const c_char,
}

impl DtmxError {
    /// A cleared error (what `{0}` is in C).
    pub(crate) fn empty() -> DtmxError {
        DtmxError {
            code: DtmxCode::DTMX_OK,
            message: std::ptr::null_mut(),
            details: std::ptr::null_mut(),
        }
    }

    /// The error a callback reported in it (its code and message), if any.
    pub(crate) fn reported(&self) -> Option<Error> {
        if self.code == DtmxCode::DTMX_OK {
            return None;
        }
        let message = opt_text(self.message, "message")
            .ok()
            .flatten()
            .unwrap_or("");
        let kind = kind_of(self.code as i32).unwrap_or(ErrorKind::Internal);
        Some(Error::new(kind, message))
    }
}

/// Frees what `error` holds and resets it to `DTMX_OK`. NULL-safe.
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

/// Sets `error` to what dtmx makes of an exception the host's own code raised (a
/// callback's body, a local transaction): `DTMX_DATABASE` with a copy of `message`, never
/// taken for a refusal (a msg then asks its check-back; a TCC or XA run aborts). The host
/// keeps its exception and raises it again when the call returns. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_error_set_host(error: *mut DtmxError, message: *const c_char) {
    guard_plain((), || {
        let text = opt_text(message, "message").ok().flatten().unwrap_or("");
        write_error(error, Some(&host_error(text)));
    });
}

/// Sets `error` to the error of a payload the host cannot encode as JSON
/// (`DTMX_INVALID_ARGUMENT`, the message starting `invalid payload`), `detail` saying why.
/// NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_error_set_invalid_payload(error: *mut DtmxError, detail: *const c_char) {
    guard_plain((), || {
        let text = opt_text(detail, "detail").ok().flatten().unwrap_or("");
        write_error(error, Some(&invalid_payload(text)));
    });
}

/// How many notes `error` carries (0 for NULL and after a success).
#[no_mangle]
pub extern "C" fn dtmx_error_note_count(error: *const DtmxError) -> usize {
    guard_plain(0, || details(error).map_or(0, |d| d.notes.len()))
}

/// Note `index` of `error`, oldest first (NULL when out of range). Borrowed from the
/// error: valid until it is rewritten or freed.
#[no_mangle]
pub extern "C" fn dtmx_error_note(error: *const DtmxError, index: usize) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        details(error)
            .and_then(|d| d.notes.get(index))
            .map_or(std::ptr::null(), |n| n.as_ptr())
    })
}

/// The status of the transaction `error` is about (`"submitted"`, `"aborting"`,
/// `"prepared"` for `DTMX_UNFINISHED`; `"failed"` for `DTMX_FAILURE` after a
/// `wait_result` submit), NULL when it carries none. Static.
#[no_mangle]
pub extern "C" fn dtmx_error_status(error: *const DtmxError) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        details(error).map_or(std::ptr::null(), |d| d.status)
    })
}

fn details<'a>(error: *const DtmxError) -> Option<&'a DtmxErrorDetails> {
    unsafe { error.as_ref().and_then(|e| e.details.as_ref()) }
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
