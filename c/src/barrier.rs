//! The sub-transaction barrier for hosts that run its SQL on their own connection, inside
//! their own transaction: tables, barriers, and the step machines of a guarded call, the
//! msg check-back, the XA rows and the Redis scripts. dtmx decides; the host executes.
//!
//! A guarded call is driven like this: while `dtmx_barrier_call_step` is not
//! `DTMX_STEP_DONE`, run `dtmx_barrier_call_sql` with its parameters and feed back the
//! affected rows (`DTMX_STEP_EXECUTE`) or the reason read (`DTMX_STEP_QUERY_REASON`);
//! then act on `dtmx_barrier_call_decision`.

use crate::branch::{branch_of, DtmxBranch};
use crate::error::{DtmxCode, DtmxError};
use crate::ffi::{
    boxed, c_string, free_boxed, guard, guard_code, guard_plain, handle, handle_mut, interned,
    opt_text, owned, pairs, text,
};
use dtmx_bindings::barrier::{
    check_back, render, Barrier, BarrierCall, BarrierTable, Decision, ParamStyle, QueryPrepared,
    RedisCall, RedisQueryPrepared, Statement, Step, REDIS_DEFAULT_EXPIRE,
};
use dtmx_bindings::dtmx::transport::decode_query;
use dtmx_bindings::dtmx::DtmResult;
use dtmx_bindings::error::invalid;
use dtmx_bindings::Result;
use std::ffi::{c_char, CString};

/// A barrier table: a dialect (`mysql`, `postgres`, `sqlite` and their aliases) and a
/// table name. Immutable; may be shared between threads.
pub struct DtmxBarrierTable {
    pub(crate) inner: BarrierTable,
    name: CString,
}

/// The barrier of one branch call: trans type, gid, branch id and op, and a counter of
/// barrier ids. Used by one thread at a time.
pub struct DtmxBarrier {
    pub(crate) inner: Barrier,
    fields: [CString; 4],
}

/// A step machine: a guarded call (`dtmx_barrier_call_machine`,
/// `dtmx_barrier_xa_action_machine`) or a msg check-back
/// (`dtmx_barrier_query_prepared_machine`).
pub struct DtmxBarrierCall {
    machine: Machine,
    statement: Option<DtmxStatement>,
}

/// One SQL statement with its parameters (all strings).
pub struct DtmxStatement {
    pub(crate) sql: CString,
    pub(crate) params: Vec<CString>,
}

/// A Redis barrier script to run with `EVAL script keys args`, and the meaning of its
/// reply.
pub struct DtmxRedisCall {
    inner: RedisMachine,
    script: CString,
    keys: Vec<CString>,
    args: Vec<CString>,
}

/// What a step machine asks for.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmxStepKind {
    /// Run the statement and feed back the affected rows.
    DTMX_STEP_EXECUTE = 0,
    /// Run the query and feed back the `reason` column of its row (NULL: no row).
    DTMX_STEP_QUERY_REASON = 1,
    /// Finished: read the decision or result.
    DTMX_STEP_DONE = 2,
}

/// The decision of a guarded call.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmxDecision {
    /// Not decided yet (or a msg check-back, which has a result instead).
    DTMX_DECISION_NONE = 0,
    /// Run the business code in the transaction; commit if it succeeds.
    DTMX_DECISION_RUN_BUSINESS = 1,
    /// Skip the business code (a compensation with no action before it); commit.
    DTMX_DECISION_NULL_COMPENSATION = 2,
    /// Skip the business code (already done); commit.
    DTMX_DECISION_DUPLICATE = 3,
    /// Skip the business code (its compensation already ran); commit.
    DTMX_DECISION_SUSPENDED = 4,
    /// Roll back: the msg's local transaction already ran (`DTMX_DUPLICATED`).
    DTMX_DECISION_MSG_DUPLICATED = 5,
}

enum Machine {
    Call(BarrierCall),
    Prepared(QueryPrepared),
}

enum RedisMachine {
    Adjust(RedisCall),
    Prepared(RedisQueryPrepared),
}

impl From<Barrier> for DtmxBarrier {
    fn from(inner: Barrier) -> DtmxBarrier {
        let fields = [
            c_string(inner.trans_type()),
            c_string(inner.gid()),
            c_string(inner.branch_id()),
            c_string(inner.op()),
        ];
        DtmxBarrier { inner, fields }
    }
}

impl From<&Statement> for DtmxStatement {
    fn from(s: &Statement) -> DtmxStatement {
        DtmxStatement {
            sql: c_string(&s.sql),
            params: s.params.iter().map(|p| c_string(p)).collect(),
        }
    }
}

impl DtmxBarrierCall {
    fn new(machine: Machine) -> DtmxBarrierCall {
        let mut call = DtmxBarrierCall {
            machine,
            statement: None,
        };
        call.refresh();
        call
    }

    /// Caches the statement of the current step as C strings.
    fn refresh(&mut self) {
        let statement = match &self.machine {
            Machine::Call(c) => step_statement(c.step()),
            Machine::Prepared(q) => step_statement(q.step()),
        };
        self.statement = statement.map(DtmxStatement::from);
    }

    fn kind(&self) -> DtmxStepKind {
        let (execute, query) = match &self.machine {
            Machine::Call(c) => step_kinds(c.step()),
            Machine::Prepared(q) => step_kinds(q.step()),
        };
        match (execute, query) {
            (true, _) => DtmxStepKind::DTMX_STEP_EXECUTE,
            (_, true) => DtmxStepKind::DTMX_STEP_QUERY_REASON,
            _ => DtmxStepKind::DTMX_STEP_DONE,
        }
    }
}

fn step_statement<T>(step: &Step<T>) -> Option<&Statement> {
    match step {
        Step::Execute(s) | Step::QueryReason(s) => Some(s),
        Step::Done(_) => None,
    }
}

fn step_kinds<T>(step: &Step<T>) -> (bool, bool) {
    (
        matches!(step, Step::Execute(_)),
        matches!(step, Step::QueryReason(_)),
    )
}

/// The barrier table `name` (NULL: the dialect's default, `dtm_barrier.barrier` or
/// `barrier` on SQLite) in `dialect`. NULL on error. Free with `dtmx_barrier_table_free`.
#[no_mangle]
pub extern "C" fn dtmx_barrier_table_new(
    dialect: *const c_char,
    name: *const c_char,
    error: *mut DtmxError,
) -> *mut DtmxBarrierTable {
    guard(error, std::ptr::null_mut(), || {
        let inner =
            dtmx_bindings::barrier::table(text(dialect, "dialect")?, opt_text(name, "name")?)?;
        let name = c_string(inner.name());
        Ok(boxed(DtmxBarrierTable { inner, name }))
    })
}

/// The stable name of the table's dialect (`"mysql"`, `"postgres"`, `"sqlite"`). Static.
#[no_mangle]
pub extern "C" fn dtmx_barrier_table_dialect(table: *const DtmxBarrierTable) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        handle(table, "table").map_or(std::ptr::null(), |t| interned(t.inner.dialect().as_str()))
    })
}

/// The table's name. Borrowed from the table.
#[no_mangle]
pub extern "C" fn dtmx_barrier_table_name(table: *const DtmxBarrierTable) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        handle(table, "table").map_or(std::ptr::null(), |t| t.name.as_ptr())
    })
}

/// How many statements create the table (and its schema).
#[no_mangle]
pub extern "C" fn dtmx_barrier_table_ddl_count(table: *const DtmxBarrierTable) -> usize {
    guard_plain(0, || {
        handle(table, "table").map_or(0, |t| t.inner.ddl().len())
    })
}

/// Statement `index` of those that create the table. Owned; NULL when out of range.
#[no_mangle]
pub extern "C" fn dtmx_barrier_table_ddl(
    table: *const DtmxBarrierTable,
    index: usize,
) -> *mut c_char {
    guard_plain(std::ptr::null_mut(), || {
        let ddl = handle(table, "table")
            .map(|t| t.inner.ddl())
            .unwrap_or_default();
        ddl.get(index).map_or(std::ptr::null_mut(), |s| owned(s))
    })
}

/// The insert-ignore statement of a barrier row (6 parameters). Owned.
#[no_mangle]
pub extern "C" fn dtmx_barrier_table_insert_ignore_sql(
    table: *const DtmxBarrierTable,
) -> *mut c_char {
    guard_plain(std::ptr::null_mut(), || {
        handle(table, "table").map_or(std::ptr::null_mut(), |t| {
            owned(&t.inner.insert_ignore_sql())
        })
    })
}

/// The query of a barrier row's reason (4 parameters). Owned.
#[no_mangle]
pub extern "C" fn dtmx_barrier_table_select_reason_sql(
    table: *const DtmxBarrierTable,
) -> *mut c_char {
    guard_plain(std::ptr::null_mut(), || {
        handle(table, "table").map_or(std::ptr::null_mut(), |t| {
            owned(&t.inner.select_reason_sql())
        })
    })
}

/// `sql` (written for the table's dialect) with its placeholders in the driver's `style`:
/// `qmark` (`?`), `format` (`%s`), `dollar` (`$1`) or `numeric` (`:1`). Owned; NULL on
/// error.
#[no_mangle]
pub extern "C" fn dtmx_barrier_table_render(
    table: *const DtmxBarrierTable,
    sql: *const c_char,
    style: *const c_char,
    error: *mut DtmxError,
) -> *mut c_char {
    guard(error, std::ptr::null_mut(), || {
        let t = handle(table, "table")?;
        let style = ParamStyle::parse(text(style, "style")?)?;
        Ok(owned(&render(text(sql, "sql")?, t.inner.dialect(), style)))
    })
}

/// Frees a table. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_barrier_table_free(table: *mut DtmxBarrierTable) {
    guard_plain((), || free_boxed(table));
}

/// The barrier of a branch call from its fields. NULL on error (a field empty or unknown).
/// Free with `dtmx_barrier_free`.
#[no_mangle]
pub extern "C" fn dtmx_barrier_new(
    trans_type: *const c_char,
    gid: *const c_char,
    branch_id: *const c_char,
    op: *const c_char,
    error: *mut DtmxError,
) -> *mut DtmxBarrier {
    guard(error, std::ptr::null_mut(), || {
        let inner = Barrier::new(
            text(trans_type, "trans_type")?,
            text(gid, "gid")?,
            text(branch_id, "branch_id")?,
            text(op, "op")?,
        )?;
        Ok(boxed(DtmxBarrier::from(inner)))
    })
}

/// The barrier of the branch call whose URL had query string `query` (`gid=..&
/// trans_type=..&branch_id=..&op=..`, as dtm sends it). NULL on error.
#[no_mangle]
pub extern "C" fn dtmx_barrier_from_query(
    query: *const c_char,
    error: *mut DtmxError,
) -> *mut DtmxBarrier {
    guard(error, std::ptr::null_mut(), || {
        let inner = Barrier::from_query_pairs(decode_query(text(query, "query")?))?;
        Ok(boxed(DtmxBarrier::from(inner)))
    })
}

/// The barrier from `count` decoded query pairs (`keys[i]`, `values[i]`). NULL on error.
#[no_mangle]
pub extern "C" fn dtmx_barrier_from_query_pairs(
    keys: *const *const c_char,
    values: *const *const c_char,
    count: usize,
    error: *mut DtmxError,
) -> *mut DtmxBarrier {
    guard(error, std::ptr::null_mut(), || {
        let inner = Barrier::from_query_pairs(pairs(keys, values, count)?)?;
        Ok(boxed(DtmxBarrier::from(inner)))
    })
}

/// The barrier of a parsed branch (`dtmx_branch_from_query`, ...): its trans type, gid,
/// branch id and op. NULL on error (a field empty or unknown). Free with
/// `dtmx_barrier_free`.
#[no_mangle]
pub extern "C" fn dtmx_barrier_from_branch(
    branch: *const DtmxBranch,
    error: *mut DtmxError,
) -> *mut DtmxBarrier {
    guard(error, std::ptr::null_mut(), || {
        let inner = Barrier::from_branch(&branch_of(branch)?)?;
        Ok(boxed(DtmxBarrier::from(inner)))
    })
}

/// The barrier from `count` gRPC metadata pairs (`dtm-gid`, ...). NULL on error.
#[no_mangle]
pub extern "C" fn dtmx_barrier_from_grpc_metadata(
    keys: *const *const c_char,
    values: *const *const c_char,
    count: usize,
    error: *mut DtmxError,
) -> *mut DtmxBarrier {
    guard(error, std::ptr::null_mut(), || {
        let inner = Barrier::from_grpc_metadata(pairs(keys, values, count)?)?;
        Ok(boxed(DtmxBarrier::from(inner)))
    })
}

/// The barrier of the local transaction of msg `gid` and of its check-back (trans type
/// `msg`, branch `00`, op `msg`): what `dtmx_msg_do_and_submit` lends its callback, and
/// what a check-back handler checks. NULL on error.
#[no_mangle]
pub extern "C" fn dtmx_barrier_for_msg(
    gid: *const c_char,
    error: *mut DtmxError,
) -> *mut DtmxBarrier {
    guard(error, std::ptr::null_mut(), || {
        Ok(boxed(DtmxBarrier::from(Barrier::for_msg(text(
            gid, "gid",
        )?)?)))
    })
}

/// What a check-back handler answers for the result of a msg check-back on `barrier`
/// (`"SUCCESS"` or `"FAILURE"`, as `dtmx_barrier_call_result` and `dtmx_redis_call_decide`
/// give it): `DTMX_OK` when the local transaction committed, else `DTMX_FAILURE` with the
/// message to answer dtm with (dtm then aborts the msg).
#[no_mangle]
pub extern "C" fn dtmx_barrier_check_back(
    barrier: *const DtmxBarrier,
    result: *const c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let b = handle(barrier, "barrier")?;
        let name = text(result, "result")?;
        let result = DtmResult::parse(name)
            .ok_or_else(|| invalid(format!("unknown check-back result {name:?}")))?;
        check_back(b.inner.gid(), result)
    })
}

/// How long Redis barrier keys live when the caller has no reason to choose: 7 days, as
/// DTM (the default `expire_seconds` of the bindings).
#[no_mangle]
pub extern "C" fn dtmx_barrier_redis_default_expire() -> u64 {
    REDIS_DEFAULT_EXPIRE
}

/// The barrier's trans type. Borrowed from the barrier.
#[no_mangle]
pub extern "C" fn dtmx_barrier_trans_type(barrier: *const DtmxBarrier) -> *const c_char {
    barrier_field(barrier, 0)
}

/// The barrier's gid. Borrowed from the barrier.
#[no_mangle]
pub extern "C" fn dtmx_barrier_gid(barrier: *const DtmxBarrier) -> *const c_char {
    barrier_field(barrier, 1)
}

/// The barrier's branch id. Borrowed from the barrier.
#[no_mangle]
pub extern "C" fn dtmx_barrier_branch_id(barrier: *const DtmxBarrier) -> *const c_char {
    barrier_field(barrier, 2)
}

/// The barrier's op. Borrowed from the barrier.
#[no_mangle]
pub extern "C" fn dtmx_barrier_op(barrier: *const DtmxBarrier) -> *const c_char {
    barrier_field(barrier, 3)
}

fn barrier_field(barrier: *const DtmxBarrier, i: usize) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        handle(barrier, "barrier").map_or(std::ptr::null(), |b| b.fields[i].as_ptr())
    })
}

/// Hands out the next barrier id (`"01"`, `"02"`, ...), as a guarded call does. Owned.
#[no_mangle]
pub extern "C" fn dtmx_barrier_next_barrier_id(barrier: *mut DtmxBarrier) -> *mut c_char {
    guard_plain(std::ptr::null_mut(), || {
        handle_mut(barrier, "barrier")
            .map_or(std::ptr::null_mut(), |b| owned(&b.inner.next_barrier_id()))
    })
}

/// A guarded call: the machine that decides whether the business code runs. Takes the
/// next barrier id. NULL on error. Free with `dtmx_barrier_call_free`.
#[no_mangle]
pub extern "C" fn dtmx_barrier_call_machine(
    barrier: *mut DtmxBarrier,
    table: *const DtmxBarrierTable,
    error: *mut DtmxError,
) -> *mut DtmxBarrierCall {
    guard(error, std::ptr::null_mut(), || {
        let b = handle_mut(barrier, "barrier")?;
        let t = handle(table, "table")?;
        Ok(boxed(DtmxBarrierCall::new(Machine::Call(
            b.inner.call_machine(&t.inner),
        ))))
    })
}

/// The msg check-back: decides `SUCCESS` or `FAILURE` for a prepared message (the
/// barrier's gid). NULL on error.
#[no_mangle]
pub extern "C" fn dtmx_barrier_query_prepared_machine(
    barrier: *const DtmxBarrier,
    table: *const DtmxBarrierTable,
    error: *mut DtmxError,
) -> *mut DtmxBarrierCall {
    made_from(barrier, table, error, |b, t| {
        DtmxBarrierCall::new(Machine::Prepared(b.query_prepared_machine(t)))
    })
}

/// XA phase one: the guarded call of an XA action (barrier id 01). NULL on error.
#[no_mangle]
pub extern "C" fn dtmx_barrier_xa_action_machine(
    barrier: *const DtmxBarrier,
    table: *const DtmxBarrierTable,
    error: *mut DtmxError,
) -> *mut DtmxBarrierCall {
    made_from(barrier, table, error, |b, t| {
        DtmxBarrierCall::new(Machine::Call(b.xa_action_machine(t)))
    })
}

/// The statement to run after an XA rollback, so that a late phase one is fenced off.
/// NULL on error. Free with `dtmx_statement_free`.
#[no_mangle]
pub extern "C" fn dtmx_barrier_xa_rollback_fence(
    barrier: *const DtmxBarrier,
    table: *const DtmxBarrierTable,
    error: *mut DtmxError,
) -> *mut DtmxStatement {
    made_from(barrier, table, error, |b, t| {
        DtmxStatement::from(&b.xa_rollback_fence(t))
    })
}

/// A handle made by `make` from a barrier and a table; NULL on error.
fn made_from<T>(
    barrier: *const DtmxBarrier,
    table: *const DtmxBarrierTable,
    error: *mut DtmxError,
    make: impl FnOnce(&Barrier, &BarrierTable) -> T,
) -> *mut T {
    guard(error, std::ptr::null_mut(), || {
        let b = handle(barrier, "barrier")?;
        let t = handle(table, "table")?;
        Ok(boxed(make(&b.inner, &t.inner)))
    })
}

/// Frees a barrier. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_barrier_free(barrier: *mut DtmxBarrier) {
    guard_plain((), || free_boxed(barrier));
}

/// What the machine asks for now.
#[no_mangle]
pub extern "C" fn dtmx_barrier_call_step(call: *const DtmxBarrierCall) -> DtmxStepKind {
    guard_plain(DtmxStepKind::DTMX_STEP_DONE, || {
        handle(call, "call").map_or(DtmxStepKind::DTMX_STEP_DONE, DtmxBarrierCall::kind)
    })
}

/// The SQL of the current step (NULL when done). Borrowed: valid until the next feed.
#[no_mangle]
pub extern "C" fn dtmx_barrier_call_sql(call: *const DtmxBarrierCall) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        let s = handle(call, "call").ok().and_then(|c| c.statement.as_ref());
        s.map_or(std::ptr::null(), |s| s.sql.as_ptr())
    })
}

/// How many parameters the current step's SQL has (0 when done).
#[no_mangle]
pub extern "C" fn dtmx_barrier_call_param_count(call: *const DtmxBarrierCall) -> usize {
    guard_plain(0, || {
        let s = handle(call, "call").ok().and_then(|c| c.statement.as_ref());
        s.map_or(0, |s| s.params.len())
    })
}

/// Parameter `index` of the current step's SQL (NULL when out of range). Borrowed: valid
/// until the next feed.
#[no_mangle]
pub extern "C" fn dtmx_barrier_call_param(
    call: *const DtmxBarrierCall,
    index: usize,
) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        let s = handle(call, "call").ok().and_then(|c| c.statement.as_ref());
        s.and_then(|s| s.params.get(index))
            .map_or(std::ptr::null(), |p| p.as_ptr())
    })
}

/// Feeds the rows affected by a `DTMX_STEP_EXECUTE` step.
#[no_mangle]
pub extern "C" fn dtmx_barrier_call_feed_affected(
    call: *mut DtmxBarrierCall,
    rows: u64,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let c = handle_mut(call, "call")?;
        let fed = match &mut c.machine {
            Machine::Call(m) => m.feed_affected(rows).map(|_| ()),
            Machine::Prepared(m) => m.feed_affected(rows).map(|_| ()),
        };
        c.refresh();
        fed
    })
}

/// Feeds the reason read by a `DTMX_STEP_QUERY_REASON` step (NULL: no row).
#[no_mangle]
pub extern "C" fn dtmx_barrier_call_feed_reason(
    call: *mut DtmxBarrierCall,
    reason: *const c_char,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || {
        let c = handle_mut(call, "call")?;
        let reason = opt_text(reason, "reason")?;
        let fed = match &mut c.machine {
            Machine::Call(m) => m.feed_reason(reason).map(|_| ()),
            Machine::Prepared(m) => m.feed_reason(reason).map(|_| ()),
        };
        c.refresh();
        fed
    })
}

/// The decision of a finished guarded call (`DTMX_DECISION_NONE` before, and for a msg
/// check-back).
#[no_mangle]
pub extern "C" fn dtmx_barrier_call_decision(call: *const DtmxBarrierCall) -> DtmxDecision {
    guard_plain(DtmxDecision::DTMX_DECISION_NONE, || {
        match handle(call, "call").map(|c| &c.machine) {
            Ok(Machine::Call(m)) => m
                .decision()
                .map_or(DtmxDecision::DTMX_DECISION_NONE, decision),
            _ => DtmxDecision::DTMX_DECISION_NONE,
        }
    })
}

/// The name of the finished machine's result: a decision (`"run_business"`,
/// `"null_compensation"`, `"duplicate"`, `"suspended"`, `"msg_duplicated"`) or a
/// check-back's `"SUCCESS"` / `"FAILURE"`. NULL before. Static.
#[no_mangle]
pub extern "C" fn dtmx_barrier_call_result(call: *const DtmxBarrierCall) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        let name = match handle(call, "call").map(|c| &c.machine) {
            Ok(Machine::Call(m)) => m.decision().map(Decision::as_str),
            Ok(Machine::Prepared(m)) => m.result().map(|r| r.as_str()),
            Err(_) => None,
        };
        name.map_or(std::ptr::null(), interned)
    })
}

/// The error the finished call's decision carries (`DTMX_DUPLICATED` for
/// `msg_duplicated`), written to `error`; `DTMX_OK` when none.
#[no_mangle]
pub extern "C" fn dtmx_barrier_call_check(
    call: *const DtmxBarrierCall,
    error: *mut DtmxError,
) -> DtmxCode {
    guard_code(error, || match &handle(call, "call")?.machine {
        Machine::Call(m) => match m.decision().and_then(Decision::error) {
            Some(e) => Err(e),
            None => Ok(()),
        },
        Machine::Prepared(_) => Ok(()),
    })
}

/// The barrier id the call uses (owned); NULL for a check-back.
#[no_mangle]
pub extern "C" fn dtmx_barrier_call_barrier_id(call: *const DtmxBarrierCall) -> *mut c_char {
    guard_plain(std::ptr::null_mut(), || {
        match handle(call, "call").map(|c| &c.machine) {
            Ok(Machine::Call(m)) => owned(m.barrier_id()),
            _ => std::ptr::null_mut(),
        }
    })
}

/// Frees a step machine. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_barrier_call_free(call: *mut DtmxBarrierCall) {
    guard_plain((), || free_boxed(call));
}

/// The statement's SQL. Borrowed from the statement.
#[no_mangle]
pub extern "C" fn dtmx_statement_sql(statement: *const DtmxStatement) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        handle(statement, "statement").map_or(std::ptr::null(), |s| s.sql.as_ptr())
    })
}

/// How many parameters the statement has.
#[no_mangle]
pub extern "C" fn dtmx_statement_param_count(statement: *const DtmxStatement) -> usize {
    guard_plain(0, || {
        handle(statement, "statement").map_or(0, |s| s.params.len())
    })
}

/// Parameter `index` (NULL when out of range). Borrowed from the statement.
#[no_mangle]
pub extern "C" fn dtmx_statement_param(
    statement: *const DtmxStatement,
    index: usize,
) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        handle(statement, "statement")
            .ok()
            .and_then(|s| s.params.get(index))
            .map_or(std::ptr::null(), |p| p.as_ptr())
    })
}

/// Frees a statement. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_statement_free(statement: *mut DtmxStatement) {
    guard_plain((), || free_boxed(statement));
}

/// The Redis barrier of a TCC/saga branch that adds `amount` to `key` (a guarded call in
/// one script; barrier keys expire after `expire_seconds`). Takes the next barrier id.
/// NULL on error. Free with `dtmx_redis_call_free`.
#[no_mangle]
pub extern "C" fn dtmx_barrier_redis_check_adjust_amount_call(
    barrier: *mut DtmxBarrier,
    key: *const c_char,
    amount: i64,
    expire_seconds: u64,
    error: *mut DtmxError,
) -> *mut DtmxRedisCall {
    guard(error, std::ptr::null_mut(), || {
        let b = handle_mut(barrier, "barrier")?;
        let call =
            b.inner
                .redis_check_adjust_amount_call(text(key, "key")?, amount, expire_seconds)?;
        let (script, keys, args) = redis_parts(call.script(), call.keys(), call.args());
        Ok(boxed(DtmxRedisCall {
            inner: RedisMachine::Adjust(call),
            script,
            keys,
            args,
        }))
    })
}

/// The Redis msg check-back of the barrier's gid. NULL on error.
#[no_mangle]
pub extern "C" fn dtmx_barrier_redis_query_prepared_call(
    barrier: *const DtmxBarrier,
    expire_seconds: u64,
    error: *mut DtmxError,
) -> *mut DtmxRedisCall {
    guard(error, std::ptr::null_mut(), || {
        let b = handle(barrier, "barrier")?;
        let call = b.inner.redis_query_prepared_call(expire_seconds)?;
        let (script, keys, args) = redis_parts(call.script(), call.keys(), call.args());
        Ok(boxed(DtmxRedisCall {
            inner: RedisMachine::Prepared(call),
            script,
            keys,
            args,
        }))
    })
}

/// The script, keys and arguments as C strings.
fn redis_parts(
    script: &str,
    keys: &[String],
    args: &[String],
) -> (CString, Vec<CString>, Vec<CString>) {
    (
        c_string(script),
        keys.iter().map(|k| c_string(k)).collect(),
        args.iter().map(|a| c_string(a)).collect(),
    )
}

/// The Lua script. Borrowed from the call.
#[no_mangle]
pub extern "C" fn dtmx_redis_call_script(call: *const DtmxRedisCall) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        handle(call, "call").map_or(std::ptr::null(), |c| c.script.as_ptr())
    })
}

/// How many keys the script takes.
#[no_mangle]
pub extern "C" fn dtmx_redis_call_key_count(call: *const DtmxRedisCall) -> usize {
    guard_plain(0, || handle(call, "call").map_or(0, |c| c.keys.len()))
}

/// Key `index` (NULL when out of range). Borrowed from the call.
#[no_mangle]
pub extern "C" fn dtmx_redis_call_key(call: *const DtmxRedisCall, index: usize) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        let c = handle(call, "call").ok();
        c.and_then(|c| c.keys.get(index))
            .map_or(std::ptr::null(), |k| k.as_ptr())
    })
}

/// How many arguments the script takes.
#[no_mangle]
pub extern "C" fn dtmx_redis_call_arg_count(call: *const DtmxRedisCall) -> usize {
    guard_plain(0, || handle(call, "call").map_or(0, |c| c.args.len()))
}

/// Argument `index` (NULL when out of range). Borrowed from the call.
#[no_mangle]
pub extern "C" fn dtmx_redis_call_arg(call: *const DtmxRedisCall, index: usize) -> *const c_char {
    guard_plain(std::ptr::null(), || {
        let c = handle(call, "call").ok();
        c.and_then(|c| c.args.get(index))
            .map_or(std::ptr::null(), |a| a.as_ptr())
    })
}

/// What the script's reply (NULL for nil) means: `"applied"`, `"null_compensation"`,
/// `"duplicate"`, `"suspended"`, or a check-back's `"SUCCESS"` / `"FAILURE"`. Static;
/// NULL with the error (a refused amount is `DTMX_FAILURE`).
#[no_mangle]
pub extern "C" fn dtmx_redis_call_decide(
    call: *const DtmxRedisCall,
    reply: *const c_char,
    error: *mut DtmxError,
) -> *const c_char {
    guard(error, std::ptr::null(), || {
        let c = handle(call, "call")?;
        let reply = opt_text(reply, "reply")?;
        let name: Result<&'static str> = match &c.inner {
            RedisMachine::Adjust(m) => m.decide(reply).map(|d| d.as_str()),
            RedisMachine::Prepared(m) => m.decide(reply).map(|r| r.as_str()),
        };
        Ok(interned(name?))
    })
}

/// Frees a Redis call. NULL-safe.
#[no_mangle]
pub extern "C" fn dtmx_redis_call_free(call: *mut DtmxRedisCall) {
    guard_plain((), || free_boxed(call));
}

pub(crate) fn decision(d: Decision) -> DtmxDecision {
    match d {
        Decision::RunBusiness => DtmxDecision::DTMX_DECISION_RUN_BUSINESS,
        Decision::NullCompensation => DtmxDecision::DTMX_DECISION_NULL_COMPENSATION,
        Decision::Duplicate => DtmxDecision::DTMX_DECISION_DUPLICATE,
        Decision::Suspended => DtmxDecision::DTMX_DECISION_SUSPENDED,
        Decision::MsgDuplicated => DtmxDecision::DTMX_DECISION_MSG_DUPLICATED,
    }
}
