//! The global transactions: `DtmxSaga`, `DtmxMsg` and `DtmxTcc`. Each handle is used by one
//! thread at a time (it may move between threads); its calls block until dtm answers.

use crate::barrier::DtmxBarrier;
use crate::branch::{branch_of, DtmxBranch};
use crate::client::{options, DtmxClient};
use crate::drive::{drive, reported, Body};
use crate::error::{DtmxCode, DtmxError};
use crate::ffi::{
    boxed, c_string, free_boxed, guard, guard_code, guard_plain, handle, handle_mut, opt_text,
    owned, text,
};
use dtmx_bindings::barrier::Barrier;
use dtmx_bindings::dtmx::tm::{Msg, Saga, Tcc, Xa};
use dtmx_bindings::dtmx::Branch;
use dtmx_bindings::dtmx::HttpResponse;
use dtmx_bindings::error::invalid;
use dtmx_bindings::runtime::block_on;
use dtmx_bindings::{Client, Options, Result};
use std::ffi::{c_char, c_void, CStr, CString};
use std::future::Future;

/// A core builder and its gid as a C string: what every transaction handle holds.
struct Held<T> {
    inner: T,
    gid: CString,
}

/// Makes a transaction handle: `build` gets the client, the gid (`None`: a local one) and
/// the options; `gid` reads the gid of what it built; `wrap` makes the handle.
fn new_trans<T, H>(
    client: *const DtmxClient,
    gid: *const c_char,
    options_json: *const c_char,
    error: *mut DtmxError,
    build: fn(&Client, Option<&str>, &Options) -> Result<T>,
    gid_of: fn(&T) -> &str,
    wrap: fn(Held<T>) -> H,
) -> *mut H {
    guard(error, std::ptr::null_mut(), || {
        let c = &handle(client, "client")?.inner;
        let inner = build(c, opt_text(gid, "gid")?, &options(options_json)?)?;
        let gid = c_string(gid_of(&inner));
        Ok(boxed(wrap(Held { inner, gid })))
    })
}

/// The gid held by the handle behind `h` (borrowed), NULL for NULL.
fn gid_of<H>(h: *const H, held: fn(&H) -> &CString) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        handle(h, "handle").map_or(std::ptr::null(), |h| held(h).as_ptr())
    })
}

/// Runs the call `call` makes on the handle behind `h` to completion.
fn wait<'a, H, F>(
    h: *const H,
    what: &str,
    error: *mut DtmxError,
    call: impl FnOnce(&'a H) -> F,
) -> DtmxCode
where
    H: 'a,
    F: Future<Output = Result<()>>,
{
    guard_code(error, || block_on(call(handle(h, what)?)))
}

/// The bytes of a payload (NULL: none). They are checked by the core: a payload that is
/// not UTF-8 text is `DTMX_INVALID_ARGUMENT` (`invalid payload of ...`).
fn payload<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        &[]
    } else {
        unsafe { CStr::from_ptr(p) }.to_bytes()
    }
}

/// The body of a branch's reply, as an owned C string.
fn reply_body(reply: Result<HttpResponse>) -> Result<*mut c_char> {
    Ok(owned(&String::from_utf8_lossy(&reply?.body)))
}

/// A saga: steps of an action and its compensation, run in order (or as ordered with
/// `dtmx_saga_add_branch_order`) by dtm after `dtmx_saga_submit`.
pub struct DtmxSaga(Held<Saga>);

/// A two-phase message: steps dtm runs once the local transaction committed.
pub struct DtmxMsg(Held<Msg>);

/// A TCC global transaction: the caller's `try` calls, then dtm's confirms or cancels.
pub struct DtmxTcc(Held<Tcc>);

/// An XA global transaction: the caller's branch calls (each an XA transaction of the
/// branch's database), then dtm's commits or rollbacks.
pub struct DtmxXa(Held<Xa>);

/// The host's local transaction of `dtmx_msg_do_and_submit`: run the local work guarded by
/// `barrier` (lent for the call) in one database transaction; report a failure with
/// `dtmx_error_set` on `error` (`DTMX_FAILURE`: the message is aborted; any other code:
/// the check-back URL decides), or `dtmx_error_set_host` for the host's own exception.
pub type DtmxBusiFn =
    Option<extern "C" fn(user: *mut c_void, barrier: *mut DtmxBarrier, error: *mut DtmxError)>;

/// The body of `dtmx_tcc_run`: the try calls, made with `dtmx_tcc_call_branch` on `tcc`
/// (lent for the call: do not free or keep it). Report a failure with `dtmx_error_set` on
/// `error` (a try refused: `DTMX_FAILURE`), or `dtmx_error_set_host` for the host's own
/// exception; the transaction is then aborted.
pub type DtmxTccBodyFn =
    Option<extern "C" fn(user: *mut c_void, tcc: *const DtmxTcc, error: *mut DtmxError)>;

/// The body of `dtmx_xa_run`: the branch calls, made with `dtmx_xa_call_branch` on `xa`
/// (lent for the call). Report a failure as for `DtmxTccBodyFn`.
pub type DtmxXaBodyFn =
    Option<extern "C" fn(user: *mut c_void, xa: *const DtmxXa, error: *mut DtmxError)>;

/// A saga with `gid` (NULL or empty: a new local gid) and `options` (JSON text such as
/// `{"wait_result":true,"retry_limit":3,"branch_headers":{"X":"1"}}`, or NULL). NULL on
/// error. Free with `dtmx_saga_free`.
#[no_mangle]
pub extern "C" fn dtmx_saga_new(
    client: *const DtmxClient,
    gid: *const c_char,
    options_json: *const c_char,
    error: *mut DtmxError,
) -> *mut DtmxSaga {
    new_trans(
        client,
        gid,
        options_json,
        error,
        Client::saga,
        Saga::gid,
        DtmxSaga,
    )
}

/// The saga's gid. Borrowed from the saga.
#[no_mangle]
pub extern "C" fn dtmx_saga_gid(saga: *const DtmxSaga) -> *const c_char {
    gid_of(saga, |h| &h.0.gid)
}

/// Adds a step: dtm POSTs `payload_json` (JSON text; NULL: none) to `action`, and to
/// `compensate` (may be empty) when the saga rolls back. A payload that is not UTF-8
/// fails the submit (`DTMX_INVALID_ARGUMENT`, `invalid payload ...`).
#[no_mangle]
pub extern "C" fn dtmx_saga_add(
    saga: *mut DtmxSaga,
    action: *const c_char,
    compensate: *const c_char,
    payload_json: *const c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let s = handle_mut(saga, "saga")?;
        s.0.inner.add(
            text(action, "action")?,
            opt_text(compensate, "compensate")?.unwrap_or(""),
            payload(payload_json),
        );
        Ok(())
    })
}

/// Makes step `branch` (0-based) wait for the `count` steps in `pre_branches` (concurrent
/// sagas).
#[no_mangle]
pub extern "C" fn dtmx_saga_add_branch_order(
    saga: *mut DtmxSaga,
    branch: usize,
    pre_branches: *const usize,
    count: usize,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let s = handle_mut(saga, "saga")?;
        if count > 0 && pre_branches.is_null() {
            return Err(invalid("pre_branches must not be NULL"));
        }
        let pre = if count == 0 {
            &[][..]
        } else {
            unsafe { std::slice::from_raw_parts(pre_branches, count) }
        };
        s.0.inner.add_branch_order(branch, pre);
        Ok(())
    })
}

/// Lets dtm run the steps concurrently (in the order given by `dtmx_saga_add_branch_order`).
#[no_mangle]
pub extern "C" fn dtmx_saga_enable_concurrent(
    saga: *mut DtmxSaga,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        handle_mut(saga, "saga")?.0.inner.enable_concurrent();
        Ok(())
    })
}

/// Submits the saga; blocks until dtm accepted it. With `wait_result`, until it finished:
/// `DTMX_FAILURE` (status `failed`, the rollback reason as message) when it rolled back,
/// `DTMX_UNFINISHED` (status `submitted`, `aborting` or `prepared`: `dtmx_error_status`)
/// when dtm is still retrying it; dtm goes on with it then.
#[no_mangle]
pub extern "C" fn dtmx_saga_submit(saga: *const DtmxSaga, error: *mut DtmxError) -> DtmxCode {
    wait(saga, "saga", error, |s: &DtmxSaga| s.0.inner.submit())
}

/// Frees a saga. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_saga_free(saga: *mut DtmxSaga) {
    guard_plain((), || free_boxed(saga));
}

/// A two-phase message with `gid` (NULL or empty: a new local gid) and `options` (JSON
/// text or NULL, as for `dtmx_saga_new`). NULL on error. Free with `dtmx_msg_free`.
#[no_mangle]
pub extern "C" fn dtmx_msg_new(
    client: *const DtmxClient,
    gid: *const c_char,
    options_json: *const c_char,
    error: *mut DtmxError,
) -> *mut DtmxMsg {
    new_trans(
        client,
        gid,
        options_json,
        error,
        Client::msg,
        Msg::gid,
        DtmxMsg,
    )
}

/// The message's gid. Borrowed from the message.
#[no_mangle]
pub extern "C" fn dtmx_msg_gid(msg: *const DtmxMsg) -> *const c_char {
    gid_of(msg, |h| &h.0.gid)
}

/// Adds a step: dtm POSTs `payload_json` (JSON text; NULL: none) to `action`. A payload
/// that is not UTF-8 fails the submit (`invalid payload ...`).
#[no_mangle]
pub extern "C" fn dtmx_msg_add(
    msg: *mut DtmxMsg,
    action: *const c_char,
    payload_json: *const c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let m = handle_mut(msg, "msg")?;
        m.0.inner
            .add(text(action, "action")?, payload(payload_json));
        Ok(())
    })
}

/// Adds a step for every subscriber of `topic` (the payload as for `dtmx_msg_add`).
#[no_mangle]
pub extern "C" fn dtmx_msg_add_topic(
    msg: *mut DtmxMsg,
    topic: *const c_char,
    payload_json: *const c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let m = handle_mut(msg, "msg")?;
        m.0.inner
            .add_topic(text(topic, "topic")?, payload(payload_json));
        Ok(())
    })
}

/// Delays the steps by `seconds` after the submit.
#[no_mangle]
pub extern "C" fn dtmx_msg_set_delay(
    msg: *mut DtmxMsg,
    seconds: u64,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        handle_mut(msg, "msg")?.0.inner.set_delay(seconds);
        Ok(())
    })
}

/// Lets dtm run the steps concurrently.
#[no_mangle]
pub extern "C" fn dtmx_msg_enable_concurrent(msg: *mut DtmxMsg, error: *mut DtmxError) -> DtmxCode {
    guard_code(error, || {
        handle_mut(msg, "msg")?.0.inner.enable_concurrent();
        Ok(())
    })
}

/// Phase one: registers the message as prepared; dtm asks `query_prepared` whether the
/// local transaction committed if no submit or abort follows.
#[no_mangle]
pub extern "C" fn dtmx_msg_prepare(
    msg: *mut DtmxMsg,
    query_prepared: *const c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let m = handle_mut(msg, "msg")?;
        let url = text(query_prepared, "query_prepared")?;
        block_on(m.0.inner.prepare(url))
    })
}

/// Phase two: submits the message; dtm runs its steps (with `wait_result`: the errors of
/// `dtmx_saga_submit`).
#[no_mangle]
pub extern "C" fn dtmx_msg_submit(msg: *mut DtmxMsg, error: *mut DtmxError) -> DtmxCode {
    guard_code(error, || block_on(handle_mut(msg, "msg")?.0.inner.submit()))
}

/// Aborts a prepared message.
#[no_mangle]
pub extern "C" fn dtmx_msg_abort(msg: *mut DtmxMsg, error: *mut DtmxError) -> DtmxCode {
    wait(msg, "msg", error, |m: &DtmxMsg| m.0.inner.abort())
}

/// Prepares the message, calls `busi(user, barrier, error)` to run the local transaction,
/// then submits it, as every dtmx binding does. When `busi` reports `DTMX_FAILURE` the
/// message is aborted; after any other error (`dtmx_error_set_host` for the host's own
/// exceptions) the check-back URL decides: aborted, submitted, or left to dtm. The error
/// of `busi` is returned as it set it, and what failed after it (the abort, the
/// check-back, the submit) is a note on it (`dtmx_error_note`). Without an error from
/// `busi`, the submit's error is returned (with `wait_result`: `DTMX_FAILURE` with status
/// `failed`, or `DTMX_UNFINISHED`). `busi` runs on the calling thread and may make
/// blocking dtmx calls.
#[no_mangle]
pub extern "C" fn dtmx_msg_do_and_submit(
    msg: *mut DtmxMsg,
    query_prepared: *const c_char,
    busi: DtmxBusiFn,
    user: *mut c_void,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let m = handle_mut(msg, "msg")?;
        let url = text(query_prepared, "query_prepared")?;
        let busi = busi.ok_or_else(|| invalid("busi must not be NULL"))?;
        let body = Body::new();
        let run = m.0.inner.do_and_submit(url, |branch| body.run(branch));
        drive(&body, run, |branch: Branch| {
            let barrier = Barrier::new(
                &branch.trans_type,
                &branch.gid,
                &branch.branch_id,
                &branch.op,
            )?;
            let mut barrier = DtmxBarrier::from(barrier);
            reported(|err| busi(user, &mut barrier, err))
        })
    })
}

/// Frees a message. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_msg_free(msg: *mut DtmxMsg) {
    guard_plain((), || free_boxed(msg));
}

/// A TCC global transaction with `gid` (NULL or empty: a new local gid) and `options`
/// (JSON text or NULL). NULL on error. Free with `dtmx_tcc_free`.
#[no_mangle]
pub extern "C" fn dtmx_tcc_new(
    client: *const DtmxClient,
    gid: *const c_char,
    options_json: *const c_char,
    error: *mut DtmxError,
) -> *mut DtmxTcc {
    new_trans(
        client,
        gid,
        options_json,
        error,
        Client::tcc,
        Tcc::gid,
        DtmxTcc,
    )
}

/// A TCC nested in the try branch `branch` (what `dtmx_branch_from_query` read from the
/// try call's query: `dtm`, `gid`, `branch_id`, `trans_type`): its branches are
/// sub-branches of that one, registered with the server the branch names. Nothing to
/// prepare, submit or abort. NULL on error. Free with `dtmx_tcc_free`.
#[no_mangle]
pub extern "C" fn dtmx_client_tcc_from_branch(
    client: *const DtmxClient,
    branch: *const DtmxBranch,
    error: *mut DtmxError,
) -> *mut DtmxTcc {
    guard(error, std::ptr::null_mut(), || {
        let c = &handle(client, "client")?.inner;
        let inner = c.tcc_from_branch(&branch_of(branch)?)?;
        let gid = c_string(inner.gid());
        Ok(boxed(DtmxTcc(Held { inner, gid })))
    })
}

/// The transaction's gid. Borrowed from the transaction.
#[no_mangle]
pub extern "C" fn dtmx_tcc_gid(tcc: *const DtmxTcc) -> *const c_char {
    gid_of(tcc, |h| &h.0.gid)
}

/// The id of the last branch `dtmx_tcc_call_branch` created (`"00"` before the first).
/// Owned; NULL when `tcc` is NULL.
#[no_mangle]
pub extern "C" fn dtmx_tcc_current_branch_id(tcc: *const DtmxTcc) -> *mut c_char {
    guard_plain(std::ptr::null_mut(), || {
        handle(tcc, "tcc").map_or(std::ptr::null_mut(), |t| {
            owned(&t.0.inner.current_branch_id())
        })
    })
}

/// Registers the global transaction with dtm.
#[no_mangle]
pub extern "C" fn dtmx_tcc_prepare(tcc: *const DtmxTcc, error: *mut DtmxError) -> DtmxCode {
    wait(tcc, "tcc", error, |t: &DtmxTcc| t.0.inner.prepare())
}

/// Registers a branch (`confirm`, `cancel`) and calls its `try` URL with `payload_json`
/// (JSON text; NULL: none). Returns the try's reply body (owned), or NULL with the error
/// (`DTMX_FAILURE` when the branch refused: abort the transaction).
#[no_mangle]
pub extern "C" fn dtmx_tcc_call_branch(
    tcc: *const DtmxTcc,
    payload_json: *const c_char,
    try_url: *const c_char,
    confirm_url: *const c_char,
    cancel_url: *const c_char,
    error: *mut DtmxError,
) -> *mut c_char {
    guard(error, std::ptr::null_mut(), || {
        let t = handle(tcc, "tcc")?;
        reply_body(block_on(t.0.inner.call_branch(
            payload(payload_json),
            text(try_url, "try_url")?,
            text(confirm_url, "confirm_url")?,
            text(cancel_url, "cancel_url")?,
        )))
    })
}

/// Submits: dtm confirms every branch (with `wait_result`: the errors of
/// `dtmx_saga_submit`).
#[no_mangle]
pub extern "C" fn dtmx_tcc_submit(tcc: *const DtmxTcc, error: *mut DtmxError) -> DtmxCode {
    wait(tcc, "tcc", error, |t: &DtmxTcc| t.0.inner.submit())
}

/// Aborts with `reason` (NULL: none): dtm cancels every branch.
#[no_mangle]
pub extern "C" fn dtmx_tcc_abort(
    tcc: *const DtmxTcc,
    reason: *const c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let t = handle(tcc, "tcc")?;
        let reason = opt_text(reason, "reason")?.unwrap_or("");
        block_on(t.0.inner.abort(reason))
    })
}

/// Runs a whole TCC transaction, as every dtmx binding does: prepares it, calls
/// `body(user, tcc, error)` (the try calls), then submits; when the body reports an
/// error, aborts with its message as the rollback reason. See `dtmx_xa_run` for what is
/// returned.
#[no_mangle]
pub extern "C" fn dtmx_tcc_run(
    tcc: *const DtmxTcc,
    body: DtmxTccBodyFn,
    user: *mut c_void,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let t = handle(tcc, "tcc")?;
        let body_fn = body.ok_or_else(|| invalid("body must not be NULL"))?;
        let body = Body::new();
        drive(&body, t.0.inner.run(|h| body.run(h)), |inner: Tcc| {
            let gid = c_string(inner.gid());
            let lent = DtmxTcc(Held { inner, gid });
            reported(|err| body_fn(user, &lent, err))
        })
    })
}

/// Frees a TCC transaction. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_tcc_free(tcc: *mut DtmxTcc) {
    guard_plain((), || free_boxed(tcc));
}

/// An XA global transaction with `gid` (NULL or empty: a new local gid) and `options`
/// (JSON text or NULL). NULL on error. Free with `dtmx_xa_free`.
#[no_mangle]
pub extern "C" fn dtmx_xa_new(
    client: *const DtmxClient,
    gid: *const c_char,
    options_json: *const c_char,
    error: *mut DtmxError,
) -> *mut DtmxXa {
    new_trans(
        client,
        gid,
        options_json,
        error,
        Client::xa,
        Xa::gid,
        DtmxXa,
    )
}

/// The transaction's gid. Borrowed from the transaction.
#[no_mangle]
pub extern "C" fn dtmx_xa_gid(xa: *const DtmxXa) -> *const c_char {
    gid_of(xa, |h| &h.0.gid)
}

/// The id of the last branch `dtmx_xa_call_branch` created (`"00"` before the first).
/// Owned; NULL when `xa` is NULL.
#[no_mangle]
pub extern "C" fn dtmx_xa_current_branch_id(xa: *const DtmxXa) -> *mut c_char {
    guard_plain(std::ptr::null_mut(), || {
        handle(xa, "xa").map_or(std::ptr::null_mut(), |t| {
            owned(&t.0.inner.current_branch_id())
        })
    })
}

/// Registers the global transaction with dtm.
#[no_mangle]
pub extern "C" fn dtmx_xa_prepare(xa: *const DtmxXa, error: *mut DtmxError) -> DtmxCode {
    wait(xa, "xa", error, |t: &DtmxXa| t.0.inner.prepare())
}

/// Calls a branch's `url` with `payload_json` (JSON text; NULL: none; phase one runs
/// there). Returns the reply body (owned), or NULL with the error (`DTMX_FAILURE`: abort
/// the transaction).
#[no_mangle]
pub extern "C" fn dtmx_xa_call_branch(
    xa: *const DtmxXa,
    payload_json: *const c_char,
    url: *const c_char,
    error: *mut DtmxError,
) -> *mut c_char {
    guard(error, std::ptr::null_mut(), || {
        let t = handle(xa, "xa")?;
        reply_body(block_on(
            t.0.inner
                .call_branch(payload(payload_json), text(url, "url")?),
        ))
    })
}

/// Submits: dtm commits every branch (with `wait_result`: the errors of
/// `dtmx_saga_submit`).
#[no_mangle]
pub extern "C" fn dtmx_xa_submit(xa: *const DtmxXa, error: *mut DtmxError) -> DtmxCode {
    wait(xa, "xa", error, |t: &DtmxXa| t.0.inner.submit())
}

/// Aborts: dtm rolls every branch back.
#[no_mangle]
pub extern "C" fn dtmx_xa_abort(xa: *const DtmxXa, error: *mut DtmxError) -> DtmxCode {
    wait(xa, "xa", error, |t: &DtmxXa| t.0.inner.abort())
}

/// Runs a whole XA transaction, as every dtmx binding does: prepares it, calls
/// `body(user, xa, error)` (the branch calls), then submits; when the body reports an
/// error, aborts.
///
/// Returns `DTMX_OK` once the submit succeeded. When the body reported an error, that
/// error is returned as the body set it (its code and message), whatever happens after:
/// an abort that failed is a note on it (`dtmx_error_note`). Otherwise the error of the
/// prepare or the submit; with `wait_result`, a submit dtm refused is `DTMX_FAILURE` when
/// the transaction rolled back (status `failed`) and `DTMX_UNFINISHED` when dtm is still
/// retrying it (`dtmx_error_status`). The body runs on the calling thread and may make
/// blocking dtmx calls.
#[no_mangle]
pub extern "C" fn dtmx_xa_run(
    xa: *const DtmxXa,
    body: DtmxXaBodyFn,
    user: *mut c_void,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let t = handle(xa, "xa")?;
        let body_fn = body.ok_or_else(|| invalid("body must not be NULL"))?;
        let body = Body::new();
        drive(&body, t.0.inner.run(|h| body.run(h)), |inner: Xa| {
            let gid = c_string(inner.gid());
            let lent = DtmxXa(Held { inner, gid });
            reported(|err| body_fn(user, &lent, err))
        })
    })
}

/// Frees an XA transaction. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_xa_free(xa: *mut DtmxXa) {
    guard_plain((), || free_boxed(xa));
}
