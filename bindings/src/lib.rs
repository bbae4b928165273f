//! dtmx-bindings: the language-neutral facade that the Python, Node.js, C and WASM packages
//! call (DESIGN.md §4). Language crates only translate types and names; everything a
//! binding would otherwise decide on its own lives here:
//!
//! - [`error`]: the one table from error kinds to stable codes and exception class names;
//! - [`options`]: transaction options as hosts pass them, with defaults and validation;
//! - [`client`]: a validated [`Client`] that makes the `Saga`, `Msg`, `Tcc` and `Xa`
//!   builders of the core, with local gids by default;
//! - [`transport`]: a transport over a host callback, for hosts that bring their own HTTP;
//! - [`branch`]: the business-service side: branch requests in, replies out;
//! - [`barrier`]: barrier tables by name, SQL rendered in the host driver's parameter
//!   style, and the core's `Guard`: one guarded call as the actions a host carries out on
//!   its driver, with the one rule for who owns the database transaction;
//! - [`runtime`] (native targets only): the per-process runtime behind the blocking and
//!   callback entry points, created lazily and refusing to run after `fork()`. On wasm32
//!   there are no threads: the host's event loop drives the core's futures directly.

pub mod barrier;
pub mod branch;
pub mod client;
pub mod error;
pub mod options;
#[cfg(not(target_arch = "wasm32"))]
pub mod runtime;
pub mod transport;

pub use client::Client;
pub use dtmx;
pub use error::{Error, ErrorKind, Result};
pub use options::Options;
