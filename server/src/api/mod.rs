//! Front doors: each decodes its protocol into service calls and encodes the replies.

pub mod admin;
pub mod auth;
pub mod cors;
pub mod grpc;
pub mod http;
pub mod json;
pub mod jsonrpc;
