//! `NativeClient`: a DTM server and the factory of transactions.

use crate::errors::{js, to_js};
use crate::rm::Branch;
use crate::run::{spawn, text};
use crate::trans::{Msg, Saga, Tcc, Xa};
use dtmx_bindings::error::invalid;
use dtmx_bindings::options::Naming;
use dtmx_bindings::{Client as Facade, Options};
use napi::{Env, JsFunction, JsUnknown};
use napi_derive::napi;
use serde_json::Value;
use std::time::Duration;

/// The options of a transaction from the value JavaScript passed (`undefined`: the
/// defaults), read by the bindings with camelCase names. The value becomes JSON through
/// napi's serde bridge: `undefined` members are `null` (the default), integers (BigInts
/// too) are integers.
fn options(env: Env, o: Option<JsUnknown>) -> napi::Result<Options, String> {
    let value = match o {
        None => Value::Null,
        Some(v) => env.from_js_value(v).map_err(|e| {
            to_js(invalid(format!(
                "options cannot be read as JSON: {}",
                e.reason
            )))
        })?,
    };
    js(Options::from_json(&value, Naming::Camel))
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
        env: Env,
        options: Option<JsUnknown>,
    ) -> napi::Result<Saga, String> {
        let o = self::options(env, options)?;
        Ok(Saga::wrap(js(self.inner.saga(gid.as_deref(), &o))?))
    }

    /// A two-phase message.
    #[napi(catch_unwind)]
    pub fn msg(
        &self,
        gid: Option<String>,
        env: Env,
        options: Option<JsUnknown>,
    ) -> napi::Result<Msg, String> {
        let o = self::options(env, options)?;
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
        env: Env,
        options: Option<JsUnknown>,
    ) -> napi::Result<Tcc, String> {
        let o = self::options(env, options)?;
        Ok(Tcc::wrap(js(self.inner.tcc(gid.as_deref(), &o))?))
    }

    /// A TCC nested in the branch a try request describes.
    #[napi(catch_unwind)]
    pub fn tcc_from_branch(
        &self,
        branch: Branch,
        env: Env,
        options: Option<JsUnknown>,
    ) -> napi::Result<Tcc, String> {
        let o = self::options(env, options)?;
        let mut t = js(self.inner.tcc_from_branch(&branch.to_facade()))?;
        js(o.apply(t.options_mut()))?;
        Ok(Tcc::wrap(t))
    }

    /// An XA global transaction.
    #[napi(catch_unwind)]
    pub fn xa(
        &self,
        gid: Option<String>,
        env: Env,
        options: Option<JsUnknown>,
    ) -> napi::Result<Xa, String> {
        let o = self::options(env, options)?;
        Ok(Xa::wrap(js(self.inner.xa(gid.as_deref(), &o))?))
    }
}

fn duration(seconds: f64) -> napi::Result<Duration, String> {
    js(Duration::try_from_secs_f64(seconds)
        .map_err(|_| invalid(format!("not a duration in seconds: {seconds}"))))
}
