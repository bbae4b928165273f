//! The business-service side: a branch's identity from the request dtm sent, and the
//! reply for an outcome or for an error the handler raised.

use crate::error::{DtmxCode, DtmxError};
use crate::ffi::{
    bytes, free_string, guard, guard_code, guard_plain, handle, interned, opt_text, owned, pairs,
    put, text,
};
use dtmx_bindings::branch::{
    outcome_named, outcome_of_error, outcome_parts, outcome_reply, Branch, Outcome,
};
use dtmx_bindings::dtmx::rm;
use dtmx_bindings::dtmx::tm::{check_branch_reply, check_server_reply};
use dtmx_bindings::error::{invalid, kind_of};
use dtmx_bindings::Result;
use std::ffi::c_char;

/// Who a branch request is for, as read from its query string or gRPC metadata. Every
/// field is an owned string (empty when absent); free the whole with `dtmx_branch_free`.
#[repr(C)]
pub struct DtmxBranch {
    /// The global transaction id.
    pub gid: *mut c_char,
    /// `saga`, `tcc`, `msg`, `xa` or `workflow`.
    pub trans_type: *mut c_char,
    /// The branch id.
    pub branch_id: *mut c_char,
    /// `action`, `compensate`, `try`, `confirm`, `cancel`, `commit`, `rollback`, ...
    pub op: *mut c_char,
    /// The DTM server that sent the request.
    pub dtm: *mut c_char,
    /// The phase-two URL (XA).
    pub phase2_url: *mut c_char,
}

/// What a branch reports to dtm.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmxOutcome {
    /// Done (HTTP 200).
    DTMX_OUTCOME_SUCCESS = 0,
    /// Refused: roll back (HTTP 409).
    DTMX_OUTCOME_FAILURE = 1,
    /// Not done yet: retry later (HTTP 425).
    DTMX_OUTCOME_ONGOING = 2,
    /// Anything else: retried (HTTP 500).
    DTMX_OUTCOME_UNKNOWN = 3,
}

fn branch(b: &Branch) -> *mut DtmxBranch {
    Box::into_raw(Box::new(DtmxBranch {
        gid: owned(&b.gid),
        trans_type: owned(&b.trans_type),
        branch_id: owned(&b.branch_id),
        op: owned(&b.op),
        dtm: owned(&b.dtm),
        phase2_url: owned(&b.phase2_url),
    }))
}

/// The branch of a request whose URL had query string `query`. NULL when `query` is
/// NULL.
#[no_mangle]
pub extern "C" fn dtmx_branch_from_query(
    query: *const c_char,
    error: *mut DtmxError,
) -> *mut DtmxBranch {
    guard(error, std::ptr::null_mut(), || {
        Ok(branch(&Branch::from_query(text(query, "query")?)))
    })
}

/// The branch from `count` decoded query pairs (`keys[i]`, `values[i]`), as a web
/// framework hands them over. NULL on error.
#[no_mangle]
pub extern "C" fn dtmx_branch_from_query_pairs(
    keys: *const *const c_char,
    values: *const *const c_char,
    count: usize,
    error: *mut DtmxError,
) -> *mut DtmxBranch {
    guard(error, std::ptr::null_mut(), || {
        Ok(branch(&Branch::from_query_pairs(pairs(
            keys, values, count,
        )?)))
    })
}

/// The core's branch of a `DtmxBranch` (a NULL field reads as empty).
pub(crate) fn branch_of(b: *const DtmxBranch) -> Result<Branch> {
    let b = handle(b, "branch")?;
    let field = |p: *mut c_char, what: &str| -> Result<String> {
        Ok(opt_text(p, what)?.unwrap_or("").to_string())
    };
    Ok(Branch {
        gid: field(b.gid, "gid")?,
        trans_type: field(b.trans_type, "trans_type")?,
        branch_id: field(b.branch_id, "branch_id")?,
        op: field(b.op, "op")?,
        dtm: field(b.dtm, "dtm")?,
        phase2_url: field(b.phase2_url, "phase2_url")?,
    })
}

/// The branch of a gRPC request from `count` metadata pairs (`dtm-gid`, ...).
#[no_mangle]
pub extern "C" fn dtmx_branch_from_grpc_metadata(
    keys: *const *const c_char,
    values: *const *const c_char,
    count: usize,
    error: *mut DtmxError,
) -> *mut DtmxBranch {
    guard(error, std::ptr::null_mut(), || {
        Ok(branch(&Branch::from_grpc_metadata(pairs(
            keys, values, count,
        )?)))
    })
}

/// Frees a branch and its strings. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_branch_free(branch: *mut DtmxBranch) {
    guard_plain((), || {
        if branch.is_null() {
            return;
        }
        let b = unsafe { Box::from_raw(branch) };
        for s in [b.gid, b.trans_type, b.branch_id, b.op, b.dtm, b.phase2_url] {
            free_string(s);
        }
    });
}

fn outcome_of(code: i32, message: &str) -> Result<Outcome> {
    let name = match code {
        0 => "success",
        1 => "failure",
        2 => "ongoing",
        3 => "unknown",
        _ => return Err(invalid(format!("unknown outcome {code}"))),
    };
    outcome_named(name, message).ok_or_else(|| invalid(format!("unknown outcome {code}")))
}

fn code_of(outcome: &Outcome) -> DtmxOutcome {
    match outcome {
        Outcome::Success => DtmxOutcome::DTMX_OUTCOME_SUCCESS,
        Outcome::Failure(_) => DtmxOutcome::DTMX_OUTCOME_FAILURE,
        Outcome::Ongoing(_) => DtmxOutcome::DTMX_OUTCOME_ONGOING,
        _ => DtmxOutcome::DTMX_OUTCOME_UNKNOWN,
    }
}

/// Writes the outcome's code and (when `message` is not NULL) an owned copy of its
/// message.
fn report(outcome: &Outcome, message: *mut *mut c_char) -> DtmxOutcome {
    if !message.is_null() {
        put(message, owned(outcome_parts(outcome).1));
    }
    code_of(outcome)
}

/// The stable name of an outcome (`"success"`, `"failure"`, `"ongoing"`, `"unknown"`).
/// Static; NULL for other values.
#[no_mangle]
pub extern "C" fn dtmx_outcome_name(outcome: i32) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        outcome_of(outcome, "").map_or(std::ptr::null(), |o| interned(outcome_parts(&o).0))
    })
}

/// The HTTP reply for `outcome` with `message`: its status in `status` and its JSON body
/// (owned) in `body`.
#[no_mangle]
pub extern "C" fn dtmx_outcome_reply(
    outcome: i32,
    message: *const c_char,
    status: *mut u16,
    body: *mut *mut c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let o = outcome_of(outcome, opt_text(message, "message")?.unwrap_or(""))?;
        let reply = outcome_reply(&o);
        put(status, reply.status);
        put(body, owned(&reply.body));
        Ok(())
    })
}

/// The outcome a handler's error of `code` stands for (0: any other error of the host).
/// Only `DTMX_FAILURE` and `DTMX_ONGOING` keep their meaning; everything else is
/// unknown, retried by dtm, never a rollback. Its message (owned) in `out_message`.
#[no_mangle]
pub extern "C" fn dtmx_outcome_of_error(
    code: i32,
    message: *const c_char,
    out_message: *mut *mut c_char,
) -> DtmxOutcome {
    guard_plain(DtmxOutcome::DTMX_OUTCOME_UNKNOWN, || {
        let m = opt_text(message, "message").ok().flatten().unwrap_or("");
        report(&outcome_of_error(kind_of(code), m), out_message)
    })
}

/// How dtm reads a branch's HTTP reply (`status`, `len` bytes of `body`); the message
/// (owned) in `out_message`.
#[no_mangle]
pub extern "C" fn dtmx_outcome_from_http(
    status: u16,
    body: *const u8,
    len: usize,
    out_message: *mut *mut c_char,
) -> DtmxOutcome {
    guard_plain(DtmxOutcome::DTMX_OUTCOME_UNKNOWN, || {
        report(&Outcome::from_http(status, bytes(body, len)), out_message)
    })
}

/// The gRPC status code a branch answers for `outcome` (-1 for unknown values).
#[no_mangle]
pub extern "C" fn dtmx_grpc_code(outcome: i32) -> i32 {
    guard_plain(-1, || {
        outcome_of(outcome, "").map_or(-1, |o| rm::grpc_code(&o).code())
    })
}

/// How dtm reads a gRPC status (`code`, `message`); the message (owned) in
/// `out_message`.
#[no_mangle]
pub extern "C" fn dtmx_outcome_from_grpc(
    code: i32,
    message: *const c_char,
    out_message: *mut *mut c_char,
) -> DtmxOutcome {
    guard_plain(DtmxOutcome::DTMX_OUTCOME_UNKNOWN, || {
        let m = opt_text(message, "message").ok().flatten().unwrap_or("");
        report(&rm::outcome_from_grpc(code, m), out_message)
    })
}

/// The error a branch's reply to the caller's own call (TCC try, msg check-back) stands
/// for; `DTMX_OK` when it succeeded.
#[no_mangle]
pub extern "C" fn dtmx_check_branch_reply(
    status: u16,
    body: *const u8,
    len: usize,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || check_branch_reply(status, bytes(body, len)))
}

/// The error a reply of the DTM server stands for; `DTMX_OK` when it succeeded.
#[no_mangle]
pub extern "C" fn dtmx_check_server_reply(
    status: u16,
    body: *const u8,
    len: usize,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || check_server_reply(status, bytes(body, len)))
}
