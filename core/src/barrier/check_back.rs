//! The msg check-back (PROTOCOL.md §7.5): did the local transaction of a msg commit?

use super::call::{unexpected, Step};
use super::sql::{BarrierTable, Row, Statement};
use super::{FIRST_BARRIER_ID, MSG_BRANCH_ID, MSG_OP, REASON_ROLLBACK};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::DtmResult;

/// The check-back of a msg: insert-ignore the msg barrier row `(gid, 00, msg, 01)` with
/// reason `rollback`, then read that row's reason.
///
/// If the business transaction committed, its row (reason `msg`) was there first: the
/// answer is `SUCCESS`. Otherwise the inserted `rollback` row makes the business
/// transaction's own insert conflict from now on (it fails as `Duplicated`), so the answer
/// `FAILURE` is final. Run both statements on the connection in autocommit mode, or in a
/// transaction that is committed afterwards.
#[derive(Debug, Clone)]
pub struct QueryPrepared {
    select: Statement,
    step: Step<DtmResult>,
}

impl QueryPrepared {
    pub(crate) fn new(table: &BarrierTable, trans_type: &str, gid: &str) -> QueryPrepared {
        let row = Row {
            trans_type,
            gid,
            branch_id: MSG_BRANCH_ID,
            op: MSG_OP,
            barrier_id: FIRST_BARRIER_ID,
            reason: REASON_ROLLBACK,
        };
        QueryPrepared {
            select: table.select_reason(row),
            step: Step::Execute(table.insert_ignore_always(row)),
        }
    }

    /// What to do now.
    pub fn step(&self) -> &Step<DtmResult> {
        &self.step
    }

    /// The result, once reached: `Success` or `Failure`.
    pub fn result(&self) -> Option<DtmResult> {
        match self.step {
            Step::Done(r) => Some(r),
            _ => None,
        }
    }

    /// Feeds back the rows affected by the insert (the count does not matter) and returns
    /// the next step, the reason query.
    pub fn feed_affected(&mut self, _rows: u64) -> Result<&Step<DtmResult>> {
        if !matches!(self.step, Step::Execute(_)) {
            return Err(unexpected("affected rows", &self.step));
        }
        self.step = Step::QueryReason(self.select.clone());
        Ok(&self.step)
    }

    /// Feeds back the reason read by the query and returns the result: `rollback` →
    /// `FAILURE`, any other reason → `SUCCESS`. No row at all (which the insert just before
    /// rules out, unless the transaction's snapshot predates it) is a `Database` error, to
    /// be retried.
    pub fn feed_reason(&mut self, reason: Option<&str>) -> Result<&Step<DtmResult>> {
        if !matches!(self.step, Step::QueryReason(_)) {
            return Err(unexpected("a reason", &self.step));
        }
        let result = match reason {
            Some(REASON_ROLLBACK) => DtmResult::Failure,
            Some(_) => DtmResult::Success,
            None => {
                return Err(Error::new(
                    ErrorKind::Database,
                    "msg barrier row not found after insert",
                ))
            }
        };
        self.step = Step::Done(result);
        Ok(&self.step)
    }
}

/// What a check-back handler answers for `result`: success when the msg's local
/// transaction committed, else an error of kind `failure` (dtm then rolls the msg back).
pub fn check_back(gid: &str, result: DtmResult) -> Result<()> {
    match result {
        DtmResult::Success => Ok(()),
        _ => Err(Error::new(
            ErrorKind::Failure,
            format!("the local transaction of msg {gid} did not commit: FAILURE"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Barrier, Dialect};
    use super::*;

    #[test]
    fn check_back_verdicts() {
        let b = Barrier::new("msg", "g", "00", "msg").expect("valid");
        let table = BarrierTable::new(Dialect::Postgres);
        for (reason, want) in [
            ("rollback", DtmResult::Failure),
            ("msg", DtmResult::Success),
        ] {
            let mut q = b.query_prepared_machine(&table);
            let Step::Execute(insert) = q.step() else {
                panic!("insert first")
            };
            assert_eq!(insert.params, ["msg", "g", "00", "msg", "01", "rollback"]);
            q.feed_affected(0).expect("insert");
            let Step::QueryReason(select) = q.step() else {
                panic!("select next")
            };
            assert_eq!(select.params, ["g", "00", "msg", "01"]);
            assert_eq!(
                q.feed_reason(Some(reason)).expect("reason"),
                &Step::Done(want)
            );
        }
        let mut q = b.query_prepared_machine(&table);
        q.feed_affected(1).expect("insert");
        let err = q.feed_reason(None).expect_err("missing row");
        assert_eq!(err.kind(), ErrorKind::Database);
    }
}
