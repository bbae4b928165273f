//! The service layer: every DTM operation, whichever front door (HTTP, gRPC or JSON-RPC,
//! which all decode into the same calls) it arrives through (PROTOCOL.md §1.3).

use crate::engine::Engine;
use crate::error::DtmError;
use crate::store::{BranchRow, ScanQuery, StatusChange, StoreError, TransRow};
use crate::topics::TOPIC_PREFIX;
use crate::trace::{Span, SpanKind, TraceContext};
use bytes::Bytes;
use dtmx::protocol::strip;
use dtmx::{
    branch_id, BranchOp, MsgCustomData, Protocol, SagaCustomData, TransRequest, TransStatus,
    TransType,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Longest gid accepted (the SQL schema's `varchar(128)`).
pub const MAX_GID_LEN: usize = 128;

/// Default page size of `all`.
pub const DEFAULT_PAGE: i64 = 100;

/// The DTM operations over one engine.
#[derive(Clone)]
pub struct Service {
    pub engine: Arc<Engine>,
}

/// A validated request: the transaction row and the branches it generates.
struct NewTrans {
    row: TransRow,
    branches: Vec<BranchRow>,
}

impl Service {
    /// Creates the service layer.
    pub fn new(engine: Arc<Engine>) -> Self {
        Service { engine }
    }

    /// A new 22-character gid.
    pub fn new_gid(&self) -> String {
        crate::gid::new_gid()
    }

    /// `prepare`: records a transaction in `prepared`; idempotent while it stays prepared.
    /// `trace` is the request's trace context (`traceparent`), stored with a new
    /// transaction.
    pub async fn prepare(
        &self,
        req: TransRequest,
        trace: Option<TraceContext>,
    ) -> Result<(), DtmError> {
        self.prepare_bin(req, Vec::new(), trace).await
    }

    /// `prepare` with binary step payloads (gRPC `BinPayloads`), which come before the
    /// text payloads of `req`.
    pub async fn prepare_bin(
        &self,
        mut req: TransRequest,
        bin_payloads: Vec<Bytes>,
        trace: Option<TraceContext>,
    ) -> Result<(), DtmError> {
        req.strip_unsafe_chars();
        let (span, stored) = self.request_span("prepare", &req, trace);
        let result = self.prepare_new(&req, &bin_payloads, stored).await;
        self.end_span(span, &result);
        result
    }

    async fn prepare_new(
        &self,
        req: &TransRequest,
        bin_payloads: &[Bytes],
        trace: Option<TraceContext>,
    ) -> Result<(), DtmError> {
        let mut new = self.build(req, bin_payloads, TransStatus::Prepared).await?;
        store_trace(&mut new.row, trace.as_ref());
        match self.engine.store.save_new(new.row, new.branches).await {
            Ok(_) => Ok(()),
            Err(StoreError::UniqueConflict) => {
                let stored = self.must_find(&req.gid).await?;
                if stored.status == TransStatus::Prepared {
                    Ok(())
                } else {
                    Err(DtmError::failure(format!(
                        "current status '{}', cannot prepare.",
                        stored.status
                    )))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `submit`: records (or promotes a prepared) transaction and processes it. `trace`
    /// is the request's trace context (`traceparent`): stored with a new transaction and
    /// the parent of this submit's branch calls.
    pub async fn submit(
        &self,
        req: TransRequest,
        trace: Option<TraceContext>,
    ) -> Result<(), DtmError> {
        self.submit_bin(req, Vec::new(), trace).await
    }

    /// `submit` with binary step payloads (gRPC `BinPayloads`), which come before the
    /// text payloads of `req`.
    pub async fn submit_bin(
        &self,
        mut req: TransRequest,
        bin_payloads: Vec<Bytes>,
        trace: Option<TraceContext>,
    ) -> Result<(), DtmError> {
        req.strip_unsafe_chars();
        let (span, stored) = self.request_span("submit", &req, trace);
        let result = if req.trans_type == TransType::Workflow.as_str() {
            self.submit_workflow(&req).await
        } else {
            let calls = span.as_ref().map(|s| s.context.clone());
            self.submit_new(&req, &bin_payloads, stored, calls).await
        };
        self.end_span(span, &result);
        result
    }

    /// Submit of a saga, msg, tcc or xa; `trace` is stored with a new transaction, and
    /// `calls` (the submit's span) is the parent of the branch calls when spans are on.
    async fn submit_new(
        &self,
        req: &TransRequest,
        bin_payloads: &[Bytes],
        trace: Option<TraceContext>,
        calls: Option<TraceContext>,
    ) -> Result<(), DtmError> {
        let mut new = self
            .build(req, bin_payloads, TransStatus::Submitted)
            .await?;
        store_trace(&mut new.row, trace.as_ref());
        let wait = req.options.wait_result;
        let (trans, branches) = match self
            .engine
            .store
            .save_new(new.row.clone(), new.branches.clone())
            .await
        {
            Ok(id) => (TransRow { id, ..new.row }, new.branches),
            Err(StoreError::UniqueConflict) => self.resubmit(req).await?,
            Err(e) => return Err(e.into()),
        };
        let mut pass = self.engine.pass(trans, branches, wait);
        if let Some(context) = calls.or(trace) {
            pass.trace = Some(context);
        }
        if wait {
            self.engine.process(pass).await
        } else {
            let engine = self.engine.clone();
            tokio::spawn(async move {
                let gid = pass.trans.gid.clone();
                if let Err(e) = engine.process(pass).await {
                    tracing::debug!(gid, "background pass: {e}");
                }
            });
            Ok(())
        }
    }

    /// Submit of a gid that exists: promote `prepared`, re-run `submitted`, refuse others.
    /// The first pass after a promotion uses the request's options and custom data.
    async fn resubmit(&self, req: &TransRequest) -> Result<(TransRow, Vec<BranchRow>), DtmError> {
        let mut stored = self.must_find(&req.gid).await?;
        match stored.status {
            TransStatus::Prepared => {
                let change = StatusChange {
                    custom_data: req.custom_data.clone(),
                    ..StatusChange::to(TransStatus::Submitted, self.engine.now())
                };
                self.engine
                    .store
                    .change_status(&stored.gid, TransStatus::Prepared, change.clone(), true)
                    .await
                    .map_err(|e| match e {
                        StoreError::NotFound => DtmError::failure(format!(
                            "current status changed while submitting {}",
                            stored.gid
                        )),
                        e => e.into(),
                    })?;
                change.apply(&mut stored);
                stored.options = req.options.clone();
            }
            TransStatus::Submitted => {}
            other => {
                return Err(DtmError::failure(format!(
                    "current status '{other}', cannot submit."
                )))
            }
        }
        let branches = self.engine.store.find_branches(&stored.gid).await?;
        Ok((stored, branches))
    }

    /// `prepareWorkflow`: creates a prepared workflow, or returns the stored one (any
    /// status) with its recorded progress. `trace` is stored with a new workflow.
    pub async fn prepare_workflow(
        &self,
        mut req: TransRequest,
        trace: Option<TraceContext>,
    ) -> Result<(TransRow, Vec<BranchRow>), DtmError> {
        req.strip_unsafe_chars();
        let (span, stored) = self.request_span("prepareWorkflow", &req, trace);
        let result = self.prepare_workflow_new(&req, stored).await;
        self.end_span(span, &result);
        result
    }

    async fn prepare_workflow_new(
        &self,
        req: &TransRequest,
        trace: Option<TraceContext>,
    ) -> Result<(TransRow, Vec<BranchRow>), DtmError> {
        let mut new = self.build(req, &[], TransStatus::Prepared).await?;
        store_trace(&mut new.row, trace.as_ref());
        match self
            .engine
            .store
            .save_new(new.row.clone(), Vec::new())
            .await
        {
            Ok(id) => Ok((TransRow { id, ..new.row }, Vec::new())),
            Err(StoreError::UniqueConflict) => {
                let stored = self.must_find(&req.gid).await?;
                let branches = self.engine.store.find_branches(&req.gid).await?;
                Ok((stored, branches))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Workflow submit: the client reports the final status (`req_extra.status`), with the
    /// rollback reason and the base64 result.
    async fn submit_workflow(&self, req: &TransRequest) -> Result<(), DtmError> {
        let extra = |k: &str| req.req_extra.get(k).cloned().unwrap_or_default();
        let status = match TransStatus::parse(&extra("status")) {
            Some(s @ (TransStatus::Succeed | TransStatus::Failed)) => s,
            _ => {
                return Err(DtmError::BadRequest(format!(
                    "workflow submit needs req_extra.status succeed or failed, got {:?}",
                    extra("status")
                )))
            }
        };
        let stored = self.must_find(&req.gid).await?;
        if stored.trans_type != TransType::Workflow {
            return Err(DtmError::failure(format!(
                "{} is a {}, not a workflow",
                req.gid, stored.trans_type
            )));
        }
        let change = StatusChange {
            rollback_reason: extra("rollback_reason"),
            result: extra("result"),
            ..StatusChange::to(status, self.engine.now())
        };
        Ok(self
            .engine
            .store
            .change_status(&req.gid, TransStatus::Prepared, change, true)
            .await?)
    }

    /// `abort`: fails a prepared msg; rolls back a prepared or aborting tcc/xa. The
    /// rollback calls are made under `trace` (the request's context) when given, else
    /// under the context stored with the transaction.
    pub async fn abort(
        &self,
        mut req: TransRequest,
        trace: Option<TraceContext>,
    ) -> Result<(), DtmError> {
        req.strip_unsafe_chars();
        let stored = self.must_find(&req.gid).await?;
        let Some(parent) = trace.or_else(|| TraceContext::from_ext_data(&stored.ext_data)) else {
            return self.abort_stored(&req, stored, None).await;
        };
        let (span, parent) = self.request_span("abort", &req, Some(parent));
        let calls = span.as_ref().map(|s| s.context.clone()).or(parent);
        let result = self.abort_stored(&req, stored, calls).await;
        self.end_span(span, &result);
        result
    }

    async fn abort_stored(
        &self,
        req: &TransRequest,
        stored: TransRow,
        trace: Option<TraceContext>,
    ) -> Result<(), DtmError> {
        let now = self.engine.now();
        if stored.trans_type == TransType::Msg && stored.status == TransStatus::Prepared {
            let change = StatusChange {
                rollback_reason: req.rollback_reason.clone(),
                ..StatusChange::to(TransStatus::Failed, now)
            };
            self.engine
                .store
                .change_status(&stored.gid, TransStatus::Prepared, change, true)
                .await
                .map_err(|e| self.status_race(e, &stored.gid))?;
            return Ok(());
        }
        let rollbackable = matches!(req.trans_type.as_str(), "tcc" | "xa")
            && matches!(stored.status, TransStatus::Prepared | TransStatus::Aborting);
        if !rollbackable {
            return Err(DtmError::failure(format!(
                "trans type: '{}' current status '{}', cannot abort.",
                stored.trans_type, stored.status
            )));
        }
        let mut stored = stored;
        if stored.status == TransStatus::Prepared {
            let change = StatusChange {
                rollback_reason: req.rollback_reason.clone(),
                ..StatusChange::to(TransStatus::Aborting, now)
            };
            self.engine
                .store
                .change_status(&stored.gid, TransStatus::Prepared, change.clone(), true)
                .await
                .map_err(|e| self.status_race(e, &stored.gid))?;
            change.apply(&mut stored);
        }
        let branches = self.engine.store.find_branches(&stored.gid).await?;
        let wait = stored.options.wait_result;
        let mut pass = self.engine.pass(stored, branches, wait);
        if trace.is_some() {
            pass.trace = trace;
        }
        if wait {
            self.engine.process(pass).await
        } else {
            let engine = self.engine.clone();
            tokio::spawn(async move {
                let _ = engine.process(pass).await;
            });
            Ok(())
        }
    }

    /// `forceStop`: any unfinished transaction becomes `failed`; branches are untouched.
    pub async fn force_stop(&self, gid: &str) -> Result<(), DtmError> {
        let mut gid = gid.to_string();
        strip(&mut gid);
        let gid = gid.as_str();
        let stored = self.must_find(gid).await?;
        if stored.status.is_final() {
            return Err(DtmError::failure(format!(
                "global transaction force stop error. status: {}. error:",
                stored.status
            )));
        }
        let change = StatusChange::to(TransStatus::Failed, self.engine.now());
        self.engine
            .store
            .change_status(gid, stored.status, change, true)
            .await
            .map_err(|e| self.status_race(e, gid))
    }

    /// `registerBranch`: appends tcc or xa branch rows, or a workflow progress row, to a
    /// prepared transaction.
    pub async fn register_branch(&self, fields: BTreeMap<String, String>) -> Result<(), DtmError> {
        let data = Bytes::from(fields.get("data").cloned().unwrap_or_default());
        self.register_branch_bin(fields, data).await
    }

    /// `registerBranch` whose branch payload is given as bytes (gRPC `BusiPayload`) rather
    /// than as the `data` field.
    pub async fn register_branch_bin(
        &self,
        fields: BTreeMap<String, String>,
        data: Bytes,
    ) -> Result<(), DtmError> {
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        let mut gid = get("gid");
        strip(&mut gid);
        let bid = get("branch_id");
        if gid.is_empty() || bid.is_empty() {
            return Err(DtmError::BadRequest(
                "registerBranch needs gid and branch_id".into(),
            ));
        }
        if bid.chars().count() > MAX_GID_LEN || bid.chars().any(char::is_control) {
            return Err(DtmError::BadRequest(format!(
                "branch_id must be at most {MAX_GID_LEN} characters, without control characters"
            )));
        }
        let max_payload = self.engine.config.max_payload_bytes;
        if data.len() > max_payload {
            return Err(DtmError::TooLarge(format!(
                "branch data is {} bytes, more than MaxPayloadBytes ({max_payload})",
                data.len()
            )));
        }
        let now = self.engine.now();
        let row = |op: BranchOp, url: String| BranchRow {
            id: 0,
            gid: gid.clone(),
            url,
            bin_data: data.clone(),
            branch_id: bid.clone(),
            op: op.as_str().to_string(),
            status: TransStatus::Prepared,
            create_time: now,
            update_time: now,
            finish_time: None,
            rollback_time: None,
        };
        let rows = match get("trans_type").as_str() {
            "tcc" => vec![
                row(BranchOp::Cancel, get("cancel")),
                row(BranchOp::Confirm, get("confirm")),
            ],
            "xa" => vec![
                row(BranchOp::Rollback, get("url")),
                row(BranchOp::Commit, get("url")),
            ],
            "workflow" => {
                let op = get("op");
                let status = TransStatus::parse(&get("status"))
                    .filter(|_| !op.is_empty())
                    .ok_or_else(|| {
                        DtmError::BadRequest(format!(
                            "a workflow progress needs an op and a status, got op {op:?} status {:?}",
                            get("status")
                        ))
                    })?;
                let now = self.engine.now();
                vec![BranchRow {
                    id: 0,
                    gid: gid.clone(),
                    url: String::new(),
                    bin_data: data.clone(),
                    branch_id: bid.clone(),
                    op,
                    status,
                    create_time: now,
                    update_time: now,
                    finish_time: (status == TransStatus::Succeed).then_some(now),
                    rollback_time: (status == TransStatus::Failed).then_some(now),
                }]
            }
            other => {
                return Err(DtmError::BadRequest(format!(
                    "unknow trans type: {other} (registerBranch takes tcc, xa or workflow)"
                )))
            }
        };
        if !self.engine.config.branch_host_allowlist.is_off() {
            // The protocol decides how a URL is called; it is the stored transaction's.
            let stored = self.engine.store.find_trans(&gid).await?;
            for r in &rows {
                let grpc = match &stored {
                    Some(t) => crate::engine::caller::is_grpc(t, &r.url),
                    None => !r.url.contains("://"),
                };
                self.check_host(&r.url, grpc)?;
            }
        }
        self.check_branch_count(&gid, &bid).await?;
        match self
            .engine
            .store
            .append_branches(&gid, TransStatus::Prepared, rows)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound) => Err(DtmError::failure(format!(
                "no trans with gid: {gid} status: prepared found"
            ))),
            Err(StoreError::UniqueConflict) => Err(DtmError::Server(format!(
                "branch {bid} of {gid} is already registered"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// `query`: the transaction (or none) and its branches.
    pub async fn query(&self, gid: &str) -> Result<(Option<TransRow>, Vec<BranchRow>), DtmError> {
        if gid.is_empty() {
            return Err(DtmError::Server("no gid specified".into()));
        }
        let trans = self.engine.store.find_trans(gid).await?;
        let branches = match &trans {
            Some(_) => self.engine.store.find_branches(gid).await?,
            None => Vec::new(),
        };
        Ok((trans, branches))
    }

    /// `all`: a page of transactions, or the one with `gid`.
    pub async fn all(
        &self,
        gid: &str,
        query: ScanQuery,
    ) -> Result<(Option<Vec<TransRow>>, String), DtmError> {
        if !gid.is_empty() {
            let found = self.engine.store.find_trans(gid).await?;
            return Ok((found.map(|t| vec![t]), query.position));
        }
        let (rows, next) = self.engine.store.scan(query).await?;
        Ok(((!rows.is_empty()).then_some(rows), next))
    }

    /// `resetCronTime`: pulls far-future retries back to now.
    pub async fn reset_cron_time(&self, timeout: i64, limit: i64) -> Result<(i64, bool), DtmError> {
        let now = self.engine.now();
        let result = self
            .engine
            .store
            .reset_cron_time(now.saturating_add(timeout.saturating_mul(1000)), now, limit)
            .await?;
        self.engine.clock.moved.notify_waiters();
        Ok(result)
    }

    /// `resetNextCronTime`: makes one transaction due now.
    pub async fn reset_next_cron_time(&self, gid: &str) -> Result<(), DtmError> {
        let mut gid = gid.to_string();
        strip(&mut gid);
        match self
            .engine
            .store
            .reset_next_cron_time(&gid, self.engine.now())
            .await
        {
            Ok(()) => {
                self.engine.clock.moved.notify_waiters();
                Ok(())
            }
            Err(StoreError::NotFound) => Err(not_found(&gid)),
            Err(e) => Err(e.into()),
        }
    }

    /// The server span of a request (when spans are exported and the caller's context is
    /// sampled), and the context to store with a transaction it creates: the caller's,
    /// else the span's (a new trace).
    fn request_span(
        &self,
        name: &'static str,
        req: &TransRequest,
        trace: Option<TraceContext>,
    ) -> (Option<Span>, Option<TraceContext>) {
        let mut span = self
            .engine
            .tracer
            .start(name, SpanKind::Server, trace.as_ref());
        if let Some(span) = &mut span {
            span.set("dtm.gid", req.gid.clone());
            span.set("dtm.trans_type", req.trans_type.clone());
        }
        let stored = trace.or_else(|| span.as_ref().map(|s| s.context.clone()));
        (span, stored)
    }

    /// Ends a request span, failed when the request failed.
    fn end_span<T>(&self, span: Option<Span>, result: &Result<T, DtmError>) {
        if let Some(mut span) = span {
            if let Err(e) = result {
                span.fail(e.to_string());
            }
            self.engine.tracer.end(span);
        }
    }

    async fn must_find(&self, gid: &str) -> Result<TransRow, DtmError> {
        self.engine
            .store
            .find_trans(gid)
            .await?
            .ok_or_else(|| not_found(gid))
    }

    fn status_race(&self, e: StoreError, gid: &str) -> DtmError {
        match e {
            StoreError::NotFound => {
                DtmError::failure(format!("status of {gid} changed concurrently, retry"))
            }
            e => e.into(),
        }
    }

    /// Validates a prepare/submit request and builds its rows.
    async fn build(
        &self,
        req: &TransRequest,
        bin_payloads: &[Bytes],
        status: TransStatus,
    ) -> Result<NewTrans, DtmError> {
        let bad = |msg: String| Err(DtmError::BadRequest(msg));
        check_gid(&req.gid)?;
        let Some(trans_type) = TransType::parse(&req.trans_type) else {
            return bad(format!("unknown trans type: {:?}", req.trans_type));
        };
        let config = &self.engine.config;
        if req.steps.len() > config.max_branches {
            return Err(DtmError::TooLarge(format!(
                "{} steps, more than MaxBranches ({})",
                req.steps.len(),
                config.max_branches
            )));
        }
        check_branch_headers(&req.options.branch_headers, config)?;
        if !req.protocol.is_empty() && Protocol::parse(&req.protocol).is_none() {
            return bad(format!("unknown protocol: {:?}", req.protocol));
        }
        let o = &req.options;
        if o.timeout_to_fail < 0
            || o.request_timeout < 0
            || o.retry_interval < 0
            || o.retry_limit < 0
        {
            return bad("timeouts, intervals and limits must not be negative".into());
        }
        if !req.custom_data.is_empty() {
            let valid = match trans_type {
                TransType::Saga => serde_json::from_str::<SagaCustomData>(&req.custom_data).is_ok(),
                TransType::Msg => serde_json::from_str::<MsgCustomData>(&req.custom_data).is_ok(),
                _ => true,
            };
            if !valid {
                return bad(format!(
                    "invalid custom_data for {trans_type}: {}",
                    req.custom_data
                ));
            }
        }
        let now = self.engine.now();
        let mut row = TransRow {
            id: 0,
            gid: req.gid.clone(),
            trans_type,
            status,
            query_prepared: req.query_prepared.clone(),
            protocol: if req.protocol.is_empty() {
                Protocol::Http.as_str().into()
            } else {
                req.protocol.clone()
            },
            create_time: now,
            update_time: now,
            finish_time: None,
            rollback_time: None,
            options: req.options.clone(),
            custom_data: req.custom_data.clone(),
            next_cron_interval: 0,
            next_cron_time: 0,
            owner: String::new(),
            ext_data: String::new(),
            result: String::new(),
            rollback_reason: req.rollback_reason.clone(),
        };
        row.options.retry_count = 0;
        let grpc = crate::engine::caller::is_grpc(&row, &row.query_prepared);
        self.check_host(&row.query_prepared, grpc)?;
        row.next_cron_interval = self.engine.base_interval(&row);
        row.next_cron_time = now.saturating_add(row.next_cron_interval.saturating_mul(1000));
        let branches = self.generate_branches(req, bin_payloads, &row).await?;
        Ok(NewTrans { row, branches })
    }

    /// Branch rows of a saga (`[compensate, action]` per step) or msg (`action` per step,
    /// or one per subscriber of a `topic://` step: `01-01`, `01-02`, ...). Payloads are
    /// the binary ones, then the text ones, then legacy `steps[i].data`.
    async fn generate_branches(
        &self,
        req: &TransRequest,
        bin_payloads: &[Bytes],
        row: &TransRow,
    ) -> Result<Vec<BranchRow>, DtmError> {
        let ops: &[BranchOp] = match row.trans_type {
            TransType::Saga => &[BranchOp::Compensate, BranchOp::Action],
            TransType::Msg => &[BranchOp::Action],
            _ => return Ok(Vec::new()),
        };
        let mut payloads: Vec<Bytes> = bin_payloads.to_vec();
        payloads.extend(
            req.payloads
                .iter()
                .map(|p| Bytes::copy_from_slice(p.as_bytes())),
        );
        payloads.extend(
            req.steps
                .iter()
                .filter_map(|s| s.get("data").filter(|d| !d.is_empty()))
                .map(|d| Bytes::copy_from_slice(d.as_bytes())),
        );
        let max_payload = self.engine.config.max_payload_bytes;
        if let Some((i, p)) = payloads
            .iter()
            .enumerate()
            .find(|(_, p)| p.len() > max_payload)
        {
            return Err(DtmError::TooLarge(format!(
                "payload {} is {} bytes, more than MaxPayloadBytes ({max_payload})",
                i + 1,
                p.len()
            )));
        }
        if payloads.len() < req.steps.len() {
            return Err(DtmError::BadRequest(format!(
                "{} steps but {} payloads: give one payload per step",
                req.steps.len(),
                payloads.len()
            )));
        }
        let new_row = |url: String, branch_id: String, op: BranchOp, payload: &Bytes| BranchRow {
            id: 0,
            gid: row.gid.clone(),
            url,
            bin_data: payload.clone(),
            branch_id,
            op: op.as_str().into(),
            status: TransStatus::Prepared,
            create_time: row.create_time,
            update_time: row.create_time,
            finish_time: None,
            rollback_time: None,
        };
        let mut rows = Vec::with_capacity(req.steps.len() * ops.len());
        for (i, step) in req.steps.iter().enumerate() {
            for &op in ops {
                let url = step.get(op.as_str()).cloned().unwrap_or_default();
                let topic = url.strip_prefix(TOPIC_PREFIX);
                match topic {
                    Some(topic) if row.trans_type == TransType::Msg => {
                        let urls = self.topic_urls(topic).await?;
                        let single = urls.len() == 1;
                        for (k, url) in urls.into_iter().enumerate() {
                            check_url(&url)?;
                            self.check_host(&url, crate::engine::caller::is_grpc(row, &url))?;
                            let id = if single {
                                branch_id(i)
                            } else {
                                format!("{}-{}", branch_id(i), branch_id(k))
                            };
                            rows.push(new_row(url, id, op, &payloads[i]));
                        }
                    }
                    _ => {
                        check_url(&url)?;
                        check_grpc_url(row, &url)?;
                        self.check_host(&url, crate::engine::caller::is_grpc(row, &url))?;
                        rows.push(new_row(url, branch_id(i), op, &payloads[i]));
                    }
                }
            }
        }
        let branches = rows.len() / ops.len();
        let max = self.engine.config.max_branches;
        if branches > max {
            return Err(DtmError::TooLarge(format!(
                "{branches} branches (topic subscribers included), more than MaxBranches ({max})"
            )));
        }
        Ok(rows)
    }

    /// Refuses a URL whose host `BranchHostAllowlist` does not list (when it is set).
    pub(crate) fn check_host(&self, url: &str, grpc: bool) -> Result<(), DtmError> {
        self.engine
            .config
            .branch_host_allowlist
            .check(url, grpc)
            .map_err(DtmError::Forbidden)
    }

    /// Refuses a new branch of `gid` once it has `MaxBranches` branch ids.
    async fn check_branch_count(&self, gid: &str, bid: &str) -> Result<(), DtmError> {
        let max = self.engine.config.max_branches;
        let stored = self.engine.store.find_branches(gid).await?;
        let ids: std::collections::HashSet<&str> =
            stored.iter().map(|b| b.branch_id.as_str()).collect();
        if !ids.contains(bid) && ids.len() >= max {
            return Err(DtmError::TooLarge(format!(
                "{gid} already has {} branches, MaxBranches is {max}",
                ids.len()
            )));
        }
        Ok(())
    }
}

/// Keeps `trace` in the `ext_data` of a new transaction row.
fn store_trace(row: &mut TransRow, trace: Option<&TraceContext>) {
    if let Some(t) = trace {
        row.ext_data = t.into_ext_data(&row.ext_data);
    }
}

/// Refuses an empty gid, one longer than DTM's `varchar(128)` column (counted in
/// characters, as the column does), and one holding control characters (after DTM's
/// removal of `\n`, `\r` and `;`).
fn check_gid(gid: &str) -> Result<(), DtmError> {
    let bad = |msg: String| Err(DtmError::BadRequest(msg));
    if gid.is_empty() {
        return bad("gid is required".into());
    }
    if gid.chars().count() > MAX_GID_LEN {
        return bad(format!("gid is longer than {MAX_GID_LEN} characters"));
    }
    if let Some(c) = gid.chars().find(|c| c.is_control()) {
        return bad(format!(
            "gid must not contain control characters, found U+{:04X}",
            u32::from(c)
        ));
    }
    Ok(())
}

/// Refuses `branch_headers` over `MaxBranchHeaders` / `MaxBranchHeaderBytes`, and names
/// or values that cannot be sent as HTTP headers (every branch call would fail).
fn check_branch_headers(
    headers: &BTreeMap<String, String>,
    config: &crate::config::Config,
) -> Result<(), DtmError> {
    if headers.len() > config.max_branch_headers {
        return Err(DtmError::TooLarge(format!(
            "branch_headers has {} headers, more than MaxBranchHeaders ({})",
            headers.len(),
            config.max_branch_headers
        )));
    }
    let bytes: usize = headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > config.max_branch_header_bytes {
        return Err(DtmError::TooLarge(format!(
            "branch_headers hold {bytes} bytes, more than MaxBranchHeaderBytes ({})",
            config.max_branch_header_bytes
        )));
    }
    for (k, v) in headers {
        reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
            DtmError::BadRequest(format!("branch_headers: {k:?} is not a valid header name"))
        })?;
        reqwest::header::HeaderValue::from_str(v).map_err(|_| {
            DtmError::BadRequest(format!(
                "branch_headers: the value of {k:?} is not a valid header value"
            ))
        })?;
    }
    Ok(())
}

/// Refuses URLs that can never be called: malformed http(s) URLs, and topics outside msg.
fn check_url(url: &str) -> Result<(), DtmError> {
    if url.starts_with(TOPIC_PREFIX) {
        return Err(DtmError::BadRequest(format!(
            "{url}: topics are only valid in msg steps"
        )));
    }
    // A URL the pool sends as written is valid; only others need the full parser.
    let plain = crate::engine::http_pool::PlainTarget::parse(url).is_some();
    if !plain && (url.starts_with("http://") || url.starts_with("https://")) {
        reqwest::Url::parse(url)
            .map_err(|e| DtmError::BadRequest(format!("invalid branch url {url:?}: {e}")))?;
    }
    Ok(())
}

/// Refuses a gRPC branch URL that is not `host:port/package.Service/Method`.
fn check_grpc_url(row: &TransRow, url: &str) -> Result<(), DtmError> {
    if url.is_empty() || !crate::engine::caller::is_grpc(row, url) {
        return Ok(());
    }
    crate::engine::grpc_caller::split_url(url)
        .map(|_| ())
        .map_err(DtmError::BadRequest)
}

fn not_found(gid: &str) -> DtmError {
    DtmError::Server(format!("no TransGlobal with gid: {gid} found"))
}
