//! The business-service side: branch identities, and outcomes to replies and back.

use crate::errors::{js, kind_named};
use crate::trans::{bytes, Payload};
use dtmx_bindings::branch::{self, outcome_named, outcome_of_error, outcome_parts, Outcome};
use dtmx_bindings::dtmx::rm;
use dtmx_bindings::dtmx::tm;
use dtmx_bindings::error::invalid;
use napi_derive::napi;
use std::collections::HashMap;

/// The identity of a branch call (from its query string or gRPC metadata).
#[napi(object)]
#[derive(Clone, Default)]
pub struct Branch {
    /// Global transaction id.
    pub gid: String,
    /// Transaction type.
    pub trans_type: String,
    /// Branch id.
    pub branch_id: String,
    /// Operation.
    pub op: String,
    /// The DTM server URL (TCC and XA calls).
    pub dtm: String,
    /// XA phase-2 URL.
    pub phase2_url: String,
}

impl From<&branch::Branch> for Branch {
    fn from(b: &branch::Branch) -> Self {
        Branch {
            gid: b.gid.clone(),
            trans_type: b.trans_type.clone(),
            branch_id: b.branch_id.clone(),
            op: b.op.clone(),
            dtm: b.dtm.clone(),
            phase2_url: b.phase2_url.clone(),
        }
    }
}

impl Branch {
    /// The facade value (sanitised like a parsed query).
    pub fn to_facade(&self) -> branch::Branch {
        branch::Branch::from_query_pairs([
            ("gid", self.gid.as_str()),
            ("trans_type", &self.trans_type),
            ("branch_id", &self.branch_id),
            ("op", &self.op),
            ("dtm", &self.dtm),
            ("phase2_url", &self.phase2_url),
        ])
    }
}

/// Reads a query string (`gid=...&op=...`, with or without `?`).
#[napi(catch_unwind)]
pub fn branch_from_query_string(query: String) -> Branch {
    Branch::from(&branch::Branch::from_query(&query))
}

/// Reads decoded query parameters (an Express or Fastify `req.query`).
#[napi(catch_unwind)]
pub fn branch_from_query(query: HashMap<String, String>) -> Branch {
    Branch::from(&branch::Branch::from_query_pairs(query))
}

/// Reads gRPC metadata (`dtm-gid`, ...).
#[napi(catch_unwind)]
pub fn branch_from_grpc_metadata(metadata: HashMap<String, String>) -> Branch {
    Branch::from(&branch::Branch::from_grpc_metadata(metadata))
}

/// The identity as query pairs (sorted, empty ones left out), as `[key, value]` arrays.
#[napi(catch_unwind)]
pub fn branch_to_query(branch: Branch) -> Vec<Vec<String>> {
    branch
        .to_facade()
        .to_query()
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v.to_string()])
        .collect()
}

/// An HTTP reply to send.
#[napi(object)]
pub struct Reply {
    /// The status code.
    pub status: u32,
    /// The JSON body text.
    pub body: String,
}

/// An outcome and its message.
#[napi(object)]
pub struct OutcomeParts {
    /// `success`, `failure`, `ongoing` or `unknown`.
    pub outcome: String,
    /// The message (failure and ongoing: the reply body).
    pub message: String,
}

fn named(outcome: &str, message: &str) -> napi::Result<Outcome, String> {
    js(outcome_named(outcome, message)
        .ok_or_else(|| invalid(format!("unknown outcome {outcome:?}"))))
}

fn parts(o: &Outcome) -> OutcomeParts {
    let (n, m) = outcome_parts(o);
    OutcomeParts {
        outcome: n.to_string(),
        message: m.to_string(),
    }
}

fn to_reply(o: &Outcome) -> Reply {
    let r = branch::outcome_reply(o);
    Reply {
        status: u32::from(r.status),
        body: r.body,
    }
}

/// The HTTP reply for an outcome (`success`, `failure`, `ongoing`, `unknown`).
#[napi(catch_unwind)]
pub fn outcome_reply(outcome: String, message: String) -> napi::Result<Reply, String> {
    Ok(to_reply(&named(&outcome, &message)?))
}

/// The HTTP reply for a handler's error of dtmx kind `kind` (`null`: any other error,
/// retried, never a rollback).
#[napi(catch_unwind)]
pub fn error_reply(kind: Option<String>, message: String) -> Reply {
    let k = kind.as_deref().and_then(kind_named);
    to_reply(&outcome_of_error(k, &message))
}

/// The outcome of a handler's error, as [`error_reply`] decides it.
#[napi(catch_unwind)]
pub fn error_outcome(kind: Option<String>, message: String) -> OutcomeParts {
    let k = kind.as_deref().and_then(kind_named);
    parts(&outcome_of_error(k, &message))
}

/// How dtm reads a branch's HTTP reply.
#[napi(catch_unwind)]
pub fn outcome_from_http(status: u32, body: Payload) -> OutcomeParts {
    let status = u16::try_from(status).unwrap_or(u16::MAX);
    parts(&Outcome::from_http(status, &bytes(body)))
}

/// The gRPC code for an outcome.
#[napi(catch_unwind)]
pub fn grpc_code(outcome: String, message: String) -> napi::Result<i32, String> {
    Ok(rm::grpc_code(&named(&outcome, &message)?).code())
}

/// The outcome of a gRPC status.
#[napi(catch_unwind)]
pub fn outcome_from_grpc(code: i32, message: String) -> OutcomeParts {
    parts(&rm::outcome_from_grpc(code, &message))
}

/// Throws the error a branch's reply to the client's own call stands for (TCC try, XA
/// action, msg check-back).
#[napi(catch_unwind)]
pub fn check_branch_reply(status: u32, body: Payload) -> napi::Result<(), String> {
    let status = u16::try_from(status).unwrap_or(u16::MAX);
    js(tm::check_branch_reply(status, &bytes(body)))
}

/// Throws the error a reply of the DTM server stands for.
#[napi(catch_unwind)]
pub fn check_server_reply(status: u32, body: Payload) -> napi::Result<(), String> {
    let status = u16::try_from(status).unwrap_or(u16::MAX);
    js(tm::check_server_reply(status, &bytes(body)))
}
