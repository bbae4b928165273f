//! TCC (PROTOCOL.md §4.4): the client prepares, registers each branch and calls its try
//! itself, then submits (dtm confirms) or aborts (dtm cancels).

use super::body::encode_register;
use super::client::Client;
use super::global::{run_global, GlobalTrans};
use super::options::{option_setters, payload_text, require_gid};
use crate::error::Result;
use crate::protocol::{BranchOp, TransType};
use crate::rm::Branch;
use crate::transport::{HttpRequest, HttpResponse};
use std::collections::BTreeMap;
use std::future::Future;

/// A TCC global transaction, or a nested one inside a TCC branch.
///
/// Clones share the branch id counter, so a clone handed to a closure (see [`Tcc::run`])
/// numbers its branches after the original's.
///
/// ```no_run
/// # async fn f(dtm: dtmx::tm::Client) -> dtmx::Result<()> {
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
    g: GlobalTrans,
}

option_setters!(Tcc, g);

impl Tcc {
    /// A TCC global transaction with this gid (not yet prepared).
    pub fn new(client: Client, gid: impl Into<String>) -> Tcc {
        Tcc {
            g: GlobalTrans::top(client, gid.into(), TransType::Tcc),
        }
    }

    /// The nested TCC of [`Client::tcc_from_branch`].
    pub(crate) fn nested(client: &Client, branch: &Branch) -> Result<Tcc> {
        branch.validate_for_tcc()?;
        Ok(Tcc {
            g: GlobalTrans::new(
                client.with_server(branch.dtm.clone()),
                branch.gid.clone(),
                &branch.trans_type,
                branch.branch_id.clone(),
            ),
        })
    }

    /// The client this transaction talks through.
    pub fn client(&self) -> &Client {
        &self.g.client
    }

    /// The id of the last branch created (`00` before the first).
    pub fn current_branch_id(&self) -> String {
        self.g.ids.current()
    }

    /// The `POST /prepare` request.
    pub fn prepare_request(&self) -> Result<HttpRequest> {
        self.g.dtm_request("prepare")
    }

    /// The `POST /submit` request.
    pub fn submit_request(&self) -> Result<HttpRequest> {
        self.g.dtm_request("submit")
    }

    /// The `POST /abort` request, with `rollback_reason` if not empty.
    pub fn abort_request(&self, rollback_reason: &str) -> Result<HttpRequest> {
        let mut g = self.g.clone();
        if !rollback_reason.is_empty() {
            g.trans.rollback_reason = rollback_reason.to_string();
        }
        g.dtm_request("abort")
    }

    /// The `POST /registerBranch` request of branch `branch_id`.
    pub fn register_request(
        &self,
        branch_id: &str,
        body: &[u8],
        confirm_url: &str,
        cancel_url: &str,
    ) -> Result<HttpRequest> {
        let trans = &self.g.trans;
        require_gid(&trans.gid)?;
        let data = payload_text(body, "tcc branch")?;
        let fields = BTreeMap::from([
            ("gid", trans.gid.as_str()),
            ("trans_type", trans.trans_type.as_str()),
            ("data", data.as_str()),
            ("branch_id", branch_id),
            (BranchOp::Confirm.as_str(), confirm_url),
            (BranchOp::Cancel.as_str(), cancel_url),
        ]);
        Ok(self.g.client.dtm_request(
            "registerBranch",
            encode_register(&fields)?,
            trans.options.request_timeout,
        ))
    }

    /// The try call of branch `branch_id`: `POST try_url` with `body`, the branch headers and
    /// the query `dtm`, `gid`, `branch_id`, `trans_type`, `op=try`.
    pub fn try_request(&self, branch_id: &str, body: &[u8], try_url: &str) -> HttpRequest {
        self.g
            .branch_call(branch_id, BranchOp::Try, try_url, body, None)
    }

    /// Prepares the global transaction.
    pub async fn prepare(&self) -> Result<()> {
        self.g.send(self.prepare_request()).await
    }

    /// Submits: dtm confirms every branch.
    pub async fn submit(&self) -> Result<()> {
        self.g.submit().await
    }

    /// Aborts: dtm cancels every branch; `rollback_reason` is recorded.
    pub async fn abort(&self, rollback_reason: &str) -> Result<()> {
        self.g.send(self.abort_request(rollback_reason)).await
    }

    /// Registers a new branch (id from the shared counter) and calls its try URL (none if
    /// empty). Returns the try reply on success; a reply of 409 or with `FAILURE` is an
    /// error of kind `failure`, 425 or `ONGOING` kind `ongoing`, another non-200 kind
    /// `server`.
    pub async fn call_branch(
        &self,
        body: &[u8],
        try_url: &str,
        confirm_url: &str,
        cancel_url: &str,
    ) -> Result<HttpResponse> {
        let branch_id = self.g.ids.next_id()?;
        let register = self.register_request(&branch_id, body, confirm_url, cancel_url)?;
        self.g.client.call_dtm(register).await?;
        let try_call = (!try_url.is_empty()).then(|| self.try_request(&branch_id, body, try_url));
        self.g.client.call_branch(try_call).await
    }

    /// Runs a whole global transaction: prepare, `busi` (which calls the branches through
    /// the clone it gets), then submit if it returned `Ok` (its value is returned once the
    /// submit succeeded), or abort with its error's message as `rollback_reason`. `busi`'s
    /// error is returned, as DTM's SDK does; a failing abort is a note on it.
    pub async fn run<F, Fut, T>(&self, busi: F) -> Result<T>
    where
        F: FnOnce(Tcc) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        run_global(&self.g, self.clone(), busi, |reason| async move {
            self.abort(&reason).await
        })
        .await
    }
}
