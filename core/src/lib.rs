//! dtmx: DTM-compatible distributed transactions.
//!
//! This crate is the shared core of the dtmx project, exported by every language binding:
//!
//! - the wire types of DTM's protocol and the rules every client and the server agree on
//!   (`protocol`, `outcome`, `error`);
//! - the TM side: `Saga`, `Msg`, `Tcc` and `Xa` builders that send exactly what DTM's Go
//!   SDK sends (`tm`), over a pluggable `Transport` (`transport`; the reqwest one, native
//!   and wasm32, behind the `client` feature);
//! - the RM side: branch requests from query strings or gRPC metadata, outcomes to HTTP or
//!   gRPC replies, the local XA branch (`rm`);
//! - the sub-transaction barrier as a sans-IO core: SQL per dialect and Redis scripts out,
//!   affected rows in, a decision back (`barrier`; sqlx and redis executors behind the
//!   `sqlx-postgres`, `sqlx-mysql`, `sqlx-sqlite` and `redis` features).
//!
//! Without features the crate does no I/O and compiles for wasm32-unknown-unknown.

pub mod barrier;
pub mod error;
pub mod json;
pub mod outcome;
pub mod protocol;
pub mod rm;
pub mod tm;
pub mod transport;

/// The version of this crate (and of every dtmx package built from it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use error::{Error, ErrorKind, Result};
pub use outcome::Outcome;
pub use protocol::{
    branch_id, BranchOp, DtmResult, MsgCustomData, Protocol, SagaCustomData, TransOptions,
    TransRequest, TransStatus, TransType,
};
pub use rm::Branch;
pub use tm::{Client, Msg, Saga, Tcc, Xa};
pub use transport::{HttpRequest, HttpResponse, Transport};
