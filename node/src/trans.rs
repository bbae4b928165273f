//! `Saga`, `Msg`, `Tcc` and `Xa`: the core's builders; every call that talks to a server
//! runs on the runtime and reports to a `done` callback (`index.js` makes it a Promise).

use crate::errors::js;
use crate::rm::Branch;
use crate::run::{spawn, unit, Body, Value};
use dtmx_bindings::dtmx::{tm, transport::HttpResponse};
use napi::bindgen_prelude::{Buffer, Either};
use napi::JsFunction;
use napi_derive::napi;

/// A payload given as a string or a Buffer.
pub type Payload = Either<String, Buffer>;

/// The bytes of a payload.
pub fn bytes(p: Payload) -> Vec<u8> {
    match p {
        Either::A(s) => s.into_bytes(),
        Either::B(b) => b.to_vec(),
    }
}

fn reply(r: HttpResponse) -> Value {
    Value::Reply(r.status, r.body)
}

/// A saga under construction.
#[napi]
pub struct Saga {
    inner: tm::Saga,
}

impl Saga {
    /// Wraps the core builder.
    pub fn wrap(inner: tm::Saga) -> Saga {
        Saga { inner }
    }
}

#[napi]
impl Saga {
    /// The gid.
    #[napi(getter, catch_unwind)]
    pub fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// Adds a step.
    #[napi(catch_unwind)]
    pub fn add(&mut self, action: String, compensate: String, payload: Payload) {
        self.inner.add(action, compensate, bytes(payload));
    }

    /// Step `branch` starts after `pre_branches` (concurrent sagas).
    #[napi(catch_unwind)]
    pub fn add_branch_order(&mut self, branch: u32, pre_branches: Vec<u32>) {
        let pre: Vec<usize> = pre_branches.into_iter().map(|b| b as usize).collect();
        self.inner.add_branch_order(branch as usize, &pre);
    }

    /// Runs the actions concurrently.
    #[napi(catch_unwind)]
    pub fn enable_concurrent(&mut self) {
        self.inner.enable_concurrent();
    }

    /// Submits the saga, reporting to `done`.
    #[napi(catch_unwind)]
    pub fn submit(&self, done: JsFunction) -> napi::Result<(), String> {
        let s = self.inner.clone();
        spawn(async move { s.submit().await }, done, unit)
    }
}

/// A two-phase message.
#[napi]
pub struct Msg {
    inner: tm::Msg,
    client: tm::Client,
}

impl Msg {
    /// Wraps the core builder.
    pub fn wrap(inner: tm::Msg, client: tm::Client) -> Msg {
        Msg { inner, client }
    }
}

#[napi]
impl Msg {
    /// The gid.
    #[napi(getter, catch_unwind)]
    pub fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// Adds a step.
    #[napi(catch_unwind)]
    pub fn add(&mut self, action: String, payload: Payload) {
        self.inner.add(action, bytes(payload));
    }

    /// Adds a step for every subscriber of `topic`.
    #[napi(catch_unwind)]
    pub fn add_topic(&mut self, topic: String, payload: Payload) {
        self.inner.add_topic(&topic, bytes(payload));
    }

    /// Delivers the steps `seconds` after the submit.
    #[napi(catch_unwind)]
    pub fn set_delay(&mut self, seconds: u32) {
        self.inner.set_delay(u64::from(seconds));
    }

    /// Delivers the steps concurrently.
    #[napi(catch_unwind)]
    pub fn enable_concurrent(&mut self) {
        self.inner.enable_concurrent();
    }

    /// Prepares with `query_prepared` as the check-back URL, reporting to `done`.
    #[napi(catch_unwind)]
    pub fn prepare(
        &mut self,
        query_prepared: String,
        done: JsFunction,
    ) -> napi::Result<(), String> {
        let req = js(self.inner.prepare_request(&query_prepared))?;
        let c = self.client.clone();
        spawn(async move { c.call_dtm(req).await.map(|_| ()) }, done, unit)
    }

    /// Submits (with `waitResult`, the core reads the transaction back), reporting to
    /// `done`.
    #[napi(catch_unwind)]
    pub fn submit(&self, done: JsFunction) -> napi::Result<(), String> {
        let mut m = self.inner.clone();
        spawn(async move { m.submit().await }, done, unit)
    }

    /// Aborts a prepared message, reporting to `done`.
    #[napi(catch_unwind)]
    pub fn abort(&self, done: JsFunction) -> napi::Result<(), String> {
        let m = self.inner.clone();
        spawn(async move { m.abort().await }, done, unit)
    }

    /// The core's `do_and_submit`: prepare, the local work, then submit, abort or ask the
    /// check-back. `on_barrier(resume)` is called on the JS thread: the host runs the local
    /// work for `resume.branch` and calls `resume.ok()` or `resume.err(kind, message)`;
    /// `done` reports the end (the local work's error, with the core's notes, when it
    /// failed).
    #[napi(catch_unwind)]
    pub fn do_and_submit(
        &self,
        query_prepared: String,
        on_barrier: JsFunction,
        done: JsFunction,
    ) -> napi::Result<(), String> {
        let body = Body::new(on_barrier)?;
        let mut m = self.inner.clone();
        let future = async move {
            m.do_and_submit(&query_prepared, move |branch| {
                body.call(Some(Branch::from(&branch)))
            })
            .await
        };
        spawn(future, done, unit)
    }
}

/// A TCC global transaction (or one nested in a branch).
#[napi]
pub struct Tcc {
    inner: tm::Tcc,
}

impl Tcc {
    /// Wraps the core builder.
    pub fn wrap(inner: tm::Tcc) -> Tcc {
        Tcc { inner }
    }
}

#[napi]
impl Tcc {
    /// The gid.
    #[napi(getter, catch_unwind)]
    pub fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// The id of the last branch created.
    #[napi(catch_unwind)]
    pub fn current_branch_id(&self) -> String {
        self.inner.current_branch_id()
    }

    /// Prepares the global transaction, reporting to `done`.
    #[napi(catch_unwind)]
    pub fn prepare(&self, done: JsFunction) -> napi::Result<(), String> {
        let t = self.inner.clone();
        spawn(async move { t.prepare().await }, done, unit)
    }

    /// Submits (dtm confirms every branch), reporting to `done`.
    #[napi(catch_unwind)]
    pub fn submit(&self, done: JsFunction) -> napi::Result<(), String> {
        let t = self.inner.clone();
        spawn(async move { t.submit().await }, done, unit)
    }

    /// Aborts (dtm cancels every branch) with `reason` recorded, reporting to `done`.
    #[napi(catch_unwind)]
    pub fn abort(&self, reason: String, done: JsFunction) -> napi::Result<(), String> {
        let t = self.inner.clone();
        spawn(async move { t.abort(&reason).await }, done, unit)
    }

    /// Registers a branch and calls its try URL; `{status, body}` of the try to `done`.
    #[napi(catch_unwind)]
    pub fn call_branch(
        &self,
        payload: Payload,
        try_url: String,
        confirm_url: String,
        cancel_url: String,
        done: JsFunction,
    ) -> napi::Result<(), String> {
        let (t, body) = (self.inner.clone(), bytes(payload));
        spawn(
            async move {
                t.call_branch(&body, &try_url, &confirm_url, &cancel_url)
                    .await
            },
            done,
            reply,
        )
    }

    /// The core's `run`: prepare, the body, then submit, or abort with the body's error
    /// as the rollback reason. `on_body(resume)` is called on the JS thread: the host
    /// runs the body and calls `resume.ok()` or `resume.err(kind, message)`; `done`
    /// reports the end.
    #[napi(catch_unwind)]
    pub fn run(&self, on_body: JsFunction, done: JsFunction) -> napi::Result<(), String> {
        let body = Body::new(on_body)?;
        let t = self.inner.clone();
        spawn(
            async move { t.run(move |_| body.call(None)).await },
            done,
            unit,
        )
    }
}

/// An XA global transaction.
#[napi]
pub struct Xa {
    inner: tm::Xa,
}

impl Xa {
    /// Wraps the core builder.
    pub fn wrap(inner: tm::Xa) -> Xa {
        Xa { inner }
    }
}

#[napi]
impl Xa {
    /// The gid.
    #[napi(getter, catch_unwind)]
    pub fn gid(&self) -> String {
        self.inner.gid().to_string()
    }

    /// The id of the last branch created.
    #[napi(catch_unwind)]
    pub fn current_branch_id(&self) -> String {
        self.inner.current_branch_id()
    }

    /// Prepares the global transaction, reporting to `done`.
    #[napi(catch_unwind)]
    pub fn prepare(&self, done: JsFunction) -> napi::Result<(), String> {
        let t = self.inner.clone();
        spawn(async move { t.prepare().await }, done, unit)
    }

    /// Submits (dtm commits every branch), reporting to `done`.
    #[napi(catch_unwind)]
    pub fn submit(&self, done: JsFunction) -> napi::Result<(), String> {
        let t = self.inner.clone();
        spawn(async move { t.submit().await }, done, unit)
    }

    /// Aborts (dtm rolls back every branch), reporting to `done`.
    #[napi(catch_unwind)]
    pub fn abort(&self, done: JsFunction) -> napi::Result<(), String> {
        let t = self.inner.clone();
        spawn(async move { t.abort().await }, done, unit)
    }

    /// Calls a new branch at `url`; `{status, body}` of its reply to `done`.
    #[napi(catch_unwind)]
    pub fn call_branch(
        &self,
        payload: Payload,
        url: String,
        done: JsFunction,
    ) -> napi::Result<(), String> {
        let (t, body) = (self.inner.clone(), bytes(payload));
        spawn(async move { t.call_branch(&body, &url).await }, done, reply)
    }

    /// The core's `run`: prepare, the body, then submit, or abort. As [`Tcc::run`].
    #[napi(catch_unwind)]
    pub fn run(&self, on_body: JsFunction, done: JsFunction) -> napi::Result<(), String> {
        let body = Body::new(on_body)?;
        let t = self.inner.clone();
        spawn(
            async move { t.run(move |_| body.call(None)).await },
            done,
            unit,
        )
    }
}
