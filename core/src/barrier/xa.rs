//! The barrier rows of an XA branch (PROTOCOL.md §4.5).

use super::call::BarrierCall;
use super::sql::{BarrierTable, Row, Statement};
use super::{Barrier, FIRST_BARRIER_ID, REASON_ROLLBACK};

const ACTION: &str = "action";

impl Barrier {
    /// Phase 1 of an XA branch: inside the XA transaction, before the business SQL, insert
    /// the row `(trans_type, gid, branch_id, action, 01, reason=action)`.
    ///
    /// Decisions: `RunBusiness` (row new: run the business SQL, register the branch, end and
    /// prepare), `Duplicate` (the action already ran), `Suspended` (a phase-2 rollback came
    /// first and fenced it: end and roll back the XA transaction, and fail the call). Does
    /// not use the barrier id counter.
    pub fn xa_action_machine(&self, table: &BarrierTable) -> BarrierCall {
        BarrierCall::new(
            table,
            &self.trans_type,
            &self.gid,
            &self.branch_id,
            ACTION,
            FIRST_BARRIER_ID,
        )
    }

    /// After a successful phase-2 rollback (or one that found no such XA transaction):
    /// insert-ignore `(trans_type, gid, branch_id, action, 01, reason=rollback)`, so that a
    /// late phase 1 finds its row taken ([`Barrier::xa_action_machine`] decides `Suspended`). The
    /// affected-row count does not matter.
    pub fn xa_rollback_fence(&self, table: &BarrierTable) -> Statement {
        table.insert_ignore_always(Row {
            trans_type: &self.trans_type,
            gid: &self.gid,
            branch_id: &self.branch_id,
            op: ACTION,
            barrier_id: FIRST_BARRIER_ID,
            reason: REASON_ROLLBACK,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Decision, Dialect, Step};
    use super::*;

    #[test]
    fn late_action_is_fenced() {
        let table = BarrierTable::new(Dialect::Mysql);
        let phase2 = Barrier::new("xa", "g", "01", "rollback").expect("valid");
        let fence = phase2.xa_rollback_fence(&table);
        assert_eq!(fence.params, ["xa", "g", "01", "action", "01", "rollback"]);
        let phase1 = Barrier::new("xa", "g", "01", "action").expect("valid");
        let mut call = phase1.xa_action_machine(&table);
        let Step::Execute(insert) = call.step() else {
            panic!("insert first")
        };
        assert_eq!(insert.params, ["xa", "g", "01", "action", "01", "action"]);
        call.feed_affected(0).expect("insert");
        call.feed_reason(Some("rollback")).expect("reason");
        assert_eq!(call.decision(), Some(Decision::Suspended));
    }
}
