//! The saga processor (PROTOCOL.md §4.2, §5.8).
//!
//! Branch rows are stored two per step, `[compensate, action]`: row `2s` is the
//! compensation of step `s` and row `2s + 1` its action.

use super::caller::BranchCall;
use super::{Engine, Pass};
use crate::store::TransRow;
use dtmx::{Outcome, SagaCustomData, TransStatus};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// The longest wait for one branch completion before re-checking the deadline.
const WAIT_STEP: Duration = Duration::from_secs(3);

/// Step orders of a saga: prerequisites and dependents per step.
struct Plan {
    concurrent: bool,
    /// `orders[s]`: steps whose actions must succeed before step `s` starts.
    orders: Vec<Vec<usize>>,
    /// `dependents[p]`: steps that list `p` in their orders.
    dependents: Vec<Vec<usize>>,
}

impl Plan {
    fn new(custom_data: &str, steps: usize) -> Plan {
        let custom: SagaCustomData = if custom_data.is_empty() {
            SagaCustomData::default()
        } else {
            serde_json::from_str(custom_data).unwrap_or_default()
        };
        let mut orders = vec![Vec::new(); steps];
        let mut dependents = vec![Vec::new(); steps];
        for (step, pre) in &custom.orders {
            let Ok(s) = step.parse::<usize>() else {
                continue;
            };
            if s >= steps {
                continue;
            }
            for &p in pre.iter().filter(|&&p| p < steps) {
                orders[s].push(p);
                dependents[p].push(s);
            }
        }
        Plan {
            concurrent: custom.concurrent,
            orders,
            dependents,
        }
    }
}

/// Working view of the branch statuses during a pass.
struct Board {
    status: Vec<TransStatus>,
    started: Vec<bool>,
}

impl Board {
    fn succeeded(&self, row: usize) -> bool {
        self.status[row] == TransStatus::Succeed
    }

    /// The action row `a` may start: its predecessor (sequential mode) and its
    /// prerequisites have succeeded.
    fn can_run(&self, plan: &Plan, a: usize) -> bool {
        let step = a / 2;
        if !plan.concurrent && a >= 2 && !self.succeeded(a - 2) {
            return false;
        }
        plan.orders[step].iter().all(|&p| self.succeeded(2 * p + 1))
    }

    fn launchable_action(&self, plan: &Plan, a: usize) -> bool {
        !self.started[a] && self.status[a] == TransStatus::Prepared && self.can_run(plan, a)
    }

    /// Step of compensate row `c` needs no (more) compensation.
    fn rolled_back(&self, c: usize) -> bool {
        self.succeeded(c) || self.status[c + 1] == TransStatus::Prepared
    }

    /// Compensate row `c` may start: later steps (sequential) and dependents are rolled back.
    fn can_rollback(&self, plan: &Plan, c: usize) -> bool {
        let n = self.status.len();
        if self.rolled_back(c) {
            return false;
        }
        if !plan.concurrent && c + 2 < n && !self.rolled_back(c + 2) {
            return false;
        }
        plan.dependents[c / 2]
            .iter()
            .all(|&d| self.rolled_back(2 * d))
    }
}

type Call<'a> = Pin<Box<dyn Future<Output = (usize, Outcome)> + Send + 'a>>;

impl Engine {
    /// One saga pass. Never fails: whatever is unfinished is left for the cron.
    pub(super) async fn process_saga(&self, pass: &mut Pass) {
        let started_at = Instant::now();
        let deadline = started_at + Duration::from_secs(self.config.request_timeout as u64 + 2);
        if pass.trans.status == TransStatus::Submitted && self.is_timeout(&pass.trans) {
            let reason = Engine::timeout_reason(&pass.trans);
            if self
                .change_status(pass, TransStatus::Aborting, reason)
                .await
                .is_err()
            {
                return;
            }
        }
        let n = pass.branches.len() / 2 * 2;
        let plan = Plan::new(&pass.trans.custom_data, n / 2);
        pass.strict = plan.concurrent || pass.trans.options.timeout_to_fail > 0;
        let mut board = Board {
            status: pass.branches[..n].iter().map(|b| b.status).collect(),
            started: vec![false; n],
        };
        let snapshot = pass.trans.clone();
        let to_start = (1..n)
            .step_by(2)
            .filter(|&a| board.status[a] == TransStatus::Prepared)
            .count();
        let mut failed_reason: Option<String> = None;
        let mut any_failed = (1..n)
            .step_by(2)
            .any(|a| board.status[a] == TransStatus::Failed);
        let mut succeeded = 0;
        let mut retries = 0;
        let retry_limit = pass.trans.options.retry_limit;

        // Forward phase: run actions as their orders allow.
        {
            let mut running: FuturesUnordered<Call> = FuturesUnordered::new();
            let launch = |row: usize, pass: &Pass| self.launch(&snapshot, pass, row);
            while Instant::now() < deadline
                && pass.trans.status == TransStatus::Submitted
                && !any_failed
                && !self.is_timeout(&pass.trans)
            {
                for a in (1..n).step_by(2) {
                    if board.launchable_action(&plan, a) {
                        board.started[a] = true;
                        running.push(launch(a, pass));
                    }
                }
                if running.is_empty() {
                    break;
                }
                let wait = deadline
                    .saturating_duration_since(Instant::now())
                    .min(WAIT_STEP);
                let Ok(Some((a, outcome))) = tokio::time::timeout(wait, running.next()).await
                else {
                    continue;
                };
                // An action's FAILURE is its final result (the branch becomes `failed`), not
                // an error to back off from (PROTOCOL.md §1.6, §5.3).
                let cron_outcome = match outcome {
                    Outcome::Failure(_) => &Outcome::Success,
                    ref other => other,
                };
                let url = pass.branches[a].url.clone();
                self.after_call(pass, &url, cron_outcome);
                match outcome {
                    Outcome::Success => {
                        self.record_branch(pass, a, TransStatus::Succeed).await;
                        board.status[a] = TransStatus::Succeed;
                        succeeded += 1;
                    }
                    Outcome::Failure(text) => {
                        self.record_branch(pass, a, TransStatus::Failed).await;
                        board.status[a] = TransStatus::Failed;
                        any_failed = true;
                        failed_reason = Some(format!(
                            "url:{} return failed: {text}",
                            pass.branches[a].url
                        ));
                    }
                    Outcome::Ongoing(text) | Outcome::Unknown(text) => {
                        tracing::info!(gid = pass.trans.gid, branch = a, "action not done: {text}");
                        if retry_limit > 0 {
                            if retries < retry_limit {
                                retries += 1;
                                running.push(launch(a, pass));
                            } else {
                                let reason = format!(
                                    "RetryCount is greater than RetryLimit, RetryLimit: {retry_limit}"
                                );
                                if self
                                    .change_status(pass, TransStatus::Aborting, reason)
                                    .await
                                    .is_err()
                                {
                                    return;
                                }
                            }
                        }
                    }
                }
            }
        }

        if pass.trans.status == TransStatus::Submitted && !any_failed && succeeded == to_start {
            if let Err(e) = self
                .change_status(pass, TransStatus::Succeed, String::new())
                .await
            {
                tracing::warn!(gid = pass.trans.gid, "cannot finish saga: {e}");
            }
            return;
        }
        if pass.trans.status == TransStatus::Submitted {
            let reason = if any_failed {
                Some(failed_reason.unwrap_or_else(|| "fail message lost".into()))
            } else if self.is_timeout(&pass.trans) {
                Some(Engine::timeout_reason(&pass.trans))
            } else {
                None
            };
            if let Some(reason) = reason {
                if self
                    .change_status(pass, TransStatus::Aborting, reason)
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        if pass.trans.status != TransStatus::Aborting {
            return;
        }

        // Backward phase: compensate every step that may have taken effect.
        for a in (1..n).step_by(2) {
            if board.launchable_action(&plan, a) {
                board.started[a] = true;
            }
        }
        for a in (1..n).step_by(2) {
            if board.started[a] && board.status[a] == TransStatus::Prepared {
                board.status[a] = TransStatus::Succeed;
            }
        }
        let c_to_start = (0..n)
            .step_by(2)
            .filter(|&c| !board.succeeded(c) && board.status[c + 1] != TransStatus::Prepared)
            .count();
        let mut c_started = vec![false; n];
        let mut c_succeeded = 0;
        let mut c_done = 0;
        let mut running: FuturesUnordered<Call> = FuturesUnordered::new();
        while Instant::now() < deadline && c_done < c_to_start {
            for c in (0..n).step_by(2).rev() {
                if !c_started[c]
                    && board.status[c] == TransStatus::Prepared
                    && board.can_rollback(&plan, c)
                {
                    c_started[c] = true;
                    running.push(self.launch(&snapshot, pass, c));
                }
            }
            if running.is_empty() {
                break;
            }
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .min(WAIT_STEP);
            let Ok(Some((c, outcome))) = tokio::time::timeout(wait, running.next()).await else {
                continue;
            };
            let url = pass.branches[c].url.clone();
            self.after_call(pass, &url, &outcome);
            c_done += 1;
            if outcome.is_success() {
                self.record_branch(pass, c, TransStatus::Succeed).await;
                board.status[c] = TransStatus::Succeed;
                c_succeeded += 1;
            } else {
                tracing::info!(
                    gid = pass.trans.gid,
                    branch = c,
                    "compensation not done: {outcome:?}"
                );
            }
        }
        if c_succeeded == c_to_start {
            if let Err(e) = self
                .change_status(pass, TransStatus::Failed, String::new())
                .await
            {
                tracing::warn!(gid = pass.trans.gid, "cannot fail saga: {e}");
            }
        }
    }

    /// The call of branch row `row` as a future yielding the row and its outcome; it owns
    /// what it needs from the row, so the pass can change while calls run.
    fn launch<'a>(&'a self, trans: &'a TransRow, pass: &Pass, row: usize) -> Call<'a> {
        let b = &pass.branches[row];
        let (url, body, branch_id, op) = (
            b.url.clone(),
            b.bin_data.clone(),
            b.branch_id.clone(),
            b.op.clone(),
        );
        Box::pin(async move {
            let call = BranchCall {
                url: &url,
                body,
                branch_id: &branch_id,
                op: &op,
            };
            (row, self.call(trans, call).await)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_reads_orders() {
        let plan = Plan::new(
            r#"{"concurrent":true,"orders":{"1":[0],"9":[0],"2":[7]}}"#,
            3,
        );
        assert!(plan.concurrent);
        assert_eq!(plan.orders[1], vec![0]);
        assert_eq!(plan.dependents[0], vec![1]);
        assert!(plan.orders[2].is_empty());
    }

    #[test]
    fn sequential_rules() {
        let plan = Plan::new("", 2);
        let board = Board {
            status: vec![TransStatus::Prepared; 4],
            started: vec![false; 4],
        };
        assert!(board.can_run(&plan, 1));
        assert!(!board.can_run(&plan, 3));
        assert!(!board.can_rollback(&plan, 0));
    }
}
