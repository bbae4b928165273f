//! The RM side of XA: one branch call of an XA global transaction (phase 1 `action`,
//! phase 2 `commit` / `rollback`) as the steps a host carries out on its dedicated XA
//! connection (the core's `XaLocal`): the XA statements and barrier rows to run, when to
//! run the business SQL, and the `registerBranch` request to send. dtmx decides each step;
//! the host does it and reports back.
//!
//! ```c
//! DtmxXaLocal *xa = dtmx_xa_local_new(branch, table, &error);
//! for (;;) switch (dtmx_xa_local_step(xa)) {
//!   case DTMX_XA_EXECUTE:      run dtmx_xa_local_sql with its parameters (autocommit),
//!                              then dtmx_xa_local_feed_affected(rows), or on an SQL error
//!                              dtmx_xa_local_feed_sql_error(the database's message)
//!   case DTMX_XA_QUERY_REASON: run it, dtmx_xa_local_feed_reason(first column or NULL)
//!                              (or dtmx_xa_local_feed_sql_error)
//!   case DTMX_XA_RUN_BUSINESS: run the business SQL on the XA connection, then
//!                              dtmx_xa_local_feed_business(NULL, &error), or its failure
//!   case DTMX_XA_SEND:         send dtmx_xa_local_request, then dtmx_xa_local_feed_reply
//!                              (or dtmx_xa_local_feed_send_error)
//!   case DTMX_XA_DONE:         dtmx_xa_local_finish: the error to reply to dtm with
//! }
//! ```

use crate::barrier::{DtmxBarrierTable, DtmxStatement};
use crate::branch::DtmxBranch;
use crate::client::DtmxHttpRequest;
use crate::error::{DtmxCode, DtmxError};
use crate::ffi::{
    boxed, bytes, c_string, free_boxed, guard, guard_code, guard_plain, handle, handle_mut,
    opt_text, text,
};
use dtmx_bindings::dtmx::rm::{Branch, XaLocal, XaPhase, XaStep};
use dtmx_bindings::error::invalid;
use dtmx_bindings::{Error, ErrorKind, Result};
use std::ffi::{c_char, CString};

/// One XA branch call on the host's XA connection. Used by one thread at a time.
pub struct DtmxXaLocal {
    /// The machine; `None` once finished.
    inner: Option<XaLocal>,
    xid: CString,
    phase: DtmxXaPhase,
    /// The current statement as C strings (`DTMX_XA_EXECUTE`, `DTMX_XA_QUERY_REASON`).
    statement: Option<DtmxStatement>,
    /// The current request (`DTMX_XA_SEND`).
    request: Option<DtmxHttpRequest>,
}

/// What the host does next.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmxXaStep {
    /// Run `dtmx_xa_local_sql` with its parameters on the XA connection, then
    /// `dtmx_xa_local_feed_affected` (or `dtmx_xa_local_feed_sql_error`).
    DTMX_XA_EXECUTE = 0,
    /// Run the query, then `dtmx_xa_local_feed_reason` with the first column of its first
    /// row (NULL: no row), or `dtmx_xa_local_feed_sql_error`.
    DTMX_XA_QUERY_REASON = 1,
    /// Run the business SQL on the XA connection, then `dtmx_xa_local_feed_business`.
    DTMX_XA_RUN_BUSINESS = 2,
    /// Send `dtmx_xa_local_request` to dtm, then `dtmx_xa_local_feed_reply` (or
    /// `dtmx_xa_local_feed_send_error`).
    DTMX_XA_SEND = 3,
    /// Finished: `dtmx_xa_local_finish` gives the error to reply with, if any.
    DTMX_XA_DONE = 4,
}

/// Which half of the XA protocol a branch call asks for.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmxXaPhase {
    /// Phase 1 (op `action`): the business SQL in a new XA transaction, then prepare.
    DTMX_XA_PHASE_ACTION = 0,
    /// Phase 2 (op `commit`): commit the prepared XA transaction.
    DTMX_XA_PHASE_COMMIT = 1,
    /// Phase 2 (op `rollback`): roll back the prepared XA transaction.
    DTMX_XA_PHASE_ROLLBACK = 2,
}

fn finished() -> Error {
    invalid("the XA call is finished")
}

impl DtmxXaLocal {
    fn new(inner: XaLocal) -> DtmxXaLocal {
        let phase = match inner.phase() {
            XaPhase::Action => DtmxXaPhase::DTMX_XA_PHASE_ACTION,
            XaPhase::Commit => DtmxXaPhase::DTMX_XA_PHASE_COMMIT,
            XaPhase::Rollback => DtmxXaPhase::DTMX_XA_PHASE_ROLLBACK,
        };
        let mut x = DtmxXaLocal {
            xid: c_string(inner.xid()),
            inner: Some(inner),
            phase,
            statement: None,
            request: None,
        };
        x.refresh();
        x
    }

    /// Caches the statement or request of the current step as C strings.
    fn refresh(&mut self) {
        let step = self.inner.as_ref().map(XaLocal::step);
        self.statement = match step {
            Some(XaStep::Execute(s) | XaStep::QueryReason(s)) => Some(DtmxStatement::from(s)),
            _ => None,
        };
        self.request = match step {
            Some(XaStep::Send(r)) => Some(DtmxHttpRequest::from(r)),
            _ => None,
        };
    }

    /// Runs `feed` on the live machine, then refreshes the step whatever it did.
    fn feed(&mut self, feed: impl FnOnce(&mut XaLocal) -> Result<()>) -> Result<()> {
        let done = feed(self.inner.as_mut().ok_or_else(finished)?);
        self.refresh();
        done
    }

    fn step(&self) -> DtmxXaStep {
        match self.inner.as_ref().map(XaLocal::step) {
            Some(XaStep::Execute(_)) => DtmxXaStep::DTMX_XA_EXECUTE,
            Some(XaStep::QueryReason(_)) => DtmxXaStep::DTMX_XA_QUERY_REASON,
            Some(XaStep::RunBusiness) => DtmxXaStep::DTMX_XA_RUN_BUSINESS,
            Some(XaStep::Send(_)) => DtmxXaStep::DTMX_XA_SEND,
            Some(XaStep::Done) | None => DtmxXaStep::DTMX_XA_DONE,
        }
    }
}

fn text_or_empty(p: *const c_char, what: &str) -> Result<String> {
    Ok(opt_text(p, what)?.unwrap_or("").to_string())
}

/// The XA branch call `branch` describes (its `gid`, `branch_id`, `op`, `trans_type`, and
/// for phase 1 `dtm` and `phase2_url`, as `dtmx_branch_from_query` reads them from dtm's
/// request; NULL fields are empty), keeping its barrier rows in `table` (MySQL or
/// PostgreSQL: `DTMX_INVALID_ARGUMENT` for SQLite, which has no XA). The XA connection
/// must be in autocommit mode, outside any transaction. NULL on error. Free with
/// `dtmx_xa_local_free`.
#[no_mangle]
pub extern "C" fn dtmx_xa_local_new(
    branch: *const DtmxBranch,
    table: *const DtmxBarrierTable,
    error: *mut DtmxError,
) -> *mut DtmxXaLocal {
    guard(error, std::ptr::null_mut(), || {
        let b = handle(branch, "branch")?;
        let t = handle(table, "table")?;
        let branch = Branch {
            gid: text_or_empty(b.gid, "gid")?,
            trans_type: text_or_empty(b.trans_type, "trans_type")?,
            branch_id: text_or_empty(b.branch_id, "branch_id")?,
            op: text_or_empty(b.op, "op")?,
            dtm: text_or_empty(b.dtm, "dtm")?,
            phase2_url: text_or_empty(b.phase2_url, "phase2_url")?,
        };
        Ok(boxed(DtmxXaLocal::new(XaLocal::new(&branch, &t.inner)?)))
    })
}

/// The XA branch call of a request whose URL had query string `query` (with or without
/// its leading `?`), as `dtmx_xa_local_new`. NULL on error.
#[no_mangle]
pub extern "C" fn dtmx_xa_local_from_query(
    query: *const c_char,
    table: *const DtmxBarrierTable,
    error: *mut DtmxError,
) -> *mut DtmxXaLocal {
    guard(error, std::ptr::null_mut(), || {
        let branch = Branch::from_query(text(query, "query")?);
        let t = handle(table, "table")?;
        Ok(boxed(DtmxXaLocal::new(XaLocal::new(&branch, &t.inner)?)))
    })
}

/// The phase the call is in (`DTMX_XA_PHASE_ACTION` for NULL).
#[no_mangle]
pub extern "C" fn dtmx_xa_local_phase(xa: *const DtmxXaLocal) -> DtmxXaPhase {
    guard_plain(DtmxXaPhase::DTMX_XA_PHASE_ACTION, || {
        handle(xa, "xa").map_or(DtmxXaPhase::DTMX_XA_PHASE_ACTION, |x| x.phase)
    })
}

/// The XA transaction id, `<gid>-<branch_id>`. Borrowed from the call.
#[no_mangle]
pub extern "C" fn dtmx_xa_local_xid(xa: *const DtmxXaLocal) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        handle(xa, "xa").map_or(std::ptr::null(), |x| x.xid.as_ptr())
    })
}

/// What the host does now (`DTMX_XA_DONE` for NULL and once finished).
#[no_mangle]
pub extern "C" fn dtmx_xa_local_step(xa: *const DtmxXaLocal) -> DtmxXaStep {
    guard_plain(DtmxXaStep::DTMX_XA_DONE, || {
        handle(xa, "xa").map_or(DtmxXaStep::DTMX_XA_DONE, DtmxXaLocal::step)
    })
}

/// The SQL of `DTMX_XA_EXECUTE` and `DTMX_XA_QUERY_REASON` (NULL for any other step), in
/// the table's dialect. Borrowed: valid until the call is fed.
#[no_mangle]
pub extern "C" fn dtmx_xa_local_sql(xa: *const DtmxXaLocal) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        let s = handle(xa, "xa").ok().and_then(|x| x.statement.as_ref());
        s.map_or(std::ptr::null(), |s| s.sql.as_ptr())
    })
}

/// How many parameters the current SQL has (0 when none: the XA statements have none, the
/// barrier rows have theirs).
#[no_mangle]
pub extern "C" fn dtmx_xa_local_param_count(xa: *const DtmxXaLocal) -> usize {
    guard_plain(0, || {
        let s = handle(xa, "xa").ok().and_then(|x| x.statement.as_ref());
        s.map_or(0, |s| s.params.len())
    })
}

/// Parameter `index` of the current SQL (NULL when out of range). Borrowed: valid until
/// the call is fed.
#[no_mangle]
pub extern "C" fn dtmx_xa_local_param(xa: *const DtmxXaLocal, index: usize) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        let s = handle(xa, "xa").ok().and_then(|x| x.statement.as_ref());
        s.and_then(|s| s.params.get(index))
            .map_or(std::ptr::null(), |p| p.as_ptr())
    })
}

/// The request of `DTMX_XA_SEND` (`POST <dtm>/registerBranch`), read with the
/// `dtmx_request_*` functions; NULL for any other step. Borrowed: valid until the call is
/// fed.
#[no_mangle]
pub extern "C" fn dtmx_xa_local_request(xa: *const DtmxXaLocal) -> *const DtmxHttpRequest {
    guard_plain(std::ptr::null(), || {
        let r = handle(xa, "xa").ok().and_then(|x| x.request.as_ref());
        r.map_or(std::ptr::null(), |r| r as *const DtmxHttpRequest)
    })
}

/// Feeds the rows affected by the statement of `DTMX_XA_EXECUTE`.
/// `DTMX_INVALID_ARGUMENT` for any other step (which stays).
#[no_mangle]
pub extern "C" fn dtmx_xa_local_feed_affected(
    xa: *mut DtmxXaLocal,
    rows: u64,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        handle_mut(xa, "xa")?.feed(|x| x.feed_affected(rows).map(drop))
    })
}

/// Feeds the first column of the first row read by `DTMX_XA_QUERY_REASON` (NULL: no
/// row).
#[no_mangle]
pub extern "C" fn dtmx_xa_local_feed_reason(
    xa: *mut DtmxXaLocal,
    reason: *const c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let reason = opt_text(reason, "reason")?;
        handle_mut(xa, "xa")?.feed(|x| x.feed_reason(reason).map(drop))
    })
}

/// Feeds the database's error `message` for the statement of `DTMX_XA_EXECUTE` or
/// `DTMX_XA_QUERY_REASON` (dtmx judges it: "no such XA transaction" in phase 2 counts as
/// done).
#[no_mangle]
pub extern "C" fn dtmx_xa_local_feed_sql_error(
    xa: *mut DtmxXaLocal,
    message: *const c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let message = opt_text(message, "message")?.unwrap_or("SQL error");
        handle_mut(xa, "xa")?.feed(|x| x.feed_sql_error(message).map(drop))
    })
}

/// Feeds the result of the business SQL of `DTMX_XA_RUN_BUSINESS`: `failure` NULL (or
/// `DTMX_OK`) for success, else its code and message (set with `dtmx_error_set`, or
/// `dtmx_error_set_host` for the host's own exception). A failure rolls the XA
/// transaction back and is what `dtmx_xa_local_finish` reports.
#[no_mangle]
pub extern "C" fn dtmx_xa_local_feed_business(
    xa: *mut DtmxXaLocal,
    failure: *const DtmxError,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let result = match unsafe { failure.as_ref() }.and_then(DtmxError::reported) {
            Some(e) => Err(e),
            None => Ok(()),
        };
        handle_mut(xa, "xa")?.feed(|x| x.feed_business(result).map(drop))
    })
}

/// Feeds dtm's reply to `DTMX_XA_SEND`: its status and `len` body bytes.
#[no_mangle]
pub extern "C" fn dtmx_xa_local_feed_reply(
    xa: *mut DtmxXaLocal,
    status: u16,
    body: *const u8,
    len: usize,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let body = bytes(body, len);
        handle_mut(xa, "xa")?.feed(|x| x.feed_reply(status, body).map(drop))
    })
}

/// Reports that the request of `DTMX_XA_SEND` could not be sent (a `DTMX_TRANSPORT`
/// error with a copy of `message`).
#[no_mangle]
pub extern "C" fn dtmx_xa_local_feed_send_error(
    xa: *mut DtmxXaLocal,
    message: *const c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let message = opt_text(message, "message")?.unwrap_or("send failed");
        let e = Error::new(ErrorKind::Transport, message);
        handle_mut(xa, "xa")?.feed(|x| x.feed_send_error(e).map(drop))
    })
}

/// Ends the call once `DTMX_XA_DONE`: the error to reply to dtm with (the first SQL
/// error as `DTMX_DATABASE`, the business SQL's failure, a refused registration, a
/// `DTMX_FAILURE` for a phase 1 fenced by an earlier rollback), `DTMX_OK` when it
/// succeeded. `DTMX_INVALID_ARGUMENT` before the last step (the call stays usable) and
/// when called twice.
#[no_mangle]
pub extern "C" fn dtmx_xa_local_finish(xa: *mut DtmxXaLocal, error: *mut DtmxError) -> DtmxCode {
    guard_code(error, || {
        let x = handle_mut(xa, "xa")?;
        if x.step() != DtmxXaStep::DTMX_XA_DONE {
            return Err(invalid("xa branch finished before its last step"));
        }
        let inner = x.inner.take().ok_or_else(finished)?;
        x.refresh();
        inner.finish()
    })
}

/// Frees an XA call. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_xa_local_free(xa: *mut DtmxXaLocal) {
    guard_plain((), || free_boxed(xa));
}

#[cfg(test)]
mod tests {
    use super::DtmxXaStep::*;
    use super::*;
    use crate::barrier::{dtmx_barrier_table_free, dtmx_barrier_table_new};
    use crate::client::{dtmx_request_method, dtmx_request_url};
    use crate::error::{dtmx_error_free, dtmx_error_set};
    use std::ffi::CStr;

    fn table(dialect: &CStr) -> *mut DtmxBarrierTable {
        dtmx_barrier_table_new(dialect.as_ptr(), std::ptr::null(), std::ptr::null_mut())
    }

    fn s(p: *const c_char) -> String {
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    const ACTION: &CStr = c"dtm=http%3A%2F%2Fdtm%2Fapi%2Fdtmsvr&gid=g1&branch_id=01&trans_type=xa&op=action&phase2_url=http%3A%2F%2Fbusi%2Fxa";

    #[test]
    fn phase_one_runs_the_business_registers_and_prepares() {
        let t = table(c"mysql");
        let mut error = DtmxError::empty();
        let xa = dtmx_xa_local_from_query(ACTION.as_ptr(), t, &mut error);
        dtmx_barrier_table_free(t);
        assert!(!xa.is_null());
        assert_eq!(dtmx_xa_local_phase(xa), DtmxXaPhase::DTMX_XA_PHASE_ACTION);
        assert_eq!(s(dtmx_xa_local_xid(xa)), "g1-01");
        assert_eq!(dtmx_xa_local_step(xa), DTMX_XA_EXECUTE);
        assert_eq!(s(dtmx_xa_local_sql(xa)), "xa start 'g1-01'");
        assert_eq!(dtmx_xa_local_param_count(xa), 0);
        assert_eq!(
            dtmx_xa_local_finish(xa, &mut error),
            DtmxCode::DTMX_INVALID_ARGUMENT
        );
        assert_eq!(
            dtmx_xa_local_feed_affected(xa, 0, &mut error),
            DtmxCode::DTMX_OK
        );
        assert!(s(dtmx_xa_local_sql(xa)).starts_with("insert "));
        assert_eq!(dtmx_xa_local_param_count(xa), 6);
        assert_eq!(s(dtmx_xa_local_param(xa, 1)), "g1");
        assert!(dtmx_xa_local_param(xa, 6).is_null());
        dtmx_xa_local_feed_affected(xa, 1, &mut error);
        assert_eq!(dtmx_xa_local_step(xa), DTMX_XA_RUN_BUSINESS);
        assert!(dtmx_xa_local_sql(xa).is_null());
        assert_eq!(
            dtmx_xa_local_feed_reply(xa, 200, std::ptr::null(), 0, &mut error),
            DtmxCode::DTMX_INVALID_ARGUMENT
        );
        assert_eq!(
            dtmx_xa_local_feed_business(xa, std::ptr::null(), &mut error),
            DtmxCode::DTMX_OK
        );
        assert_eq!(dtmx_xa_local_step(xa), DTMX_XA_SEND);
        let r = dtmx_xa_local_request(xa);
        assert_eq!(s(dtmx_request_method(r)), "POST");
        assert_eq!(
            s(dtmx_request_url(r)),
            "http://dtm/api/dtmsvr/registerBranch"
        );
        let ok = br#"{"dtm_result":"SUCCESS"}"#;
        dtmx_xa_local_feed_reply(xa, 200, ok.as_ptr(), ok.len(), &mut error);
        assert!(dtmx_xa_local_request(xa).is_null());
        assert_eq!(s(dtmx_xa_local_sql(xa)), "xa end 'g1-01'");
        dtmx_xa_local_feed_affected(xa, 0, &mut error);
        assert_eq!(s(dtmx_xa_local_sql(xa)), "xa prepare 'g1-01'");
        dtmx_xa_local_feed_affected(xa, 0, &mut error);
        assert_eq!(dtmx_xa_local_step(xa), DTMX_XA_DONE);
        assert_eq!(dtmx_xa_local_finish(xa, &mut error), DtmxCode::DTMX_OK);
        assert_eq!(
            dtmx_xa_local_finish(xa, &mut error),
            DtmxCode::DTMX_INVALID_ARGUMENT
        );
        dtmx_error_free(&mut error);
        dtmx_xa_local_free(xa);
    }

    #[test]
    fn a_business_failure_rolls_back_and_is_reported() {
        let t = table(c"postgres");
        let mut error = DtmxError::empty();
        let xa = dtmx_xa_local_from_query(ACTION.as_ptr(), t, &mut error);
        dtmx_barrier_table_free(t);
        assert_eq!(s(dtmx_xa_local_sql(xa)), "begin");
        dtmx_xa_local_feed_affected(xa, 0, &mut error);
        dtmx_xa_local_feed_affected(xa, 1, &mut error);
        let mut failure = DtmxError::empty();
        dtmx_error_set(
            &mut failure,
            DtmxCode::DTMX_FAILURE as i32,
            c"no money".as_ptr(),
        );
        dtmx_xa_local_feed_business(xa, &failure, &mut error);
        dtmx_error_free(&mut failure);
        assert_eq!(s(dtmx_xa_local_sql(xa)), "rollback");
        dtmx_xa_local_feed_affected(xa, 0, &mut error);
        assert_eq!(dtmx_xa_local_finish(xa, &mut error), DtmxCode::DTMX_FAILURE);
        assert_eq!(s(error.message), "no money");
        dtmx_error_free(&mut error);
        dtmx_xa_local_free(xa);
    }

    #[test]
    fn sqlite_and_null_are_refused() {
        let t = table(c"sqlite");
        let mut error = DtmxError::empty();
        assert!(dtmx_xa_local_from_query(ACTION.as_ptr(), t, &mut error).is_null());
        assert_eq!(error.code, DtmxCode::DTMX_INVALID_ARGUMENT);
        dtmx_barrier_table_free(t);
        let null: *mut DtmxXaLocal = std::ptr::null_mut();
        assert!(dtmx_xa_local_new(std::ptr::null(), std::ptr::null(), &mut error).is_null());
        assert_eq!(dtmx_xa_local_step(null), DTMX_XA_DONE);
        assert_eq!(
            dtmx_xa_local_feed_affected(null, 1, &mut error),
            DtmxCode::DTMX_INVALID_ARGUMENT
        );
        dtmx_error_free(&mut error);
        dtmx_xa_local_free(null);
    }
}
