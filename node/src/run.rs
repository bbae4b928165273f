//! The callback entry point over the bindings' runtime: a long call runs on the runtime's
//! threads and reports `done(kind, message, value)` on the JS thread through a
//! threadsafe function, so the event loop never waits.

use crate::errors::{from_napi, js};
use dtmx_bindings::runtime;
use napi::threadsafe_function::{
    ErrorStrategy, ThreadSafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode,
};
use napi::{Env, JsFunction, JsUnknown};
use std::future::Future;

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
            Ok(v) => Ok(vec![
                env.get_null()?.into_unknown(),
                env.get_null()?.into_unknown(),
                to_js_value(env, v)?,
            ]),
            Err(e) => Ok(vec![
                env.create_string(e.kind().as_str())?.into_unknown(),
                env.create_string(e.message())?.into_unknown(),
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
