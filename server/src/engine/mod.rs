//! The engine: one processor per transaction type, driving the state machines of
//! PROTOCOL.md §4-5, and the cron bookkeeping (retry intervals, backoff) they share.

pub mod allowlist;
pub mod caller;
pub mod grpc_caller;
pub mod http_pool;
mod msg;
mod phase2;
mod saga;
mod workflow;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::DtmError;
use crate::metrics::Metrics;
use crate::store::{BranchRow, CronTouch, StatusChange, Store, StoreError, TransRow};
use crate::trace::{self, SpanKind, TraceContext, Tracer};
use caller::{BranchCall, BranchCaller};
use dtmx::{Outcome, TransStatus, TransType};
use std::sync::Arc;
use std::time::Duration;

/// Shared state of the transaction manager.
pub struct Engine {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub clock: Arc<Clock>,
    pub caller: BranchCaller,
    pub metrics: Arc<Metrics>,
    /// Spans, exported when `Tracing.OtlpEndpoint` is set.
    pub tracer: Tracer,
}

/// One processing pass over a transaction and its branches, held in memory.
pub struct Pass {
    pub trans: TransRow,
    pub branches: Vec<BranchRow>,
    /// Make the final status durable before returning (someone waits for it).
    pub durable: bool,
    /// When the cron fields were last written, Unix milliseconds.
    last_touch: i64,
    /// Branches whose new status has not been handed to the store yet; it rides along
    /// with the next status change or cron touch, or is flushed at the end of the pass.
    dirty: Vec<usize>,
    /// Each branch result is committed before the pass goes on (concurrent sagas and
    /// sagas with a timeout, whose rollback plan depends on every recorded result).
    strict: bool,
    /// Parent of the pass's branch calls: the transaction's stored trace context, or the
    /// span of the request or recovery pass running it.
    pub trace: Option<TraceContext>,
}

/// How the cron fields change after a branch call (PROTOCOL.md §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cron {
    /// Back to the base interval.
    Reset,
    /// Same interval, counted from now.
    Keep,
    /// Interval doubled.
    Backoff,
}

impl Engine {
    /// Creates the engine over a store.
    pub fn new(store: Arc<dyn Store>, config: Arc<Config>, clock: Arc<Clock>) -> Arc<Engine> {
        let caller = BranchCaller::new(
            Duration::from_secs(config.request_timeout as u64),
            config.branch_host_allowlist.clone(),
        );
        let metrics = Arc::new(Metrics::default());
        let tracer = Tracer::new(&config.otlp_endpoint, &config.service_name, metrics.clone());
        Arc::new(Engine {
            store,
            config,
            clock,
            caller,
            metrics,
            tracer,
        })
    }

    /// Current time in Unix milliseconds.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Starts a pass over `trans`, under the trace context stored with it.
    pub fn pass(&self, trans: TransRow, branches: Vec<BranchRow>, durable: bool) -> Pass {
        Pass {
            trace: TraceContext::from_ext_data(&trans.ext_data),
            trans,
            branches,
            durable,
            last_touch: self.now(),
            dirty: Vec::new(),
            strict: false,
        }
    }

    /// Runs a pass of the cron (a recovery pass) inside a `recovery` span below the
    /// transaction's stored context, when spans are exported.
    pub async fn recover(&self, mut pass: Pass) -> Result<(), DtmError> {
        let Some(mut span) = pass
            .trace
            .as_ref()
            .and_then(|p| self.tracer.start("recovery", SpanKind::Internal, Some(p)))
        else {
            return self.process(pass).await;
        };
        span.set("dtm.gid", pass.trans.gid.clone());
        span.set("dtm.trans_type", pass.trans.trans_type.as_str());
        span.set("dtm.status", pass.trans.status.as_str());
        pass.trace = Some(span.context.clone());
        let result = self.process(pass).await;
        if let Err(e) = &result {
            span.fail(e.to_string());
        }
        self.tracer.end(span);
        result
    }

    /// Runs one processing pass and applies PROTOCOL.md §5.1 to report its outcome to a
    /// caller that waits for the result. Branch calls are made under `pass.trace`.
    pub async fn process(&self, pass: Pass) -> Result<(), DtmError> {
        trace::in_pass(pass.trace.clone(), self.process_pass(pass)).await
    }

    async fn process_pass(&self, mut pass: Pass) -> Result<(), DtmError> {
        let submitted_at_entry = pass.trans.status == TransStatus::Submitted;
        let gid = pass.trans.gid.clone();
        let result = match pass.trans.trans_type {
            TransType::Saga => {
                self.process_saga(&mut pass).await;
                Ok(())
            }
            TransType::Msg => self.process_msg(&mut pass).await,
            TransType::Tcc | TransType::Xa => self.process_phase2(&mut pass).await,
            TransType::Workflow => {
                self.process_workflow(&mut pass).await;
                Ok(())
            }
        };
        if let Err(e) = &result {
            tracing::debug!(gid, "pass ended with {e}");
        }
        let left = self.take_dirty(&mut pass);
        let unfinished = !pass.trans.status.is_final();
        if pass.durable && unfinished {
            // The caller reads what this pass wrote: wait until it is committed.
            if let Err(e) = self.store.update_branches(pass.trans.status, left).await {
                tracing::warn!(gid, "cannot record branch results: {e}");
            }
        } else if !left.is_empty() {
            // Queued now and committed with the next batch; nobody waits for it.
            drop(self.store.update_branches(pass.trans.status, left));
        }
        let age = (self.now() - pass.trans.create_time) as f64 / 1000.0;
        self.metrics
            .pass(pass.trans.trans_type.as_str(), result.is_ok(), age);
        result?;
        if submitted_at_entry && pass.trans.status != TransStatus::Succeed {
            let reason = if pass.trans.rollback_reason.is_empty() {
                "wait result not return success"
            } else {
                &pass.trans.rollback_reason
            };
            return Err(DtmError::failure(reason));
        }
        Ok(())
    }

    /// Base retry interval of a transaction, in seconds.
    pub fn base_interval(&self, trans: &TransRow) -> i64 {
        let o = &trans.options;
        if o.retry_interval != 0 {
            o.retry_interval
        } else if o.timeout_to_fail > 0 && o.timeout_to_fail < self.config.retry_interval {
            o.timeout_to_fail
        } else {
            self.config.retry_interval
        }
    }

    /// Effective timeout of a transaction in seconds (0: never).
    fn timeout_secs(&self, trans: &TransRow) -> i64 {
        match trans.options.timeout_to_fail {
            0 if trans.trans_type != TransType::Saga => self.config.timeout_to_fail,
            t => t,
        }
    }

    /// True when the transaction has outlived its timeout.
    fn is_timeout(&self, trans: &TransRow) -> bool {
        let t = self.timeout_secs(trans);
        t > 0 && self.now() - trans.create_time >= t.saturating_mul(1000)
    }

    fn timeout_reason(trans: &TransRow) -> String {
        format!("Timeout after {} seconds", trans.options.timeout_to_fail)
    }

    /// Calls a branch of the pass's transaction, in a client span below the pass's trace
    /// context when spans are exported, else passing that context on unchanged.
    async fn call(&self, trans: &TransRow, call: BranchCall<'_>) -> Outcome {
        let (branch_id, op) = (call.branch_id, call.op);
        let parent = trace::pass_context();
        let mut span = match (&parent, call.url.is_empty()) {
            (Some(p), false) => self.tracer.start("branch", SpanKind::Client, Some(p)),
            _ => None,
        };
        // Only a span needs to know the protocol (the caller works it out itself).
        let grpc = span.is_some() && caller::is_grpc(trans, call.url);
        if let Some(span) = &mut span {
            span.set("dtm.gid", trans.gid.clone());
            span.set("dtm.trans_type", trans.trans_type.as_str());
            span.set("dtm.branch_id", branch_id.to_string());
            span.set("dtm.op", op.to_string());
            let key = if grpc { "rpc.method" } else { "url.full" };
            span.set(key, call.url.to_string());
        }
        let sent = span.as_ref().map(|s| &s.context).or(parent.as_ref());
        let (outcome, code) = self.caller.call(trans, call, sent).await;
        if let Some(mut span) = span {
            if let Some(code) = code {
                let key = if grpc {
                    "rpc.grpc.status_code"
                } else {
                    "http.response.status_code"
                };
                span.set(key, code);
            }
            span.set("dtm.outcome", outcome_name(&outcome));
            if !outcome.is_success() {
                span.fail(format!("{outcome:?}"));
            }
            self.tracer.end(span);
        }
        self.metrics.branch(
            trans.trans_type.as_str(),
            branch_id,
            op,
            outcome.is_success(),
        );
        outcome
    }

    /// Updates the cron fields after a call of the branch at `url` (PROTOCOL.md §5.3), and
    /// raises the alert of §1.7 when retries pile up.
    fn after_call(&self, pass: &mut Pass, url: &str, outcome: &Outcome) {
        let cron = match outcome {
            Outcome::Success => {
                let base = self.base_interval(&pass.trans);
                let interval = pass.trans.next_cron_interval;
                let long_pass = self.now() - pass.last_touch >= 1500;
                if long_pass || (interval > self.config.retry_interval && interval > base) {
                    Cron::Reset
                } else {
                    return;
                }
            }
            Outcome::Ongoing(_) => Cron::Keep,
            Outcome::Failure(_) | Outcome::Unknown(_) => Cron::Backoff,
        };
        self.touch(pass, cron);
        if let (Cron::Backoff, Outcome::Failure(text) | Outcome::Unknown(text)) = (cron, outcome) {
            self.alert(pass, url, text);
        }
    }

    /// Posts the alert webhook (`AlertWebHook`) once a branch has been retried
    /// `AlertRetryLimit` times in a row; failures of the hook are only logged.
    fn alert(&self, pass: &Pass, url: &str, error: &str) {
        let hook = &self.config.alert_web_hook;
        if hook.is_empty() {
            return;
        }
        let base = self.base_interval(&pass.trans).max(1);
        let ratio = (pass.trans.next_cron_interval / base).max(1);
        let retry_count = i64::from(ratio.ilog2());
        if retry_count < self.config.alert_retry_limit {
            return;
        }
        let body = serde_json::json!({
            "gid": pass.trans.gid,
            "status": pass.trans.status.as_str(),
            "branch": url,
            "error": error,
            "retry_count": retry_count,
        });
        let caller = self.caller.clone();
        let hook = hook.clone();
        tokio::spawn(async move {
            if let Err(e) = caller.post_json(&hook, body.to_string()).await {
                tracing::warn!("alert webhook {hook} failed: {e}");
            }
        });
    }

    /// Writes new cron fields for the pass's transaction.
    fn touch(&self, pass: &mut Pass, cron: Cron) {
        let now = self.now();
        let interval = match cron {
            Cron::Reset => self.base_interval(&pass.trans),
            Cron::Keep => pass.trans.next_cron_interval.max(1),
            Cron::Backoff => pass.trans.next_cron_interval.max(1).saturating_mul(2),
        };
        let next_time = now.saturating_add(interval.saturating_mul(1000));
        pass.last_touch = now;
        self.write_cron(pass, interval, next_time);
    }

    /// Pushes the next cron run of the pass's transaction to `at` (Unix ms), keeping the
    /// interval.
    fn touch_at(&self, pass: &mut Pass, at: i64) {
        self.write_cron(pass, pass.trans.next_cron_interval, at);
    }

    fn write_cron(&self, pass: &mut Pass, interval: i64, next_time: i64) {
        let now = self.now();
        let branches = self.take_dirty(pass);
        let t = &mut pass.trans;
        t.next_cron_interval = interval;
        t.next_cron_time = next_time;
        t.update_time = now;
        self.store.touch_cron(CronTouch {
            gid: t.gid.clone(),
            status: t.status,
            interval,
            next_time,
            now,
            branches,
        });
    }

    /// Branch rows changed in memory and not yet handed to the store.
    fn take_dirty(&self, pass: &mut Pass) -> Vec<BranchRow> {
        let dirty = std::mem::take(&mut pass.dirty);
        dirty
            .into_iter()
            .map(|i| pass.branches[i].clone())
            .collect()
    }

    /// Compare-and-set of the global status of the pass's transaction. Transitions that
    /// others act on (`aborting`, and the final status when someone waits) are durable.
    async fn change_status(
        &self,
        pass: &mut Pass,
        status: TransStatus,
        rollback_reason: String,
    ) -> Result<(), StoreError> {
        let durable = status == TransStatus::Aborting || pass.durable;
        let change = StatusChange {
            rollback_reason,
            branches: self.take_dirty(pass),
            ..StatusChange::to(status, self.now())
        };
        let (gid, old) = (pass.trans.gid.clone(), pass.trans.status);
        change.apply(&mut pass.trans);
        if let Err(e) = self.store.change_status(&gid, old, change, durable).await {
            pass.trans.status = old;
            return Err(e);
        }
        Ok(())
    }

    /// Records a branch's new status in memory, and in the store: committed before this
    /// returns in strict passes, else riding along with the next write of the pass.
    async fn record_branch(&self, pass: &mut Pass, index: usize, status: TransStatus) {
        let now = self.now();
        let b = &mut pass.branches[index];
        b.status = status;
        b.update_time = now;
        match status {
            TransStatus::Succeed => b.finish_time = Some(now),
            TransStatus::Failed => b.rollback_time = Some(now),
            _ => {}
        }
        if pass.strict {
            let row = vec![b.clone()];
            if let Err(e) = self.store.update_branches(pass.trans.status, row).await {
                tracing::warn!(gid = pass.trans.gid, "cannot record branch {index}: {e}");
            }
        } else {
            pass.dirty.push(index);
        }
    }
}

/// The `dtm.outcome` attribute of a branch call span.
fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::Failure(_) => "failure",
        Outcome::Ongoing(_) => "ongoing",
        Outcome::Unknown(_) => "error",
    }
}
