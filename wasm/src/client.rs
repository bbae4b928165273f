//! `NativeClient`: a DTM server and the factory of transactions.

use crate::convert::{bad, branch_from_js, js, options, promise, JsResult};
use crate::trans::{NativeMsg, NativeSaga, NativeTcc, NativeXa};
use dtmx_bindings::Client;
use js_sys::Promise;
use std::time::Duration;
use wasm_bindgen::prelude::*;

/// A DTM server (`http://host:36789/api/dtmsvr`) reached through `fetch`.
#[wasm_bindgen]
pub struct NativeClient {
    inner: Client,
}

#[wasm_bindgen]
impl NativeClient {
    /// A client of `server`, sending `Authorization: Bearer <token>` to it when `token` is
    /// given; throws an `InvalidArgumentError` for a URL that is not `http(s)://host...`
    /// or a token that is empty or holds whitespace or control characters.
    #[wasm_bindgen(constructor)]
    pub fn new(server: &str, token: Option<String>) -> JsResult<NativeClient> {
        let inner = js(Client::new(server))?;
        let inner = match token {
            None => inner,
            Some(t) => js(inner.with_token(&t))?,
        };
        Ok(NativeClient { inner })
    }

    /// The server URL.
    #[wasm_bindgen(getter)]
    pub fn server(&self) -> String {
        self.inner.server().to_string()
    }

    /// A new gid made locally (no request).
    #[wasm_bindgen(js_name = localGid)]
    pub fn local_gid(&self) -> String {
        self.inner.dtm().local_gid()
    }

    /// A new gid from the server.
    #[wasm_bindgen(js_name = newGid, unchecked_return_type = "Promise<string>")]
    pub fn new_gid(&self) -> Promise {
        let c = self.inner.dtm().clone();
        promise(async move { c.new_gid().await }, |g| g.into())
    }

    /// The transaction and its branches (`GET /query`), as JSON text.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn query(&self, gid: String) -> Promise {
        let c = self.inner.dtm().clone();
        promise(async move { c.query(&gid).await }, |v| v.to_string().into())
    }

    /// Polls until the transaction is final; resolves to its status.
    #[wasm_bindgen(js_name = waitFinal, unchecked_return_type = "Promise<string>")]
    pub fn wait_final(
        &self,
        gid: String,
        timeout_seconds: f64,
        interval_seconds: f64,
    ) -> JsResult<Promise> {
        let c = self.inner.dtm().clone();
        let (t, i) = (duration(timeout_seconds)?, duration(interval_seconds)?);
        Ok(promise(
            async move { c.wait_final(&gid, t, i).await },
            |s| s.as_str().into(),
        ))
    }

    /// A saga; `options` is `{gid, waitResult, ...}`.
    pub fn saga(&self, options: JsValue) -> JsResult<NativeSaga> {
        let (gid, o) = self::options(&options)?;
        Ok(NativeSaga::wrap(js(self.inner.saga(gid.as_deref(), &o))?))
    }

    /// A two-phase message.
    pub fn msg(&self, options: JsValue) -> JsResult<NativeMsg> {
        let (gid, o) = self::options(&options)?;
        Ok(NativeMsg::wrap(js(self.inner.msg(gid.as_deref(), &o))?))
    }

    /// A TCC global transaction.
    pub fn tcc(&self, options: JsValue) -> JsResult<NativeTcc> {
        let (gid, o) = self::options(&options)?;
        Ok(NativeTcc::wrap(js(self.inner.tcc(gid.as_deref(), &o))?))
    }

    /// A TCC nested in the branch a try request describes.
    #[wasm_bindgen(js_name = tccFromBranch)]
    pub fn tcc_from_branch(&self, branch: JsValue, options: JsValue) -> JsResult<NativeTcc> {
        let (_, o) = self::options(&options)?;
        let mut t = js(self.inner.tcc_from_branch(&branch_from_js(&branch)?))?;
        js(o.apply(t.options_mut()))?;
        Ok(NativeTcc::wrap(t))
    }

    /// An XA global transaction (the client side: branches are called over HTTP).
    pub fn xa(&self, options: JsValue) -> JsResult<NativeXa> {
        let (gid, o) = self::options(&options)?;
        Ok(NativeXa::wrap(js(self.inner.xa(gid.as_deref(), &o))?))
    }
}

fn duration(seconds: f64) -> JsResult<Duration> {
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| bad(format!("not a duration in seconds: {seconds}")))
}
