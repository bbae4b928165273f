//! The callback entry points over the bindings' runtime. A long call runs on the runtime's
//! threads and reports `done(error, value)` on the JS thread through a threadsafe
//! function, so the event loop never waits (`error`: `null`, or the description of
//! [`crate::errors::describe`]). A [`Body`] is JavaScript code the core runs in the
//! middle of a call (the body of `run()`, the local work of `do_and_submit()`): the core
//! hands it a [`Resume`] on the JS thread and waits until JavaScript resumes it.

use crate::errors::{describe, from_napi, js, thrown};
use crate::rm::Branch;
use dtmx_bindings::{runtime, Error, ErrorKind};
use napi::threadsafe_function::{
    ErrorStrategy, ThreadSafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode,
};
use napi::{Env, JsFunction, JsUnknown};
use napi_derive::napi;
use std::future::Future;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// What a finished call hands to JavaScript.
pub enum Value {
    /// `undefined`.
    Unit,
    /// A string.
    Text(String),
    /// A branch's reply: `{status, body}` with `body` a Buffer.
    Reply(u16, Vec<u8>),
}

type Reported = dtmx_bindings::Result<Value>;

/// `done` as a function callable from the runtime's threads.
pub fn reporter(
    done: JsFunction,
) -> napi::Result<ThreadsafeFunction<Reported, ErrorStrategy::Fatal>, String> {
    done.create_threadsafe_function(0, |ctx: ThreadSafeCallContext<Reported>| {
        let env = ctx.env;
        match ctx.value {
            Ok(v) => Ok(vec![env.get_null()?.into_unknown(), to_js_value(env, v)?]),
            Err(e) => Ok(vec![
                env.to_js_value(&describe(&e))?,
                env.get_undefined()?.into_unknown(),
            ]),
        }
    })
    .map_err(from_napi)
}

fn to_js_value(env: Env, v: Value) -> napi::Result<JsUnknown> {
    Ok(match v {
        Value::Unit => env.get_undefined()?.into_unknown(),
        Value::Text(s) => env.create_string(&s)?.into_unknown(),
        Value::Reply(status, body) => {
            let mut o = env.create_object()?;
            o.set_named_property("status", env.create_uint32(u32::from(status))?)?;
            let b = env.create_buffer_with_data(body)?.into_raw();
            o.set_named_property("body", b)?;
            o.into_unknown()
        }
    })
}

/// Runs `future` on the runtime; `done` gets its result, made a [`Value`] by `convert`.
pub fn spawn<T, F>(future: F, done: JsFunction, convert: fn(T) -> Value) -> napi::Result<(), String>
where
    T: Send + 'static,
    F: Future<Output = dtmx_bindings::Result<T>> + Send + 'static,
{
    let report = reporter(done)?;
    js(runtime::spawn(future, move |r| {
        report.call(r.map(convert), ThreadsafeFunctionCallMode::NonBlocking);
    }))
}

/// No value.
pub fn unit(_: ()) -> Value {
    Value::Unit
}

/// A string value.
pub fn text(s: String) -> Value {
    Value::Text(s)
}

/// JavaScript code the core runs: `on_body(resume)` is called on the JS thread, and the
/// core goes on once `resume.ok()` or `resume.err(..)` was called.
pub struct Body(ThreadsafeFunction<Resume, ErrorStrategy::Fatal>);

impl Body {
    /// The body `on_body`.
    pub fn new(on_body: JsFunction) -> napi::Result<Body, String> {
        on_body
            .create_threadsafe_function(0, |ctx: ThreadSafeCallContext<Resume>| Ok(vec![ctx.value]))
            .map(Body)
            .map_err(from_napi)
    }

    /// Runs the body (with `branch`, the msg barrier's identity, for `do_and_submit`);
    /// resolves to how JavaScript resumed it.
    pub fn call(
        &self,
        branch: Option<Branch>,
    ) -> impl Future<Output = dtmx_bindings::Result<()>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let resume = Resume {
            branch,
            sender: Mutex::new(Some(tx)),
        };
        self.0.call(resume, ThreadsafeFunctionCallMode::NonBlocking);
        async move {
            rx.await.unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Internal,
                    "the JavaScript body was never resumed",
                ))
            })
        }
    }
}

/// Resumes the core once a JavaScript body ended.
#[napi]
pub struct Resume {
    branch: Option<Branch>,
    sender: Mutex<Option<oneshot::Sender<dtmx_bindings::Result<()>>>>,
}

#[napi]
impl Resume {
    /// The branch the local work of `do_and_submit` runs in (its barrier identity);
    /// `null` for the body of `run()`.
    #[napi(getter, catch_unwind)]
    pub fn branch(&self) -> Option<Branch> {
        self.branch.clone()
    }

    /// The body succeeded.
    #[napi(catch_unwind)]
    pub fn ok(&self) {
        self.send(Ok(()));
    }

    /// The body threw: a dtmx error of `kind`, or (`null`) the host's own error (see
    /// [`thrown`]).
    #[napi(catch_unwind)]
    pub fn err(&self, kind: Option<String>, message: String) {
        self.send(Err(thrown(kind.as_deref(), message)));
    }
}

impl Resume {
    fn send(&self, r: dtmx_bindings::Result<()>) {
        if let Some(tx) = self.sender.lock().ok().and_then(|mut s| s.take()) {
            let _ = tx.send(r);
        }
    }
}
