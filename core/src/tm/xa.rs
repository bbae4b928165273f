//! XA global transaction (PROTOCOL.md §4.5), client side: prepare, call each branch (the RM
//! runs its local XA transaction and registers itself, see [`crate::rm::xa`]), then submit
//! (dtm commits every branch) or abort (dtm rolls them back).

use super::body::encode_trans;
use super::branch_id::BranchIdGen;
use super::client::DtmClient;
use super::options::{option_setters, require_gid};
use super::tcc::branch_call;
use crate::error::Result;
use crate::protocol::{BranchOp, TransRequest, TransType};
use crate::transport::{HttpRequest, HttpResponse};
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// An XA global transaction. Clones share the branch id counter.
#[derive(Debug, Clone)]
pub struct Xa {
    client: DtmClient,
    trans: TransRequest,
    ids: Arc<BranchIdGen>,
}

option_setters!(Xa);

impl Xa {
    /// An XA global transaction with this gid (not yet prepared).
    pub fn new(client: DtmClient, gid: impl Into<String>) -> Xa {
        Xa {
            client,
            trans: TransRequest {
                gid: gid.into(),
                trans_type: TransType::Xa.as_str().into(),
                ..Default::default()
            },
            ids: Arc::new(BranchIdGen::new("")),
        }
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

    /// The `POST /abort` request (DTM's SDK sends no rollback reason for XA).
    pub fn abort_request(&self) -> Result<HttpRequest> {
        self.dtm_request("abort")
    }

    /// The call of branch `branch_id`: `POST url` with `body`, the branch headers and the
    /// query `dtm`, `gid`, `branch_id`, `trans_type=xa`, `op=action`, `phase2_url=<url>`.
    pub fn branch_request(&self, branch_id: &str, body: &[u8], url: &str) -> HttpRequest {
        branch_call(
            &self.client,
            &self.trans,
            branch_id,
            BranchOp::Action,
            url,
            body,
            Some(url),
        )
    }

    /// Prepares the global transaction.
    pub async fn prepare(&self) -> Result<()> {
        self.client.call_dtm(self.prepare_request()?).await?;
        Ok(())
    }

    /// Submits: dtm commits every registered branch.
    pub async fn submit(&self) -> Result<()> {
        self.client.call_dtm(self.submit_request()?).await?;
        Ok(())
    }

    /// Aborts: dtm rolls back every registered branch.
    pub async fn abort(&self) -> Result<()> {
        self.client.call_dtm(self.abort_request()?).await?;
        Ok(())
    }

    /// Calls a new branch (id from the shared counter; the URL is also its phase-2 URL).
    /// Reply mapping as for [`Tcc::call_branch`](super::Tcc::call_branch).
    pub async fn call_branch(&self, body: &[u8], url: &str) -> Result<HttpResponse> {
        let branch_id = self.ids.next_id()?;
        let call = (!url.is_empty()).then(|| self.branch_request(&branch_id, body, url));
        self.client.call_branch(call).await
    }

    /// Runs a whole global transaction: prepare, `busi` (which calls the branches through
    /// the clone it gets), then submit if it returned `Ok`, else abort (whose own error is
    /// dropped; `busi`'s is returned).
    pub async fn run<F, Fut, T>(&self, busi: F) -> Result<T>
    where
        F: FnOnce(Xa) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.prepare().await?;
        match AssertUnwindSafe(busi(self.clone())).catch_unwind().await {
            Ok(Ok(v)) => {
                self.submit().await?;
                Ok(v)
            }
            Ok(Err(e)) => {
                let _ = self.abort().await;
                Err(e)
            }
            Err(panic) => {
                // Roll back at once rather than leave the branches to the timeout.
                let _ = self.abort().await;
                std::panic::resume_unwind(panic)
            }
        }
    }
}
