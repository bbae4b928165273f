//! `dtmx.node`: the Node.js face of dtmx-bindings. Types and names are translated here;
//! the JavaScript package (`index.js`) adds the idioms on top: Promises, `Error`
//! subclasses, camelCase options, Express and Fastify helpers, barriers on the caller's
//! own database client.

// napi-derive registers exports only outside `cfg(test)`, so a test build sees them unused.
#![cfg_attr(test, allow(dead_code))]

mod barrier;
mod client;
mod errors;
mod rm;
mod run;
mod trans;
mod xa_local;

/// The version of dtmx (the core's `dtmx::VERSION`).
#[napi_derive::napi(catch_unwind)]
pub fn version() -> String {
    dtmx_bindings::dtmx::VERSION.to_string()
}
