//! Two-phase message (PROTOCOL.md §4.3): prepare, do the local work, submit (or abort);
//! dtm then delivers every step, checking back with `query_prepared` if the submit never
//! comes.

use super::body::{encode_trans, go_json};
use super::client::{check_branch_reply, Client};
use super::options::{option_setters, payload_text, require_gid};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{BranchOp, TransRequest, TransType};
use crate::rm::Branch;
use crate::transport::{encode_query, HttpRequest};
use std::collections::BTreeMap;
use std::future::Future;

/// Prefix of a step URL naming a topic (`topic://<name>`).
pub const TOPIC_PREFIX: &str = "topic://";

/// Branch id of the msg check-back and of the barrier of [`Msg::do_and_submit`].
pub const MSG_CHECK_BRANCH_ID: &str = "00";

/// A two-phase message under construction.
#[derive(Debug, Clone)]
pub struct Msg {
    client: Client,
    trans: TransRequest,
    delay: u64,
    invalid: Option<String>,
}

option_setters!(Msg);

impl Msg {
    /// An empty message with this gid.
    pub fn new(client: Client, gid: impl Into<String>) -> Msg {
        Msg {
            client,
            trans: TransRequest {
                gid: gid.into(),
                trans_type: TransType::Msg.as_str().into(),
                ..Default::default()
            },
            delay: 0,
            invalid: None,
        }
    }

    /// Adds a step: dtm POSTs `payload` to `action` (GET without body if empty).
    pub fn add(&mut self, action: impl Into<String>, payload: impl AsRef<[u8]>) -> &mut Self {
        let step = self.trans.steps.len();
        match payload_text(payload.as_ref(), &format!("msg step {step}")) {
            Ok(p) => self.trans.payloads.push(p),
            Err(e) => {
                self.invalid.get_or_insert(e.message().to_string());
                self.trans.payloads.push(String::new());
            }
        }
        self.trans
            .steps
            .push(BTreeMap::from([("action".to_string(), action.into())]));
        self
    }

    /// Adds a step delivered to every subscriber of `topic` (`topic://<topic>`).
    pub fn add_topic(&mut self, topic: &str, payload: impl AsRef<[u8]>) -> &mut Self {
        self.add(format!("{TOPIC_PREFIX}{topic}"), payload)
    }

    /// Delivers the steps `seconds` after creation (sent with the submit only).
    pub fn set_delay(&mut self, seconds: u64) -> &mut Self {
        self.delay = seconds;
        self
    }

    /// Delivers all steps concurrently.
    pub fn enable_concurrent(&mut self) -> &mut Self {
        self.trans.options.concurrent = true;
        self
    }

    fn validate(&self) -> Result<()> {
        require_gid(&self.trans.gid)?;
        match &self.invalid {
            Some(m) => Err(Error::new(ErrorKind::InvalidArgument, m.clone())),
            None => Ok(()),
        }
    }

    fn request(&self, operation: &str) -> Result<HttpRequest> {
        self.validate()?;
        Ok(self.client.dtm_request(
            operation,
            encode_trans(&self.trans)?,
            self.trans.options.request_timeout,
        ))
    }

    /// Sets the check-back URL (an empty one keeps the current) and returns the
    /// `POST /prepare` request.
    pub fn prepare_request(&mut self, query_prepared: &str) -> Result<HttpRequest> {
        if !query_prepared.is_empty() {
            self.trans.query_prepared = query_prepared.to_string();
        }
        self.request("prepare")
    }

    /// Adds the delay (if any) and returns the `POST /submit` request.
    pub fn submit_request(&mut self) -> Result<HttpRequest> {
        if self.delay > 0 {
            let custom = serde_json::json!({ "delay": self.delay });
            self.trans.custom_data = String::from_utf8(go_json(&custom)?).unwrap_or_default();
        }
        self.request("submit")
    }

    /// The `POST /abort` request.
    pub fn abort_request(&self) -> Result<HttpRequest> {
        self.request("abort")
    }

    /// The check-back request [`Msg::do_and_submit`] sends when the local work ended in
    /// doubt: `GET query_prepared` (empty: the one given at prepare) with the msg barrier's
    /// identity as query (`dtm`, `gid`, `branch_id=00`, `trans_type=msg`, `op=msg`).
    pub fn check_back_request(&self, query_prepared: &str) -> Result<HttpRequest> {
        self.validate()?;
        let query_prepared = if query_prepared.is_empty() {
            self.trans.query_prepared.as_str()
        } else {
            query_prepared
        };
        if query_prepared.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "query_prepared is empty",
            ));
        }
        let b = self.barrier_branch();
        let query = encode_query(&[
            ("dtm", b.dtm.as_str()),
            ("gid", &b.gid),
            ("branch_id", &b.branch_id),
            ("trans_type", &b.trans_type),
            ("op", &b.op),
        ]);
        let sep = if query_prepared.contains('?') {
            '&'
        } else {
            '?'
        };
        let mut req = HttpRequest::get(format!("{query_prepared}{sep}{query}"));
        for (k, v) in &self.trans.options.branch_headers {
            req.headers.push((k.clone(), v.clone()));
        }
        Ok(req)
    }

    /// The identity of the barrier that guards the local work of
    /// [`Msg::do_and_submit`]: trans type `msg`, this gid, branch `00`, op `msg`.
    pub fn barrier_branch(&self) -> Branch {
        Branch {
            gid: self.trans.gid.clone(),
            trans_type: TransType::Msg.as_str().into(),
            branch_id: MSG_CHECK_BRANCH_ID.into(),
            op: BranchOp::Msg.as_str().into(),
            dtm: self.client.server().to_string(),
            phase2_url: String::new(),
        }
    }

    /// Prepares the message with `query_prepared` as the check-back URL.
    pub async fn prepare(&mut self, query_prepared: &str) -> Result<()> {
        let req = self.prepare_request(query_prepared)?;
        self.client.call_dtm(req).await?;
        Ok(())
    }

    /// Submits the message (with `wait_result`, see [`Client::submit`]).
    pub async fn submit(&mut self) -> Result<()> {
        let req = self.submit_request()?;
        let t = &self.trans;
        self.client.submit(req, &t.gid, t.options.wait_result).await
    }

    /// Aborts a prepared message (dtm marks it failed; nothing is delivered).
    pub async fn abort(&self) -> Result<()> {
        self.client.call_dtm(self.abort_request()?).await?;
        Ok(())
    }

    /// Prepare, local work, then submit or abort, in one call (PROTOCOL.md §4.3 flow C).
    ///
    /// `busi` gets the identity of the msg barrier ([`Msg::barrier_branch`]) and runs the
    /// local transaction guarded by it. Then:
    /// * `Ok(v)` → submit; `v` is returned if the submit succeeded, else its error;
    /// * an error of kind `failure` → abort; the error is returned;
    /// * any other error (the local commit may or may not have happened) → the check-back
    ///   URL is asked, as dtm would: failure → abort, success → submit, anything else →
    ///   nothing (dtm will check back later).
    ///
    /// `busi`'s error always wins, as in DTM's SDK: what failed after it (the check-back,
    /// the abort, the submit) is added to it as a note, never returned instead.
    pub async fn do_and_submit<F, Fut, T>(&mut self, query_prepared: &str, busi: F) -> Result<T>
    where
        F: FnOnce(Branch) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let barrier = self.barrier_branch();
        barrier.validate_for_barrier()?;
        self.prepare(query_prepared).await?;
        let e = match busi(barrier).await {
            Ok(v) => return self.submit().await.map(|()| v),
            Err(e) => e,
        };
        let committed = if e.kind() == ErrorKind::Failure {
            Ok(false)
        } else {
            match self.check_back(query_prepared).await {
                Ok(()) => Ok(true),
                Err(c) if c.kind() == ErrorKind::Failure => Ok(false),
                Err(c) => Err(c),
            }
        };
        let note = match committed {
            // dtm would roll the prepared message back through the check-back anyway.
            Ok(false) => self
                .abort()
                .await
                .err()
                .map(|a| format!("abort failed: {a}")),
            Ok(true) => self
                .submit()
                .await
                .err()
                .map(|s| format!("submit failed: {s}")),
            Err(c) => Some(format!(
                "check-back failed: {c} (dtm will check back later)"
            )),
        };
        Err(match note {
            Some(n) => e.with_note(n),
            None => e,
        })
    }

    /// Asks the check-back URL whether the local transaction committed.
    async fn check_back(&self, query_prepared: &str) -> Result<()> {
        let reply = self
            .client
            .send(self.check_back_request(query_prepared)?)
            .await?;
        check_branch_reply(reply.status, &reply.body)
    }
}
