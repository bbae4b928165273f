//! `NativeSaga`, `NativeMsg`, `NativeTcc` and `NativeXa`: the core's builders; every call
//! that talks to a server returns a Promise.

use crate::body::Body;
use crate::convert::{branch_to_js, js, object, payload, promise, unit, JsResult};
use dtmx_bindings::dtmx::tm;
use dtmx_bindings::dtmx::transport::HttpResponse;
use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;

/// `{status, body}` of a branch's reply, body as bytes.
fn reply(r: HttpResponse) -> JsValue {
    object(&[
        ("status", r.status.into()),
        ("body", Uint8Array::from(r.body.as_slice()).into()),
    ])
}

/// A saga under construction.
#[wasm_bindgen]
pub struct NativeSaga {
    inner: tm::Saga,
}

impl NativeSaga {
    /// Wraps the core builder.
    pub fn wrap(inner: tm::Saga) -> NativeSaga {
        NativeSaga { inner }
    }
}

#[wasm_bindgen]
impl NativeSaga {
    /// The gid.
    #[wasm_bindgen(getter)]
    pub fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// Adds a step.
    pub fn add(&mut self, action: String, compensate: String, data: JsValue) -> JsResult<()> {
        self.inner.add(action, compensate, payload(&data)?);
        Ok(())
    }

    /// Step `branch` starts after `pre_branches` (concurrent sagas).
    #[wasm_bindgen(js_name = addBranchOrder)]
    pub fn add_branch_order(&mut self, branch: u32, pre_branches: Vec<u32>) {
        let pre: Vec<usize> = pre_branches.into_iter().map(|b| b as usize).collect();
        self.inner.add_branch_order(branch as usize, &pre);
    }

    /// Runs the actions concurrently.
    #[wasm_bindgen(js_name = enableConcurrent)]
    pub fn enable_concurrent(&mut self) {
        self.inner.enable_concurrent();
    }

    /// Submits the saga.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn submit(&self) -> Promise {
        let s = self.inner.clone();
        promise(async move { s.submit().await }, unit)
    }
}

/// A two-phase message.
#[wasm_bindgen]
pub struct NativeMsg {
    inner: tm::Msg,
}

impl NativeMsg {
    /// Wraps the core builder.
    pub fn wrap(inner: tm::Msg) -> NativeMsg {
        NativeMsg { inner }
    }
}

#[wasm_bindgen]
impl NativeMsg {
    /// The gid.
    #[wasm_bindgen(getter)]
    pub fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// Adds a step.
    pub fn add(&mut self, action: String, data: JsValue) -> JsResult<()> {
        self.inner.add(action, payload(&data)?);
        Ok(())
    }

    /// Adds a step for every subscriber of `topic`.
    #[wasm_bindgen(js_name = addTopic)]
    pub fn add_topic(&mut self, topic: String, data: JsValue) -> JsResult<()> {
        self.inner.add_topic(&topic, payload(&data)?);
        Ok(())
    }

    /// Delivers the steps `seconds` after the submit.
    #[wasm_bindgen(js_name = setDelay)]
    pub fn set_delay(&mut self, seconds: u32) {
        self.inner.set_delay(u64::from(seconds));
    }

    /// Delivers the steps concurrently.
    #[wasm_bindgen(js_name = enableConcurrent)]
    pub fn enable_concurrent(&mut self) {
        self.inner.enable_concurrent();
    }

    /// Prepares with `query_prepared` as the check-back URL (kept for the submit).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn prepare(&mut self, query_prepared: String) -> JsResult<Promise> {
        js(self.inner.prepare_request(&query_prepared))?;
        let mut m = self.inner.clone();
        Ok(promise(async move { m.prepare("").await }, unit))
    }

    /// Submits (with `waitResult`, the transaction is read back when dtm refuses).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn submit(&self) -> Promise {
        let mut m = self.inner.clone();
        promise(async move { m.submit().await }, unit)
    }

    /// Aborts a prepared message.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn abort(&self) -> Promise {
        let m = self.inner.clone();
        promise(async move { m.abort().await }, unit)
    }

    /// The core's `Msg::do_and_submit` with `busi(branch)` (the local work, returning a
    /// value or a Promise) as its body: resolves to the body's value; what the body threw
    /// is thrown again, with the core's notes as its `notes`.
    #[wasm_bindgen(js_name = doAndSubmit, unchecked_return_type = "Promise<any>")]
    pub fn do_and_submit(&self, query_prepared: String, busi: Function) -> Promise {
        let mut m = self.inner.clone();
        let body = Body::new(busi);
        let b = body.clone();
        body.promise(async move {
            m.do_and_submit(&query_prepared, move |branch| b.call(branch_to_js(&branch)))
                .await
        })
    }
}

/// A TCC global transaction (or one nested in a branch).
#[wasm_bindgen]
pub struct NativeTcc {
    inner: tm::Tcc,
}

impl NativeTcc {
    /// Wraps the core builder.
    pub fn wrap(inner: tm::Tcc) -> NativeTcc {
        NativeTcc { inner }
    }
}

#[wasm_bindgen]
impl NativeTcc {
    /// The gid.
    #[wasm_bindgen(getter)]
    pub fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// The id of the last branch created.
    #[wasm_bindgen(js_name = currentBranchId)]
    pub fn current_branch_id(&self) -> String {
        self.inner.current_branch_id()
    }

    /// Prepares the global transaction.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn prepare(&self) -> Promise {
        let t = self.inner.clone();
        promise(async move { t.prepare().await }, unit)
    }

    /// Submits: dtm confirms every branch.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn submit(&self) -> Promise {
        let t = self.inner.clone();
        promise(async move { t.submit().await }, unit)
    }

    /// Aborts: dtm cancels every branch; `reason` is recorded.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn abort(&self, reason: String) -> Promise {
        let t = self.inner.clone();
        promise(async move { t.abort(&reason).await }, unit)
    }

    /// The core's `Tcc::run` with `busi()` (returning a value or a Promise) as its body:
    /// resolves to the body's value; what the body threw is thrown again, with the core's
    /// notes as its `notes`.
    #[wasm_bindgen(unchecked_return_type = "Promise<any>")]
    pub fn run(&self, busi: Function) -> Promise {
        let t = self.inner.clone();
        let body = Body::new(busi);
        let b = body.clone();
        body.promise(async move { t.run(move |_| b.call(JsValue::UNDEFINED)).await })
    }

    /// Registers a branch and calls its try URL; resolves to the try's `{status, body}`.
    #[wasm_bindgen(js_name = callBranch, unchecked_return_type = "Promise<{status: number, body: Uint8Array}>")]
    pub fn call_branch(
        &self,
        data: JsValue,
        try_url: String,
        confirm_url: String,
        cancel_url: String,
    ) -> JsResult<Promise> {
        let (t, body) = (self.inner.clone(), payload(&data)?);
        Ok(promise(
            async move {
                t.call_branch(&body, &try_url, &confirm_url, &cancel_url)
                    .await
            },
            reply,
        ))
    }
}

/// An XA global transaction (client side).
#[wasm_bindgen]
pub struct NativeXa {
    inner: tm::Xa,
}

impl NativeXa {
    /// Wraps the core builder.
    pub fn wrap(inner: tm::Xa) -> NativeXa {
        NativeXa { inner }
    }
}

#[wasm_bindgen]
impl NativeXa {
    /// The gid.
    #[wasm_bindgen(getter)]
    pub fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// The id of the last branch created.
    #[wasm_bindgen(js_name = currentBranchId)]
    pub fn current_branch_id(&self) -> String {
        self.inner.current_branch_id()
    }

    /// Prepares the global transaction.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn prepare(&self) -> Promise {
        let t = self.inner.clone();
        promise(async move { t.prepare().await }, unit)
    }

    /// Submits: dtm commits every branch.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn submit(&self) -> Promise {
        let t = self.inner.clone();
        promise(async move { t.submit().await }, unit)
    }

    /// Aborts: dtm rolls back every branch.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn abort(&self) -> Promise {
        let t = self.inner.clone();
        promise(async move { t.abort().await }, unit)
    }

    /// The core's `Xa::run` with `busi()` (returning a value or a Promise) as its body:
    /// resolves to the body's value; what the body threw is thrown again, with the core's
    /// notes as its `notes`.
    #[wasm_bindgen(unchecked_return_type = "Promise<any>")]
    pub fn run(&self, busi: Function) -> Promise {
        let t = self.inner.clone();
        let body = Body::new(busi);
        let b = body.clone();
        body.promise(async move { t.run(move |_| b.call(JsValue::UNDEFINED)).await })
    }

    /// Calls a new branch at `url`; resolves to its `{status, body}`.
    #[wasm_bindgen(js_name = callBranch, unchecked_return_type = "Promise<{status: number, body: Uint8Array}>")]
    pub fn call_branch(&self, data: JsValue, url: String) -> JsResult<Promise> {
        let (t, body) = (self.inner.clone(), payload(&data)?);
        Ok(promise(
            async move { t.call_branch(&body, &url).await },
            reply,
        ))
    }
}
