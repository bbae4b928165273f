//! XA global transaction (PROTOCOL.md §4.5), client side: prepare, call each branch (the RM
//! runs its local XA transaction and registers itself, see [`crate::rm::xa`]), then submit
//! (dtm commits every branch) or abort (dtm rolls them back).

use super::client::Client;
use super::global::{run_global, GlobalTrans};
use super::options::option_setters;
use crate::error::Result;
use crate::protocol::{BranchOp, TransType};
use crate::transport::{HttpRequest, HttpResponse};
use std::future::Future;

/// An XA global transaction. Clones share the branch id counter.
#[derive(Debug, Clone)]
pub struct Xa {
    g: GlobalTrans,
}

option_setters!(Xa, g);

impl Xa {
    /// An XA global transaction with this gid (not yet prepared).
    pub fn new(client: Client, gid: impl Into<String>) -> Xa {
        Xa {
            g: GlobalTrans::top(client, gid.into(), TransType::Xa),
        }
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

    /// The `POST /abort` request (DTM's SDK sends no rollback reason for XA).
    pub fn abort_request(&self) -> Result<HttpRequest> {
        self.g.dtm_request("abort")
    }

    /// The call of branch `branch_id`: `POST url` with `body`, the branch headers and the
    /// query `dtm`, `gid`, `branch_id`, `trans_type=xa`, `op=action`, `phase2_url=<url>`.
    pub fn branch_request(&self, branch_id: &str, body: &[u8], url: &str) -> HttpRequest {
        self.g
            .branch_call(branch_id, BranchOp::Action, url, body, Some(url))
    }

    /// Prepares the global transaction.
    pub async fn prepare(&self) -> Result<()> {
        self.g.send(self.prepare_request()).await
    }

    /// Submits: dtm commits every registered branch.
    pub async fn submit(&self) -> Result<()> {
        self.g.submit().await
    }

    /// Aborts: dtm rolls back every registered branch.
    pub async fn abort(&self) -> Result<()> {
        self.g.send(self.abort_request()).await
    }

    /// Calls a new branch (id from the shared counter; the URL is also its phase-2 URL).
    /// Reply mapping as for [`Tcc::call_branch`](super::Tcc::call_branch).
    pub async fn call_branch(&self, body: &[u8], url: &str) -> Result<HttpResponse> {
        let branch_id = self.g.ids.next_id()?;
        let call = (!url.is_empty()).then(|| self.branch_request(&branch_id, body, url));
        self.g.client.call_branch(call).await
    }

    /// Runs a whole global transaction: prepare, `busi` (which calls the branches through
    /// the clone it gets), then submit if it returned `Ok` (its value is returned once the
    /// submit succeeded), else abort; `busi`'s error is returned, a failing abort a note on
    /// it.
    pub async fn run<F, Fut, T>(&self, busi: F) -> Result<T>
    where
        F: FnOnce(Xa) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        run_global(&self.g, self.clone(), busi, |_| self.abort()).await
    }
}
