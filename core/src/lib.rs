//! dtmx: DTM-compatible distributed transactions.
//!
//! This crate is the shared core of the dtmx project: the wire types of DTM's protocol
//! (global transactions, branches, statuses, operations, results) and the rules that every
//! client and the server agree on (how a branch reply maps to an outcome, how branch ids are
//! formed). It performs no I/O.

pub mod error;
pub mod json;
pub mod outcome;
pub mod protocol;

pub use error::{Error, ErrorKind, Result};
pub use outcome::Outcome;
pub use protocol::{
    branch_id, BranchOp, DtmResult, MsgCustomData, Protocol, SagaCustomData, TransOptions,
    TransRequest, TransStatus, TransType,
};
