//! The 2-phase message processor (PROTOCOL.md §4.3).

use super::caller::BranchCall;
use super::{Cron, Engine, Pass};
use crate::error::DtmError;
use bytes::Bytes;
use dtmx::{BranchOp, MsgCustomData, Outcome, TransStatus};
use futures_util::future::join_all;

impl Engine {
    /// One msg pass: check back a timed-out prepared message, honour the delay, then
    /// deliver every branch not yet delivered.
    pub(super) async fn process_msg(&self, pass: &mut Pass) -> Result<(), DtmError> {
        if pass.trans.status == TransStatus::Prepared {
            if !self.is_timeout(&pass.trans) {
                return Ok(());
            }
            self.check_back(pass).await?;
        }
        if pass.trans.status != TransStatus::Submitted {
            return Ok(());
        }
        let delay = serde_json::from_str::<MsgCustomData>(&pass.trans.custom_data)
            .map(|c| c.delay)
            .unwrap_or_default();
        let due = pass
            .trans
            .create_time
            .saturating_add(delay.saturating_mul(1000));
        if delay > 0 && self.now() < due {
            self.touch_at(pass, due);
            return Ok(());
        }
        let pending: Vec<usize> = (0..pass.branches.len())
            .filter(|&i| {
                let b = &pass.branches[i];
                b.op == BranchOp::Action.as_str() && b.status == TransStatus::Prepared
            })
            .collect();
        let snapshot = pass.trans.clone();
        let mut all_done = true;
        if pass.trans.options.concurrent {
            let calls = pending.iter().map(|&i| {
                let b = &pass.branches[i];
                self.call(&snapshot, BranchCall::of(b))
            });
            let outcomes = join_all(calls).await;
            for (&i, outcome) in pending.iter().zip(outcomes) {
                all_done &= self.record_delivery(pass, i, &outcome).await;
            }
        } else {
            for &i in &pending {
                let outcome = self
                    .call(&snapshot, BranchCall::of(&pass.branches[i]))
                    .await;
                if !self.record_delivery(pass, i, &outcome).await {
                    all_done = false;
                    break;
                }
            }
        }
        if all_done {
            self.change_status(pass, TransStatus::Succeed, String::new())
                .await?;
        }
        Ok(())
    }

    /// Records one delivery; true if the branch is done.
    async fn record_delivery(&self, pass: &mut Pass, index: usize, outcome: &Outcome) -> bool {
        let url = pass.branches[index].url.clone();
        self.after_call(pass, &url, outcome);
        if outcome.is_success() {
            self.record_branch(pass, index, TransStatus::Succeed).await;
            true
        } else {
            tracing::info!(
                gid = pass.trans.gid,
                branch = pass.branches[index].branch_id,
                "msg branch not delivered: {outcome:?}"
            );
            false
        }
    }

    /// Asks the application through `query_prepared` whether a prepared message was
    /// committed locally.
    async fn check_back(&self, pass: &mut Pass) -> Result<(), DtmError> {
        let url = pass.trans.query_prepared.clone();
        let outcome = self
            .call(
                &pass.trans,
                BranchCall {
                    url: &url,
                    body: Bytes::new(),
                    branch_id: "00",
                    op: BranchOp::Msg.as_str(),
                },
            )
            .await;
        match outcome {
            Outcome::Success => {
                self.change_status(pass, TransStatus::Submitted, String::new())
                    .await?
            }
            Outcome::Failure(text) => {
                self.change_status(pass, TransStatus::Failed, text).await?;
            }
            Outcome::Ongoing(_) => self.touch(pass, Cron::Reset),
            Outcome::Unknown(text) => {
                tracing::info!(gid = pass.trans.gid, "msg check-back failed: {text}");
                self.touch(pass, Cron::Backoff);
            }
        }
        Ok(())
    }
}
