//! `NativeClient`: a DTM server and the factory of transactions.

use crate::errors::js;
use crate::rm::Branch;
use crate::run::{spawn, text};
use crate::trans::{Msg, Saga, Tcc, Xa};
use dtmx_bindings::error::invalid;
use dtmx_bindings::{Client as Facade, Options};
use napi::JsFunction;
use napi_derive::napi;
use std::collections::HashMap;
use std::time::Duration;

/// Options of a global transaction (`undefined` leaves the server's default).
#[napi(object)]
#[derive(Default)]
pub struct TransOptions {
    /// Process the transaction inside the submit request and report its outcome.
    pub wait_result: Option<bool>,
    /// Seconds after which dtm rolls back.
    pub timeout_to_fail: Option<i64>,
    /// Base retry interval in seconds.
    pub retry_interval: Option<i64>,
    /// Seconds a call may take.
    pub request_timeout: Option<i64>,
    /// Saga: immediate retries of an action before rolling back.
    pub retry_limit: Option<i64>,
    /// Headers added to every branch call.
    pub branch_headers: Option<HashMap<String, String>>,
    /// Run the steps concurrently (saga, msg).
    pub concurrent: Option<bool>,
}

impl TransOptions {
    fn to_facade(&self) -> napi::Result<Options, String> {
        let mut headers: Vec<_> = self
            .branch_headers
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        headers.sort();
        let o = Options {
            wait_result: self.wait_result,
            timeout_to_fail: self.timeout_to_fail,
            retry_interval: self.retry_interval,
            request_timeout: self.request_timeout,
            retry_limit: self.retry_limit,
            branch_headers: headers,
            concurrent: self.concurrent,
        };
        js(o.validate())?;
        Ok(o)
    }
}

fn options(o: Option<TransOptions>) -> napi::Result<Options, String> {
    o.unwrap_or_default().to_facade()
}

/// A DTM server (`http://host:36789/api/dtmsvr`) reached over the core's HTTP transport.
#[napi]
pub struct NativeClient {
    inner: Facade,
}

#[napi]
impl NativeClient {
    /// A client of `server`, sending `Authorization: Bearer <token>` to it when `token` is
    /// given.
    #[napi(constructor, catch_unwind)]
    pub fn new(server: String, token: Option<String>) -> napi::Result<Self, String> {
        let inner = js(Facade::new(&server))?;
        let inner = match token {
            None => inner,
            Some(t) => js(inner.with_token(&t))?,
        };
        Ok(NativeClient { inner })
    }

    /// The server URL.
    #[napi(getter, catch_unwind)]
    pub fn server(&self) -> String {
        self.inner.server().to_string()
    }

    /// A new gid made locally (no request).
    #[napi(catch_unwind)]
    pub fn local_gid(&self) -> String {
        self.inner.dtm().local_gid()
    }

    /// A new gid from the server, reported to `done`.
    #[napi(catch_unwind)]
    pub fn new_gid(&self, done: JsFunction) -> napi::Result<(), String> {
        let c = self.inner.dtm().clone();
        spawn(async move { c.new_gid().await }, done, text)
    }

    /// The transaction and its branches as JSON text, reported to `done`.
    #[napi(catch_unwind)]
    pub fn query(&self, gid: String, done: JsFunction) -> napi::Result<(), String> {
        let c = self.inner.dtm().clone();
        spawn(
            async move { c.query(&gid).await.map(|v| v.to_string()) },
            done,
            text,
        )
    }

    /// Polls until the transaction is final; its status, reported to `done`.
    #[napi(catch_unwind)]
    pub fn wait_final(
        &self,
        gid: String,
        timeout_seconds: f64,
        interval_seconds: f64,
        done: JsFunction,
    ) -> napi::Result<(), String> {
        let c = self.inner.dtm().clone();
        let (t, i) = (duration(timeout_seconds)?, duration(interval_seconds)?);
        spawn(
            async move {
                c.wait_final(&gid, t, i)
                    .await
                    .map(|s| s.as_str().to_string())
            },
            done,
            text,
        )
    }

    /// A saga.
    #[napi(catch_unwind)]
    pub fn saga(
        &self,
        gid: Option<String>,
        options: Option<TransOptions>,
    ) -> napi::Result<Saga, String> {
        let o = self::options(options)?;
        Ok(Saga::wrap(js(self.inner.saga(gid.as_deref(), &o))?))
    }

    /// A two-phase message.
    #[napi(catch_unwind)]
    pub fn msg(
        &self,
        gid: Option<String>,
        options: Option<TransOptions>,
    ) -> napi::Result<Msg, String> {
        let o = self::options(options)?;
        Ok(Msg::wrap(
            js(self.inner.msg(gid.as_deref(), &o))?,
            self.inner.dtm().clone(),
        ))
    }

    /// A TCC global transaction.
    #[napi(catch_unwind)]
    pub fn tcc(
        &self,
        gid: Option<String>,
        options: Option<TransOptions>,
    ) -> napi::Result<Tcc, String> {
        let o = self::options(options)?;
        Ok(Tcc::wrap(js(self.inner.tcc(gid.as_deref(), &o))?))
    }

    /// A TCC nested in the branch a try request describes.
    #[napi(catch_unwind)]
    pub fn tcc_from_branch(
        &self,
        branch: Branch,
        options: Option<TransOptions>,
    ) -> napi::Result<Tcc, String> {
        let o = self::options(options)?;
        let mut t = js(self.inner.tcc_from_branch(&branch.to_facade()))?;
        js(o.apply(t.options_mut()))?;
        Ok(Tcc::wrap(t))
    }

    /// An XA global transaction.
    #[napi(catch_unwind)]
    pub fn xa(
        &self,
        gid: Option<String>,
        options: Option<TransOptions>,
    ) -> napi::Result<Xa, String> {
        let o = self::options(options)?;
        Ok(Xa::wrap(js(self.inner.xa(gid.as_deref(), &o))?))
    }
}

fn duration(seconds: f64) -> napi::Result<Duration, String> {
    js(Duration::try_from_secs_f64(seconds)
        .map_err(|_| invalid(format!("not a duration in seconds: {seconds}"))))
}
