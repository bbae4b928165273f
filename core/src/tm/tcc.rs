//! TCC (PROTOCOL.md §4.4): the client prepares, registers each branch and calls its try
//! itself, then submits (dtm confirms) or aborts (dtm cancels).

use super::body::{encode_register, encode_trans};
use super::branch_id::BranchIdGen;
use super::client::DtmClient;
use super::options::{option_setters, payload_text, require_gid};
use crate::error::Result;
use crate::protocol::{BranchOp, TransRequest, TransType};
use crate::rm::BranchRequest;
use crate::transport::{encode_query, HttpRequest, HttpResponse};
use futures_util::FutureExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// A TCC global transaction, or a nested one inside a TCC branch.
///
/// Clones share the branch id counter, so a clone handed to a closure (see [`Tcc::run`])
/// numbers its branches after the original's.
///
/// ```no_run
/// # async fn f(dtm: dtmx::tm::DtmClient) -> dtmx::Result<()> {
/// let tcc = dtm.tcc(dtm.new_gid().await?);
/// tcc.run(|tcc| async move {
///     let body = br#"{"amount":30}"#;
///     tcc.call_branch(body, "http://busi/TransOutTry", "http://busi/TransOutConfirm",
///         "http://busi/TransOutCancel").await?;
///     tcc.call_branch(body, "http://busi/TransInTry", "http://busi/TransInConfirm",
///         "http://busi/TransInCancel").await
/// }).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Tcc {
    client: DtmClient,
    trans: TransRequest,
    ids: Arc<BranchIdGen>,
}

option_setters!(Tcc);

impl Tcc {
    /// A TCC global transaction with this gid (not yet prepared).
    pub fn new(client: DtmClient, gid: impl Into<String>) -> Tcc {
        Tcc {
            client,
            trans: TransRequest {
                gid: gid.into(),
                trans_type: TransType::Tcc.as_str().into(),
                ..Default::default()
            },
            ids: Arc::new(BranchIdGen::new("")),
        }
    }

    /// A nested TCC inside the branch that `branch` describes (the query of a try call:
    /// `dtm`, `gid`, `branch_id`, `trans_type`): its branches are `<branch_id>01`, ...,
    /// registered with the server the request names, using `client`'s transport.
    pub fn from_branch(client: &DtmClient, branch: &BranchRequest) -> Result<Tcc> {
        branch.validate_for_tcc()?;
        Ok(Tcc {
            client: client.with_server(branch.dtm.clone()),
            trans: TransRequest {
                gid: branch.gid.clone(),
                trans_type: branch.trans_type.clone(),
                ..Default::default()
            },
            ids: Arc::new(BranchIdGen::new(branch.branch_id.clone())),
        })
    }

    /// The client this transaction talks through.
    pub fn client(&self) -> &DtmClient {
        &self.client
    }

    /// The id of the last branch created (`00` before the first).
    pub fn current_branch_id(&self) -> String {
        self.ids.current()
    }

    fn dtm_request(&self, operation: &str) -> Result<HttpRequest> {
        require_gid(&self.trans.gid)?;
        Ok(self.client.dtm_request(
            operation,
            encode_trans(&self.trans)?,
            self.trans.options.request_timeout,
        ))
    }

    /// The `POST /prepare` request.
    pub fn prepare_request(&self) -> Result<HttpRequest> {
        self.dtm_request("prepare")
    }

    /// The `POST /submit` request.
    pub fn submit_request(&self) -> Result<HttpRequest> {
        self.dtm_request("submit")
    }

    /// The `POST /abort` request, with `rollback_reason` if not empty.
    pub fn abort_request(&self, rollback_reason: &str) -> Result<HttpRequest> {
        let mut t = self.clone();
        if !rollback_reason.is_empty() {
            t.trans.rollback_reason = rollback_reason.to_string();
        }
        t.dtm_request("abort")
    }

    /// The `POST /registerBranch` request of branch `branch_id`.
    pub fn register_request(
        &self,
        branch_id: &str,
        body: &[u8],
        confirm_url: &str,
        cancel_url: &str,
    ) -> Result<HttpRequest> {
        require_gid(&self.trans.gid)?;
        let data = payload_text(body, "tcc branch")?;
        let fields = BTreeMap::from([
            ("gid", self.trans.gid.as_str()),
            ("trans_type", self.trans.trans_type.as_str()),
            ("data", data.as_str()),
            ("branch_id", branch_id),
            (BranchOp::Confirm.as_str(), confirm_url),
            (BranchOp::Cancel.as_str(), cancel_url),
        ]);
        Ok(self.client.dtm_request(
            "registerBranch",
            encode_register(&fields)?,
            self.trans.options.request_timeout,
        ))
    }

    /// The try call of branch `branch_id`: `POST try_url` with `body`, the branch headers and
    /// the query `dtm`, `gid`, `branch_id`, `trans_type`, `op=try`.
    pub fn try_request(&self, branch_id: &str, body: &[u8], try_url: &str) -> HttpRequest {
        branch_call(
            &self.client,
            &self.trans,
            branch_id,
            BranchOp::Try,
            try_url,
            body,
            None,
        )
    }

    /// Prepares the global transaction.
    pub async fn prepare(&self) -> Result<()> {
        self.client.call_dtm(self.prepare_request()?).await?;
        Ok(())
    }

    /// Submits: dtm confirms every branch.
    pub async fn submit(&self) -> Result<()> {
        self.client.call_dtm(self.submit_request()?).await?;
        Ok(())
    }

    /// Aborts: dtm cancels every branch; `rollback_reason` is recorded.
    pub async fn abort(&self, rollback_reason: &str) -> Result<()> {
        self.client
            .call_dtm(self.abort_request(rollback_reason)?)
            .await?;
        Ok(())
    }

    /// Registers a new branch (id from the shared counter) and calls its try URL (none if
    /// empty). Returns the
    /// try reply on success; a reply of 409 or with `FAILURE` is an error of kind `failure`,
    /// 425 or `ONGOING` kind `ongoing`, another non-200 kind `server`.
    pub async fn call_branch(
        &self,
        body: &[u8],
        try_url: &str,
        confirm_url: &str,
        cancel_url: &str,
    ) -> Result<HttpResponse> {
        let branch_id = self.ids.next_id()?;
        let register = self.register_request(&branch_id, body, confirm_url, cancel_url)?;
        self.client.call_dtm(register).await?;
        let try_call = (!try_url.is_empty()).then(|| self.try_request(&branch_id, body, try_url));
        self.client.call_branch(try_call).await
    }

    /// Runs a whole global transaction: prepare, `busi` (which calls the branches through
    /// the clone it gets), then submit if it returned `Ok`, or abort with its error's
    /// message as `rollback_reason` (the abort's own error is dropped and `busi`'s returned,
    /// as DTM's SDK does).
    pub async fn run<F, Fut, T>(&self, busi: F) -> Result<T>
    where
        F: FnOnce(Tcc) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.prepare().await?;
        match AssertUnwindSafe(busi(self.clone())).catch_unwind().await {
            Ok(Ok(v)) => {
                self.submit().await?;
                Ok(v)
            }
            Ok(Err(e)) => {
                let _ = self.abort(e.message()).await;
                Err(e)
            }
            Err(panic) => {
                // Roll back at once rather than leave the branches to the timeout.
                let _ = self.abort("the transaction's code panicked").await;
                std::panic::resume_unwind(panic)
            }
        }
    }
}

/// A call of a branch by the client itself (TCC try, XA action), with the query DTM's SDK
/// adds and the branch headers.
pub(crate) fn branch_call(
    client: &DtmClient,
    trans: &TransRequest,
    branch_id: &str,
    op: BranchOp,
    url: &str,
    body: &[u8],
    phase2_url: Option<&str>,
) -> HttpRequest {
    let mut query = vec![
        ("dtm", client.server()),
        ("gid", trans.gid.as_str()),
        ("branch_id", branch_id),
        ("trans_type", trans.trans_type.as_str()),
        ("op", op.as_str()),
    ];
    if let Some(p) = phase2_url {
        query.push(("phase2_url", p));
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let mut req =
        HttpRequest::post_json(format!("{url}{sep}{}", encode_query(&query)), body.to_vec());
    for (k, v) in &trans.options.branch_headers {
        req.headers.push((k.clone(), v.clone()));
    }
    req
}
