//! The guarded call of one local transaction (PROTOCOL.md §7.4) as a state machine.

use super::sql::{BarrierTable, Row, Statement};
use crate::error::{Error, ErrorKind, Result};
use std::fmt;

/// The op whose row a compensating op inserts to fence it: `cancel` → `try`,
/// `compensate` → `action`, `rollback` → `action`; `None` for every other op.
pub fn origin_op(op: &str) -> Option<&'static str> {
    match op {
        "cancel" => Some("try"),
        "compensate" | "rollback" => Some("action"),
        _ => None,
    }
}

/// True for the ops that a compensating op fences (`try`, `action`).
fn is_fenceable(op: &str) -> bool {
    matches!(op, "try" | "action")
}

/// What the host does once the barrier rows are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// First run of this op: call the business code in the same transaction, commit if it
    /// succeeded, roll back if it failed (the barrier rows go with the rollback).
    RunBusiness,
    /// A compensation whose try/action never ran: skip the business code and commit (the
    /// committed row fences the late try/action). Reply success.
    NullCompensation,
    /// This op already ran: skip the business code and commit. Reply success.
    Duplicate,
    /// A try/action that arrives after its compensation: skip the business code and commit.
    /// Reply success (DTM's answer: the global transaction is rolling back anyway).
    Suspended,
    /// The msg barrier row exists: roll back and fail with kind `Duplicated` (see
    /// [`Decision::error`]).
    MsgDuplicated,
}

impl Decision {
    /// Every decision.
    pub const ALL: [Decision; 5] = [
        Decision::RunBusiness,
        Decision::NullCompensation,
        Decision::Duplicate,
        Decision::Suspended,
        Decision::MsgDuplicated,
    ];

    /// The stable name: `run_business`, `null_compensation`, `duplicate`, `suspended`,
    /// `msg_duplicated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::RunBusiness => "run_business",
            Decision::NullCompensation => "null_compensation",
            Decision::Duplicate => "duplicate",
            Decision::Suspended => "suspended",
            Decision::MsgDuplicated => "msg_duplicated",
        }
    }

    /// Parses a stable name.
    pub fn parse(name: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == name)
    }

    /// True when the business code runs.
    pub fn runs_business(self) -> bool {
        self == Decision::RunBusiness
    }

    /// True when the transaction is committed without running the business code
    /// (`NullCompensation`, `Duplicate`, `Suspended`); `RunBusiness` commits only if the
    /// business code succeeds, `MsgDuplicated` rolls back.
    pub fn commits_without_business(self) -> bool {
        matches!(
            self,
            Decision::NullCompensation | Decision::Duplicate | Decision::Suspended
        )
    }

    /// The error the call returns: `Duplicated` (`DUPLICATED`) for `MsgDuplicated`, none
    /// otherwise.
    pub fn error(self) -> Option<Error> {
        (self == Decision::MsgDuplicated).then(duplicated)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of a msg barrier that already exists.
pub(crate) fn duplicated() -> Error {
    Error::new(ErrorKind::Duplicated, "DUPLICATED")
}

/// What the host does next in a barrier state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<T> {
    /// Run the statement in the transaction and feed back the affected rows
    /// (`feed_affected`).
    Execute(Statement),
    /// Run the query in the transaction and feed back the first column of the first row,
    /// or none when there is no row (`feed_reason`).
    QueryReason(Statement),
    /// Finished: the result.
    Done(T),
}

/// The guarded call of one local transaction: the origin row (for compensating ops), the
/// row of the op, and the decision (PROTOCOL.md §7.4).
///
/// Statements in order: insert-ignore of the origin row (when the op has one), insert-ignore
/// of the op's row; for a `try`/`action` whose row already exists, a query of that row's
/// `reason` tells a duplicate from a suspended call. All run in the caller's transaction.
#[derive(Debug, Clone)]
pub struct BarrierCall {
    op: String,
    barrier_id: String,
    origin: Option<Statement>,
    current: Statement,
    reason: Statement,
    origin_affected: Option<u64>,
    step: Step<Decision>,
}

impl BarrierCall {
    pub(crate) fn new<'a>(
        table: &BarrierTable,
        trans_type: &'a str,
        gid: &'a str,
        branch_id: &'a str,
        op: &'a str,
        barrier_id: &'a str,
    ) -> BarrierCall {
        let row = |op: &'a str, reason: &'a str| Row {
            trans_type,
            gid,
            branch_id,
            op,
            barrier_id,
            reason,
        };
        let origin = origin_op(op).and_then(|origin| table.insert_ignore(row(origin, op)));
        let current = table.insert_ignore_always(row(op, op));
        let step = Step::Execute(origin.clone().unwrap_or_else(|| current.clone()));
        BarrierCall {
            op: op.to_owned(),
            barrier_id: barrier_id.to_owned(),
            origin,
            current,
            reason: table.select_reason(row(op, op)),
            origin_affected: None,
            step,
        }
    }

    /// The barrier id of this call (`01`, `02`, ...).
    pub fn barrier_id(&self) -> &str {
        &self.barrier_id
    }

    /// The op of this call.
    pub fn op(&self) -> &str {
        &self.op
    }

    /// What to do now.
    pub fn step(&self) -> &Step<Decision> {
        &self.step
    }

    /// The decision, once reached.
    pub fn decision(&self) -> Option<Decision> {
        match self.step {
            Step::Done(d) => Some(d),
            _ => None,
        }
    }

    /// Feeds back the rows affected by the statement of [`Step::Execute`] (1 inserted,
    /// 0 already there) and returns the next step. `InvalidArgument` when the current step
    /// is not `Execute`.
    pub fn feed_affected(&mut self, rows: u64) -> Result<&Step<Decision>> {
        if !matches!(self.step, Step::Execute(_)) {
            return Err(unexpected("affected rows", &self.step));
        }
        if self.origin.is_some() && self.origin_affected.is_none() {
            self.origin_affected = Some(rows);
            self.step = Step::Execute(self.current.clone());
            return Ok(&self.step);
        }
        let origin_affected = self.origin_affected.unwrap_or(0);
        self.step = if self.op == super::MSG_OP && rows == 0 {
            Step::Done(Decision::MsgDuplicated)
        } else if self.origin.is_some() && origin_affected > 0 {
            Step::Done(Decision::NullCompensation)
        } else if rows == 0 && is_fenceable(&self.op) {
            Step::QueryReason(self.reason.clone())
        } else if rows == 0 {
            Step::Done(Decision::Duplicate)
        } else {
            Step::Done(Decision::RunBusiness)
        };
        Ok(&self.step)
    }

    /// Feeds back the `reason` read by [`Step::QueryReason`] (`None`: no row) and returns
    /// the final step: the op itself → `Duplicate`; another op (the compensation that
    /// fenced this one) → `Suspended`; no row visible (a snapshot older than the row) →
    /// `Duplicate`, which skips and commits just the same. `InvalidArgument` when the
    /// current step is not `QueryReason`.
    pub fn feed_reason(&mut self, reason: Option<&str>) -> Result<&Step<Decision>> {
        if !matches!(self.step, Step::QueryReason(_)) {
            return Err(unexpected("a reason", &self.step));
        }
        self.step = Step::Done(match reason {
            Some(r) if r != self.op => Decision::Suspended,
            _ => Decision::Duplicate,
        });
        Ok(&self.step)
    }
}

pub(crate) fn unexpected<T>(what: &str, step: &Step<T>) -> Error {
    let expected = match step {
        Step::Execute(_) => "affected rows",
        Step::QueryReason(_) => "a reason",
        Step::Done(_) => "nothing (the call is finished)",
    };
    Error::new(
        ErrorKind::InvalidArgument,
        format!("barrier fed {what} but expects {expected}"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::{Barrier, BarrierTable, Dialect};
    use super::*;

    fn run(op: &str, affected: &[u64], reason: Option<&str>) -> Decision {
        let mut b = Barrier::new("tcc", "g", "01", op).expect("valid");
        let mut call = b.call_machine(&BarrierTable::new(Dialect::Sqlite));
        let mut fed = affected.iter();
        loop {
            match call.step() {
                Step::Execute(_) => {
                    let n = *fed.next().expect("enough affected counts");
                    call.feed_affected(n).expect("execute");
                }
                Step::QueryReason(_) => {
                    call.feed_reason(reason).expect("query");
                }
                Step::Done(d) => {
                    assert!(fed.next().is_none(), "all affected counts used");
                    return *d;
                }
            }
        }
    }

    #[test]
    fn decisions() {
        use Decision::*;
        assert_eq!(run("try", &[1], None), RunBusiness);
        assert_eq!(run("try", &[0], Some("try")), Duplicate);
        assert_eq!(run("try", &[0], Some("cancel")), Suspended);
        assert_eq!(run("try", &[0], None), Duplicate);
        assert_eq!(run("confirm", &[1], None), RunBusiness);
        assert_eq!(run("confirm", &[0], None), Duplicate);
        assert_eq!(run("cancel", &[0, 1], None), RunBusiness);
        assert_eq!(run("cancel", &[1, 1], None), NullCompensation);
        assert_eq!(run("cancel", &[1, 0], None), NullCompensation);
        assert_eq!(run("cancel", &[0, 0], None), Duplicate);
        assert_eq!(run("msg", &[0], None), MsgDuplicated);
        assert_eq!(run("msg", &[1], None), RunBusiness);
        assert_eq!(run("rollback", &[1, 1], None), NullCompensation);
    }

    #[test]
    fn misuse_is_an_error() {
        let mut b = Barrier::new("saga", "g", "01", "action").expect("valid");
        let mut call = b.call_machine(&BarrierTable::new(Dialect::Mysql));
        assert!(call.feed_reason(Some("x")).is_err());
        call.feed_affected(1).expect("execute");
        assert_eq!(call.decision(), Some(Decision::RunBusiness));
        let err = call.feed_affected(1).expect_err("finished");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn decision_names() {
        for d in Decision::ALL {
            assert_eq!(Decision::parse(d.as_str()), Some(d));
        }
        assert_eq!(
            Decision::MsgDuplicated.error().map(|e| e.kind()),
            Some(ErrorKind::Duplicated)
        );
        assert!(Decision::Duplicate.error().is_none());
    }
}
