//! What TCC and XA share: a global transaction the client drives itself. It prepares, calls
//! its branches with ids from a counter that clones share, then submits or aborts; and
//! [`run_global`] runs that whole sequence around the caller's code.

use super::body::encode_trans;
use super::branch_id::BranchIdGen;
use super::client::Client;
use super::options::require_gid;
use crate::error::Result;
use crate::protocol::{BranchOp, TransRequest, TransType};
use crate::transport::{encode_query, HttpRequest};
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// The client, the transaction and the branch id counter of a TCC or XA transaction.
#[derive(Debug, Clone)]
pub(super) struct GlobalTrans {
    pub(super) client: Client,
    pub(super) trans: TransRequest,
    pub(super) ids: Arc<BranchIdGen>,
}

impl GlobalTrans {
    /// A transaction of `trans_type` with this gid, whose branches are numbered under
    /// `parent_branch_id` (empty: top level).
    pub(super) fn new(
        client: Client,
        gid: String,
        trans_type: &str,
        parent_branch_id: String,
    ) -> GlobalTrans {
        GlobalTrans {
            client,
            trans: TransRequest {
                gid,
                trans_type: trans_type.to_string(),
                ..Default::default()
            },
            ids: Arc::new(BranchIdGen::new(parent_branch_id)),
        }
    }

    /// A top-level transaction of `trans_type`.
    pub(super) fn top(client: Client, gid: String, trans_type: TransType) -> GlobalTrans {
        GlobalTrans::new(client, gid, trans_type.as_str(), String::new())
    }

    /// The `POST /<operation>` request carrying the transaction.
    pub(super) fn dtm_request(&self, operation: &str) -> Result<HttpRequest> {
        require_gid(&self.trans.gid)?;
        Ok(self.client.dtm_request(
            operation,
            encode_trans(&self.trans)?,
            self.trans.options.request_timeout,
        ))
    }

    /// Sends `request` to dtm; an error unless dtm accepted it.
    pub(super) async fn send(&self, request: Result<HttpRequest>) -> Result<()> {
        self.client.call_dtm(request?).await?;
        Ok(())
    }

    /// Submits (with `wait_result`, see [`Client::submit`]).
    pub(super) async fn submit(&self) -> Result<()> {
        let t = &self.trans;
        let request = self.dtm_request("submit")?;
        self.client
            .submit(request, &t.gid, t.options.wait_result)
            .await
    }

    /// A call of a branch by the client itself (TCC try, XA action), with the query DTM's
    /// SDK adds and the branch headers.
    pub(super) fn branch_call(
        &self,
        branch_id: &str,
        op: BranchOp,
        url: &str,
        body: &[u8],
        phase2_url: Option<&str>,
    ) -> HttpRequest {
        let trans = &self.trans;
        let mut query = vec![
            ("dtm", self.client.server()),
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
}

/// Runs a whole global transaction: prepares `global`, runs `busi` on `handle` (a clone
/// sharing the branch counter), then submits if it returned `Ok` (its value returned once
/// the submit succeeded), or calls `abort` with its error's message. `busi`'s error always
/// wins, as in DTM's SDK: a failing abort is added to it as a note. A panic of `busi`
/// aborts at once, then goes on unwinding.
pub(super) async fn run_global<H, F, Fut, T, A, AFut>(
    global: &GlobalTrans,
    handle: H,
    busi: F,
    abort: A,
) -> Result<T>
where
    F: FnOnce(H) -> Fut,
    Fut: Future<Output = Result<T>>,
    A: FnOnce(String) -> AFut,
    AFut: Future<Output = Result<()>>,
{
    global.send(global.dtm_request("prepare")).await?;
    match AssertUnwindSafe(busi(handle)).catch_unwind().await {
        Ok(Ok(v)) => global.submit().await.map(|()| v),
        Ok(Err(e)) => match abort(e.message().to_string()).await {
            Ok(()) => Err(e),
            Err(a) => Err(e.with_note(format!("abort failed: {a}"))),
        },
        Err(panic) => {
            // Roll back at once rather than leave the branches to the timeout.
            let _ = abort("the transaction's code panicked".to_string()).await;
            std::panic::resume_unwind(panic)
        }
    }
}
