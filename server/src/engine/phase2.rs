//! Phase 2 of TCC (PROTOCOL.md §4.4) and XA (§4.5): confirm or commit every registered
//! branch on submit, cancel or roll back on abort or timeout.

use super::caller::BranchCall;
use super::{Engine, Pass};
use crate::error::DtmError;
use dtmx::{BranchOp, Outcome, TransStatus, TransType};

impl Engine {
    /// One tcc/xa pass. A prepared transaction that timed out starts rolling back.
    pub(super) async fn process_phase2(&self, pass: &mut Pass) -> Result<(), DtmError> {
        if pass.trans.status == TransStatus::Prepared && self.is_timeout(&pass.trans) {
            let reason = Engine::timeout_reason(&pass.trans);
            self.change_status(pass, TransStatus::Aborting, reason)
                .await?;
        }
        let (op, done) = match pass.trans.status {
            TransStatus::Submitted => (self.forward_op(pass), TransStatus::Succeed),
            TransStatus::Aborting => (self.backward_op(pass), TransStatus::Failed),
            _ => return Ok(()),
        };
        // TCC runs its branches from the last registered to the first; XA in order.
        let mut rows: Vec<usize> = (0..pass.branches.len())
            .filter(|&i| pass.branches[i].op == op.as_str())
            .collect();
        if pass.trans.trans_type == TransType::Tcc {
            rows.reverse();
        }
        let snapshot = pass.trans.clone();
        for i in rows {
            if pass.branches[i].status == TransStatus::Succeed {
                continue;
            }
            let outcome = self
                .call(&snapshot, BranchCall::of(&pass.branches[i]))
                .await;
            let url = pass.branches[i].url.clone();
            self.after_call(pass, &url, &outcome);
            match outcome {
                Outcome::Success => self.record_branch(pass, i, TransStatus::Succeed).await,
                Outcome::Ongoing(text) => return Err(DtmError::Ongoing(text)),
                Outcome::Failure(text) | Outcome::Unknown(text) => {
                    return Err(DtmError::Server(format!(
                        "{} {} of branch {} not done, will retry: {text}",
                        pass.trans.trans_type, op, pass.branches[i].branch_id
                    )))
                }
            }
        }
        self.change_status(pass, done, String::new()).await?;
        Ok(())
    }

    fn forward_op(&self, pass: &Pass) -> BranchOp {
        match pass.trans.trans_type {
            TransType::Tcc => BranchOp::Confirm,
            _ => BranchOp::Commit,
        }
    }

    fn backward_op(&self, pass: &Pass) -> BranchOp {
        match pass.trans.trans_type {
            TransType::Tcc => BranchOp::Cancel,
            _ => BranchOp::Rollback,
        }
    }
}
