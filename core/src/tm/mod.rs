//! TM side: start and drive global transactions the way DTM's Go SDK does.
//!
//! Every builder sends exactly the JSON DTM's Go SDK (`dtmcli`) sends for the same calls
//! (PROTOCOL.md §1.2; checked against the real SDK by `tests/vectors/capture`), through the
//! [`Transport`](crate::transport::Transport) of a [`Client`]:
//!
//! * [`Saga`]: steps with action and compensation, optional concurrency with orders;
//! * [`Msg`]: two-phase message: prepare, submit, abort, or [`Msg::do_and_submit`];
//! * [`Tcc`]: try-confirm-cancel, driven by the client, nested from a branch;
//! * [`Xa`]: XA global transaction (the RM side is [`crate::rm::xa`]).
//!
//! Each builder also exposes the requests it would send (`*_request` methods), so a host
//! can send them itself.

mod body;
mod branch_id;
mod client;
mod gid;
mod global;
mod msg;
mod options;
mod saga;
mod tcc;
mod xa;

pub use body::{encode_register, encode_trans};
pub use branch_id::{BranchIdGen, MAX_BRANCH_ID_PARENT_LEN, MAX_SUB_BRANCHES};
pub use client::{check_branch_reply, check_server_reply, Client};
pub use gid::GidGenerator;
pub use msg::{Msg, MSG_CHECK_BRANCH_ID, TOPIC_PREFIX};
pub use options::INVALID_PAYLOAD;
pub use saga::Saga;
pub use tcc::Tcc;
pub use xa::Xa;
