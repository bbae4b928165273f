//! Saga (PROTOCOL.md §4.2): `POST /submit` with the steps; dtm runs the actions and, on a
//! failure, the compensations.

use super::body::{encode_trans, go_json};
use super::client::Client;
use super::options::{option_setters, payload_text, require_gid};
use crate::error::{Error, Result};
use crate::protocol::{SagaCustomData, TransRequest, TransType};
use crate::transport::HttpRequest;
use std::collections::BTreeMap;

/// A saga under construction.
///
/// ```no_run
/// # async fn f(dtm: dtmx::tm::Client) -> dtmx::Result<()> {
/// let mut saga = dtm.saga(dtm.new_gid().await?);
/// saga.add("http://busi/TransOut", "http://busi/TransOutRevert", br#"{"amount":30}"#)
///     .add("http://busi/TransIn", "http://busi/TransInRevert", br#"{"amount":30}"#)
///     .wait_result(true);
/// saga.submit().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Saga {
    client: Client,
    trans: TransRequest,
    orders: BTreeMap<usize, Vec<usize>>,
    invalid: Option<String>,
}

option_setters!(Saga);

impl Saga {
    /// An empty saga with this gid.
    pub fn new(client: Client, gid: impl Into<String>) -> Saga {
        Saga {
            client,
            trans: TransRequest {
                gid: gid.into(),
                trans_type: TransType::Saga.as_str().into(),
                ..Default::default()
            },
            orders: BTreeMap::new(),
            invalid: None,
        }
    }

    /// Adds a step: dtm POSTs `payload` to `action`, and to `compensate` when rolling back
    /// (an empty URL is skipped). An empty payload makes dtm call with GET and no body.
    pub fn add(
        &mut self,
        action: impl Into<String>,
        compensate: impl Into<String>,
        payload: impl AsRef<[u8]>,
    ) -> &mut Self {
        let step = self.trans.steps.len();
        match payload_text(payload.as_ref(), &format!("saga step {step}")) {
            Ok(p) => self.trans.payloads.push(p),
            Err(e) => {
                self.invalid.get_or_insert(e.message().to_string());
                self.trans.payloads.push(String::new());
            }
        }
        self.trans.steps.push(BTreeMap::from([
            ("action".to_string(), action.into()),
            ("compensate".to_string(), compensate.into()),
        ]));
        self
    }

    /// Step `branch` (0-based) starts only after the actions of `pre_branches` succeeded.
    /// Sent only for a concurrent saga, as DTM's SDK does.
    pub fn add_branch_order(&mut self, branch: usize, pre_branches: &[usize]) -> &mut Self {
        self.orders.insert(branch, pre_branches.to_vec());
        self
    }

    /// Runs the actions concurrently, constrained by the branch orders.
    pub fn enable_concurrent(&mut self) -> &mut Self {
        self.trans.options.concurrent = true;
        self
    }

    /// The `POST /submit` request.
    pub fn submit_request(&self) -> Result<HttpRequest> {
        require_gid(&self.trans.gid)?;
        if let Some(m) = &self.invalid {
            return Err(Error::new(crate::ErrorKind::InvalidArgument, m.clone()));
        }
        let mut trans = self.trans.clone();
        if trans.options.concurrent {
            let custom = SagaCustomData {
                concurrent: true,
                orders: self
                    .orders
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            };
            trans.custom_data = String::from_utf8(go_json(&custom)?).unwrap_or_default();
        }
        Ok(self.client.dtm_request(
            "submit",
            encode_trans(&trans)?,
            trans.options.request_timeout,
        ))
    }

    /// Submits the saga. With `wait_result`, a failed saga is an error of kind `failure`
    /// and one dtm still retries is kind `unfinished` (see [`Client::submit`]).
    pub async fn submit(&self) -> Result<()> {
        let t = &self.trans;
        self.client
            .submit(self.submit_request()?, &t.gid, t.options.wait_result)
            .await
    }
}
