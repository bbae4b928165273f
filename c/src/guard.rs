//! The guarded barrier call and the msg check-back as the actions a host carries out on
//! its own database connection (the core's `Guard`): begin, the barrier's statements, the
//! business code, commit or rollback, then return or raise. dtmx decides every action and
//! who owns the database transaction; the host does each one and reports back.
//!
//! ```c
//! DtmxGuard *g = dtmx_guard_new(barrier, table, in_transaction, &error);
//! for (;;) switch (dtmx_guard_action(g)) {
//!   case DTMX_GUARD_BEGIN:        begin, then dtmx_guard_ok (or dtmx_guard_fail)
//!   case DTMX_GUARD_EXECUTE:      run dtmx_guard_sql, dtmx_guard_feed_affected(rows)
//!   case DTMX_GUARD_QUERY_REASON: run it, dtmx_guard_feed_reason(first column or NULL)
//!   case DTMX_GUARD_RUN_BUSINESS: run the business code, keep its value, dtmx_guard_ok
//!   case DTMX_GUARD_COMMIT:       commit, dtmx_guard_ok
//!   case DTMX_GUARD_ROLLBACK:     roll back, dtmx_guard_ok
//!   case DTMX_GUARD_RETURN:       done: the business code's value if it ran, else nothing
//!   case DTMX_GUARD_RAISE:        done: dtmx_guard_error (or the host's own error)
//! }
//! ```

use crate::barrier::{decision, DtmxBarrier, DtmxBarrierTable, DtmxDecision, DtmxStatement};
use crate::error::{DtmxCode, DtmxError};
use crate::ffi::{
    boxed, free_boxed, guard, guard_code, guard_plain, handle, handle_mut, interned, opt_text,
    write_error,
};
use dtmx_bindings::barrier::{Action, Barrier, Guard, Ownership};
use dtmx_bindings::{Error, ErrorKind, Result};
use std::ffi::c_char;

/// One guarded barrier call or one msg check-back on the host's connection. Used by one
/// thread at a time.
pub struct DtmxGuard {
    inner: Guard,
    /// The current statement as C strings (`EXECUTE`, `QUERY_REASON`).
    statement: Option<DtmxStatement>,
    /// The kind and message of the first failure the host reported.
    failure: Option<(ErrorKind, String)>,
}

/// What the host does next.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmxGuardAction {
    /// Begin a transaction on the connection, then `dtmx_guard_ok`.
    DTMX_GUARD_BEGIN = 0,
    /// Run `dtmx_guard_sql` with its parameters, then `dtmx_guard_feed_affected`.
    DTMX_GUARD_EXECUTE = 1,
    /// Run the query, then `dtmx_guard_feed_reason` with the first column of its first
    /// row (NULL: no row).
    DTMX_GUARD_QUERY_REASON = 2,
    /// Run the business code in the transaction (keep its value), then `dtmx_guard_ok`.
    DTMX_GUARD_RUN_BUSINESS = 3,
    /// Commit, then `dtmx_guard_ok`.
    DTMX_GUARD_COMMIT = 4,
    /// Roll back, then `dtmx_guard_ok`.
    DTMX_GUARD_ROLLBACK = 5,
    /// Finished: return the business code's value if it ran (`dtmx_guard_decision` is
    /// `DTMX_DECISION_RUN_BUSINESS`), else nothing.
    DTMX_GUARD_RETURN = 6,
    /// Finished: raise `dtmx_guard_error`, or the host's own error when
    /// `dtmx_guard_raises_failure` says it is the one reported with `dtmx_guard_fail`.
    DTMX_GUARD_RAISE = 7,
}

impl DtmxGuard {
    fn new(inner: Guard) -> DtmxGuard {
        let mut g = DtmxGuard {
            inner,
            statement: None,
            failure: None,
        };
        g.refresh();
        g
    }

    /// Caches the statement of the current action as C strings.
    fn refresh(&mut self) {
        self.statement = match self.inner.action() {
            Action::Execute(s) | Action::QueryReason(s) => Some(DtmxStatement::from(s)),
            _ => None,
        };
    }

    /// Runs `step` on the guard, then refreshes the statement whatever it did.
    fn step(&mut self, step: impl FnOnce(&mut Guard) -> Result<()>) -> Result<()> {
        let done = step(&mut self.inner);
        self.refresh();
        done
    }

    fn action(&self) -> DtmxGuardAction {
        match self.inner.action() {
            Action::Begin => DtmxGuardAction::DTMX_GUARD_BEGIN,
            Action::Execute(_) => DtmxGuardAction::DTMX_GUARD_EXECUTE,
            Action::QueryReason(_) => DtmxGuardAction::DTMX_GUARD_QUERY_REASON,
            Action::RunBusiness => DtmxGuardAction::DTMX_GUARD_RUN_BUSINESS,
            Action::Commit => DtmxGuardAction::DTMX_GUARD_COMMIT,
            Action::Rollback => DtmxGuardAction::DTMX_GUARD_ROLLBACK,
            Action::Return(_) => DtmxGuardAction::DTMX_GUARD_RETURN,
            Action::Raise(_) => DtmxGuardAction::DTMX_GUARD_RAISE,
        }
    }
}

/// The guarded call of `barrier` (takes its next barrier id) on a connection that is
/// inside a transaction or not, as the host's driver says (`in_transaction`): an open
/// transaction is joined (committing or rolling it back stays with the caller), a
/// connection with none gets the barrier's own (begun, committed when the business code
/// returns or is skipped, rolled back when anything raises). NULL on error. Free with
/// `dtmx_guard_free`.
#[no_mangle]
pub extern "C" fn dtmx_guard_new(
    barrier: *mut DtmxBarrier,
    table: *const DtmxBarrierTable,
    in_transaction: bool,
    error: *mut DtmxError,
) -> *mut DtmxGuard {
    guard(error, std::ptr::null_mut(), || {
        let b = handle_mut(barrier, "barrier")?;
        let t = handle(table, "table")?;
        let call = b.inner.call_machine(&t.inner);
        Ok(boxed(DtmxGuard::new(Guard::new(
            call,
            Ownership::for_connection(in_transaction),
        ))))
    })
}

/// The msg check-back of the barrier's gid (the `query_prepared` handler), with the same
/// rule for the transaction as `dtmx_guard_new`. Both answers commit; it ends in
/// `DTMX_GUARD_RETURN` when the msg's local transaction committed, else in
/// `DTMX_GUARD_RAISE` with a `DTMX_FAILURE` (dtm then aborts the msg; the local
/// transaction, should it come late, is a duplicate). NULL on error.
#[no_mangle]
pub extern "C" fn dtmx_guard_check_back(
    barrier: *const DtmxBarrier,
    table: *const DtmxBarrierTable,
    in_transaction: bool,
    error: *mut DtmxError,
) -> *mut DtmxGuard {
    guard(error, std::ptr::null_mut(), || {
        let gid = handle(barrier, "barrier")?.inner.gid();
        let t = handle(table, "table")?;
        let query = Barrier::for_msg(gid)?.query_prepared_machine(&t.inner);
        Ok(boxed(DtmxGuard::new(Guard::check_back(
            query,
            gid,
            Ownership::for_connection(in_transaction),
        ))))
    })
}

/// Who owns the database transaction: `"own"` (the guard begins, commits and rolls back)
/// or `"join"` (the caller's). Static.
#[no_mangle]
pub extern "C" fn dtmx_guard_ownership(guard: *const DtmxGuard) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        handle(guard, "guard").map_or(std::ptr::null(), |g| interned(g.inner.ownership().as_str()))
    })
}

/// What the host does now (`DTMX_GUARD_RAISE` for NULL).
#[no_mangle]
pub extern "C" fn dtmx_guard_action(guard: *const DtmxGuard) -> DtmxGuardAction {
    guard_plain(DtmxGuardAction::DTMX_GUARD_RAISE, || {
        handle(guard, "guard").map_or(DtmxGuardAction::DTMX_GUARD_RAISE, DtmxGuard::action)
    })
}

/// The SQL of `DTMX_GUARD_EXECUTE` and `DTMX_GUARD_QUERY_REASON` (NULL for any other
/// action), in the table's dialect. Borrowed: valid until the guard's action changes.
#[no_mangle]
pub extern "C" fn dtmx_guard_sql(guard: *const DtmxGuard) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        let s = handle(guard, "guard")
            .ok()
            .and_then(|g| g.statement.as_ref());
        s.map_or(std::ptr::null(), |s| s.sql.as_ptr())
    })
}

/// How many parameters the current SQL has (0 when none).
#[no_mangle]
pub extern "C" fn dtmx_guard_param_count(guard: *const DtmxGuard) -> usize {
    guard_plain(0, || {
        let s = handle(guard, "guard")
            .ok()
            .and_then(|g| g.statement.as_ref());
        s.map_or(0, |s| s.params.len())
    })
}

/// Parameter `index` of the current SQL (NULL when out of range). Borrowed: valid until
/// the guard's action changes.
#[no_mangle]
pub extern "C" fn dtmx_guard_param(guard: *const DtmxGuard, index: usize) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        let s = handle(guard, "guard")
            .ok()
            .and_then(|g| g.statement.as_ref());
        s.and_then(|s| s.params.get(index))
            .map_or(std::ptr::null(), |p| p.as_ptr())
    })
}

/// The current action (`DTMX_GUARD_BEGIN`, `_RUN_BUSINESS`, `_COMMIT`, `_ROLLBACK`)
/// succeeded. `DTMX_INVALID_ARGUMENT` for any other action (which stays).
#[no_mangle]
pub extern "C" fn dtmx_guard_ok(guard: *mut DtmxGuard, error: *mut DtmxError) -> DtmxCode {
    guard_code(error, || {
        handle_mut(guard, "guard")?.step(|g| g.ok().map(drop))
    })
}

/// Feeds the rows affected by the statement of `DTMX_GUARD_EXECUTE`.
#[no_mangle]
pub extern "C" fn dtmx_guard_feed_affected(
    guard: *mut DtmxGuard,
    rows: u64,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        handle_mut(guard, "guard")?.step(|g| g.feed_affected(rows).map(drop))
    })
}

/// Feeds the first column of the first row read by `DTMX_GUARD_QUERY_REASON` (NULL: no
/// row).
#[no_mangle]
pub extern "C" fn dtmx_guard_feed_reason(
    guard: *mut DtmxGuard,
    reason: *const c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let reason = opt_text(reason, "reason")?;
        handle_mut(guard, "guard")?.step(|g| g.feed_reason(reason).map(drop))
    })
}

/// The current action raised `failure` (its code and message: the driver's error, or for
/// the host's own exception what `dtmx_error_set_host` makes of it; keep the exception to
/// raise it again). An owned transaction is rolled back next, then the guard raises; a
/// failing rollback is a note on the first error. Returns the next action.
#[no_mangle]
pub extern "C" fn dtmx_guard_fail(
    guard: *mut DtmxGuard,
    failure: *const DtmxError,
) -> DtmxGuardAction {
    guard_plain(DtmxGuardAction::DTMX_GUARD_RAISE, || {
        let Ok(g) = handle_mut(guard, "guard") else {
            return DtmxGuardAction::DTMX_GUARD_RAISE;
        };
        let e = unsafe { failure.as_ref() }
            .and_then(DtmxError::reported)
            .unwrap_or_else(|| {
                Error::new(
                    ErrorKind::Internal,
                    "a barrier action failed without an error",
                )
            });
        if g.failure.is_none() {
            g.failure = Some((e.kind(), e.message().to_string()));
        }
        g.inner.fail(e);
        g.refresh();
        g.action()
    })
}

/// The barrier's decision once reached (`DTMX_DECISION_NONE` before, and for a
/// check-back): `DTMX_DECISION_RUN_BUSINESS` when the business code ran.
#[no_mangle]
pub extern "C" fn dtmx_guard_decision(guard: *const DtmxGuard) -> DtmxDecision {
    guard_plain(DtmxDecision::DTMX_DECISION_NONE, || {
        handle(guard, "guard")
            .ok()
            .and_then(|g| g.inner.decision())
            .map_or(DtmxDecision::DTMX_DECISION_NONE, decision)
    })
}

/// The error of `DTMX_GUARD_RAISE` (its message, notes and status) written to `error`;
/// returns its code. `DTMX_OK` for any other action.
#[no_mangle]
pub extern "C" fn dtmx_guard_error(guard: *const DtmxGuard, error: *mut DtmxError) -> DtmxCode {
    let raised = |g: &DtmxGuard| match g.inner.action() {
        Action::Raise(e) => {
            write_error(error, Some(e));
            DtmxCode::of(e.kind())
        }
        _ => {
            write_error(error, None);
            DtmxCode::DTMX_OK
        }
    };
    guard_plain(DtmxCode::DTMX_INTERNAL, || match handle(guard, "guard") {
        Ok(g) => raised(g),
        Err(e) => {
            write_error(error, Some(&e));
            DtmxCode::of(e.kind())
        }
    })
}

/// Whether `DTMX_GUARD_RAISE` raises the first failure the host reported with
/// `dtmx_guard_fail`: the host then raises its own exception again (with the notes of
/// `dtmx_guard_error`). False for an error dtmx raises itself (`DTMX_DUPLICATED` of a msg
/// that already ran, a check-back's `DTMX_FAILURE`).
#[no_mangle]
pub extern "C" fn dtmx_guard_raises_failure(guard: *const DtmxGuard) -> bool {
    guard_plain(false, || {
        let Ok(g) = handle(guard, "guard") else {
            return false;
        };
        match (g.inner.action(), &g.failure) {
            (Action::Raise(e), Some((kind, message))) => {
                e.kind() == *kind && e.message() == message
            }
            _ => false,
        }
    })
}

/// Frees a guard. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_guard_free(guard: *mut DtmxGuard) {
    guard_plain((), || free_boxed(guard));
}

#[cfg(test)]
mod tests {
    use super::DtmxGuardAction::*;
    use super::*;
    use crate::barrier::{
        dtmx_barrier_for_msg, dtmx_barrier_free, dtmx_barrier_new, dtmx_barrier_table_free,
        dtmx_barrier_table_new,
    };
    use crate::error::{
        dtmx_error_free, dtmx_error_note, dtmx_error_note_count, dtmx_error_set,
        dtmx_error_set_host,
    };
    use std::ffi::{CStr, CString};

    fn c(s: &str) -> CString {
        CString::new(s).expect("C string")
    }

    /// A guard of a new barrier on the SQLite table, the barrier and the table freed.
    fn guard_of(trans_type: &str, op: &str, in_transaction: bool) -> *mut DtmxGuard {
        let table =
            dtmx_barrier_table_new(c("sqlite").as_ptr(), std::ptr::null(), std::ptr::null_mut());
        let branch = if op == "msg" { "00" } else { "01" };
        let barrier = dtmx_barrier_new(
            c(trans_type).as_ptr(),
            c("g").as_ptr(),
            c(branch).as_ptr(),
            c(op).as_ptr(),
            std::ptr::null_mut(),
        );
        let g = dtmx_guard_new(barrier, table, in_transaction, std::ptr::null_mut());
        assert!(!g.is_null());
        dtmx_barrier_free(barrier);
        dtmx_barrier_table_free(table);
        g
    }

    /// The message and notes of `error`.
    fn described(error: &DtmxError) -> (String, Vec<String>) {
        let text = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        let notes = (0..dtmx_error_note_count(error))
            .map(|i| text(dtmx_error_note(error, i)))
            .collect();
        (text(error.message), notes)
    }

    /// Reports a failure set by `set` on the guard; returns the next action.
    fn fail(g: *mut DtmxGuard, set: impl FnOnce(*mut DtmxError)) -> DtmxGuardAction {
        let mut failure = DtmxError::empty();
        set(&mut failure);
        let next = dtmx_guard_fail(g, &failure);
        dtmx_error_free(&mut failure);
        next
    }

    #[test]
    fn an_owned_call_begins_runs_the_business_code_and_commits() {
        let g = guard_of("tcc", "try", false);
        let mut error = DtmxError::empty();
        assert_eq!(unsafe { CStr::from_ptr(dtmx_guard_ownership(g)) }, c"own");
        assert_eq!(dtmx_guard_action(g), DTMX_GUARD_BEGIN);
        assert!(dtmx_guard_sql(g).is_null());
        assert_eq!(dtmx_guard_ok(g, &mut error), DtmxCode::DTMX_OK);
        assert_eq!(dtmx_guard_action(g), DTMX_GUARD_EXECUTE);
        let sql = unsafe { CStr::from_ptr(dtmx_guard_sql(g)) }.to_string_lossy();
        assert!(sql.starts_with("insert into barrier "), "{sql}");
        assert_eq!(dtmx_guard_param_count(g), 6);
        assert_eq!(unsafe { CStr::from_ptr(dtmx_guard_param(g, 1)) }, c"g");
        assert!(dtmx_guard_param(g, 6).is_null());
        assert_eq!(
            dtmx_guard_feed_affected(g, 1, &mut error),
            DtmxCode::DTMX_OK
        );
        assert_eq!(dtmx_guard_action(g), DTMX_GUARD_RUN_BUSINESS);
        assert_eq!(dtmx_guard_ok(g, &mut error), DtmxCode::DTMX_OK);
        assert_eq!(dtmx_guard_action(g), DTMX_GUARD_COMMIT);
        assert_eq!(dtmx_guard_ok(g, &mut error), DtmxCode::DTMX_OK);
        assert_eq!(dtmx_guard_action(g), DTMX_GUARD_RETURN);
        assert_eq!(
            dtmx_guard_decision(g),
            DtmxDecision::DTMX_DECISION_RUN_BUSINESS
        );
        assert_eq!(dtmx_guard_error(g, &mut error), DtmxCode::DTMX_OK);
        assert!(!dtmx_guard_raises_failure(g));
        dtmx_guard_free(g);
    }

    #[test]
    fn the_hosts_failure_is_raised_with_the_failed_rollback_as_a_note() {
        let g = guard_of("saga", "action", false);
        let mut error = DtmxError::empty();
        dtmx_guard_ok(g, &mut error);
        dtmx_guard_feed_affected(g, 1, &mut error);
        let next = fail(g, |e| dtmx_error_set_host(e, c"disk on fire".as_ptr()));
        assert_eq!(next, DTMX_GUARD_ROLLBACK);
        let next = fail(g, |e| {
            dtmx_error_set(e, DtmxCode::DTMX_DATABASE as i32, c"locked".as_ptr())
        });
        assert_eq!(next, DTMX_GUARD_RAISE);
        assert!(dtmx_guard_raises_failure(g));
        assert_eq!(dtmx_guard_error(g, &mut error), DtmxCode::DTMX_DATABASE);
        assert_eq!(
            described(&error),
            (
                "disk on fire".to_string(),
                vec!["rollback failed: database: locked".to_string()]
            )
        );
        dtmx_error_free(&mut error);
        dtmx_guard_free(g);
    }

    #[test]
    fn an_error_of_dtmx_is_raised_rather_than_a_failed_rollback() {
        let g = guard_of("msg", "msg", false);
        let mut error = DtmxError::empty();
        dtmx_guard_ok(g, &mut error);
        dtmx_guard_feed_affected(g, 0, &mut error);
        assert_eq!(dtmx_guard_action(g), DTMX_GUARD_ROLLBACK);
        assert_eq!(
            dtmx_guard_decision(g),
            DtmxDecision::DTMX_DECISION_MSG_DUPLICATED
        );
        let next = fail(g, |e| {
            dtmx_error_set(e, DtmxCode::DTMX_DATABASE as i32, c"locked".as_ptr())
        });
        assert_eq!(next, DTMX_GUARD_RAISE);
        assert!(!dtmx_guard_raises_failure(g));
        assert_eq!(dtmx_guard_error(g, &mut error), DtmxCode::DTMX_DUPLICATED);
        assert_eq!(
            described(&error).1,
            ["rollback failed: database: locked".to_string()]
        );
        dtmx_error_free(&mut error);
        dtmx_guard_free(g);
    }

    #[test]
    fn a_joined_call_leaves_the_transaction_and_misuse_is_refused() {
        let g = guard_of("tcc", "try", true);
        let mut error = DtmxError::empty();
        assert_eq!(unsafe { CStr::from_ptr(dtmx_guard_ownership(g)) }, c"join");
        assert_eq!(dtmx_guard_action(g), DTMX_GUARD_EXECUTE);
        assert_eq!(
            dtmx_guard_ok(g, &mut error),
            DtmxCode::DTMX_INVALID_ARGUMENT
        );
        assert_eq!(dtmx_guard_action(g), DTMX_GUARD_EXECUTE);
        assert_eq!(
            dtmx_guard_feed_affected(g, 1, &mut error),
            DtmxCode::DTMX_OK
        );
        let next = fail(g, |e| {
            dtmx_error_set(e, DtmxCode::DTMX_FAILURE as i32, c"no money".as_ptr())
        });
        assert_eq!(next, DTMX_GUARD_RAISE);
        assert!(dtmx_guard_raises_failure(g));
        assert_eq!(dtmx_guard_error(g, &mut error), DtmxCode::DTMX_FAILURE);
        dtmx_guard_free(g);

        let null = std::ptr::null_mut();
        assert_eq!(dtmx_guard_action(null), DTMX_GUARD_RAISE);
        assert_eq!(
            dtmx_guard_ok(null, &mut error),
            DtmxCode::DTMX_INVALID_ARGUMENT
        );
        assert_eq!(
            dtmx_guard_error(null, &mut error),
            DtmxCode::DTMX_INVALID_ARGUMENT
        );
        dtmx_error_free(&mut error);
        dtmx_guard_free(null);
    }

    #[test]
    fn a_check_back_commits_its_fence_then_raises_the_failure() {
        let table =
            dtmx_barrier_table_new(c("sqlite").as_ptr(), std::ptr::null(), std::ptr::null_mut());
        let barrier = dtmx_barrier_for_msg(c("m1").as_ptr(), std::ptr::null_mut());
        let g = dtmx_guard_check_back(barrier, table, false, std::ptr::null_mut());
        let mut error = DtmxError::empty();
        dtmx_guard_ok(g, &mut error);
        assert_eq!(
            dtmx_guard_feed_affected(g, 1, &mut error),
            DtmxCode::DTMX_OK
        );
        assert_eq!(dtmx_guard_action(g), DTMX_GUARD_QUERY_REASON);
        assert_eq!(
            dtmx_guard_feed_reason(g, c"rollback".as_ptr(), &mut error),
            DtmxCode::DTMX_OK
        );
        assert_eq!(dtmx_guard_action(g), DTMX_GUARD_COMMIT);
        dtmx_guard_ok(g, &mut error);
        assert_eq!(dtmx_guard_action(g), DTMX_GUARD_RAISE);
        assert!(!dtmx_guard_raises_failure(g));
        assert_eq!(dtmx_guard_error(g, &mut error), DtmxCode::DTMX_FAILURE);
        assert_eq!(dtmx_guard_decision(g), DtmxDecision::DTMX_DECISION_NONE);
        dtmx_error_free(&mut error);
        dtmx_guard_free(g);
        dtmx_barrier_free(barrier);
        dtmx_barrier_table_free(table);
    }
}
