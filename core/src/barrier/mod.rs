//! The sub-transaction barrier (PROTOCOL.md §7): exactly-once business effects in spite of
//! duplicated, reordered and late branch calls, null compensations and suspended tries.
//!
//! The barrier runs inside the caller's own local transaction, on the caller's own driver.
//! This module performs no I/O: it says *what* to run and decides from what the host
//! reports back (DESIGN.md §3).
//!
//! * [`Barrier`] is built from a branch request (`trans_type`, `gid`, `branch_id`, `op`) and
//!   hands out barrier ids `01`, `02`, ... to the local transactions it guards.
//! * [`Barrier::call_machine`] starts a [`BarrierCall`]: a small state machine whose [`Step`]s are
//!   SQL [`Statement`]s for a [`BarrierTable`] (dialect + table name); the host runs each one
//!   in its transaction, feeds back the affected rows (or the queried reason), and finally
//!   gets a [`Decision`]: run the business code, or skip it and commit, or roll back.
//! * [`Barrier::query_prepared_machine`] is the msg check-back ([`QueryPrepared`]).
//! * [`Guard`] wraps a call or a check-back into everything a host does around it: begin,
//!   statements, business code, commit or rollback, as [`Action`]s, with the one rule for
//!   who owns the database transaction ([`Ownership`]). Language packages drive a `Guard`
//!   so that no host decides when to commit, roll back or raise.
//! * [`Barrier::xa_action_machine`] and [`Barrier::xa_rollback_fence`] are the XA barrier rows.
//! * [`Barrier::redis_check_adjust_amount_call`] and [`Barrier::redis_query_prepared_call`] are the
//!   Redis barrier: Lua text, keys and arguments, and the meaning of the script's reply.
//!
//! A host drives a call like this (pseudo-code; every binding has the same loop):
//!
//! ```
//! use dtmx::barrier::{Barrier, BarrierTable, Decision, Dialect, Step};
//!
//! let mut barrier = Barrier::new("tcc", "gid-1", "01", "cancel")?;
//! let mut call = barrier.call_machine(&BarrierTable::new(Dialect::Postgres));
//! let decision = loop {
//!     match call.step() {
//!         // run statement.sql with statement.params in the transaction ...
//!         Step::Execute(_statement) => call.feed_affected(1)?,
//!         // ... or run the query and hand back the first column of the first row
//!         Step::QueryReason(_statement) => call.feed_reason(None)?,
//!         Step::Done(decision) => break *decision,
//!     };
//! };
//! // The try never ran: skip the cancel's business code and commit.
//! assert_eq!(decision, Decision::NullCompensation);
//! # Ok::<(), dtmx::Error>(())
//! ```
//!
//! With the features `sqlx-postgres`, `sqlx-mysql`, `sqlx-sqlite` and `redis`, the modules
//! `postgres`, `mysql`, `sqlite` and the functions of [`redis`] run all of this on sqlx and
//! the redis crate.

#![warn(missing_docs)]

mod call;
mod check_back;
mod guard;
pub mod redis;
mod render;
mod sql;
mod xa;

#[cfg(any(
    feature = "sqlx-postgres",
    feature = "sqlx-mysql",
    feature = "sqlx-sqlite"
))]
mod sqlx_exec;
#[cfg(feature = "sqlx-mysql")]
pub use sqlx_exec::mysql;
#[cfg(feature = "sqlx-postgres")]
pub use sqlx_exec::postgres;
#[cfg(feature = "sqlx-sqlite")]
pub use sqlx_exec::sqlite;
#[cfg(any(
    feature = "sqlx-postgres",
    feature = "sqlx-mysql",
    feature = "sqlx-sqlite"
))]
pub use sqlx_exec::{BusiFuture, CallOutput};

pub use call::{origin_op, BarrierCall, Decision, Step};
pub use check_back::{check_back, QueryPrepared};
pub use guard::{Action, Guard, Ownership};
pub use redis::{RedisCall, RedisDecision, RedisQueryPrepared, REDIS_DEFAULT_EXPIRE};
pub use render::ParamStyle;
pub use sql::{BarrierTable, Dialect, Statement, DEFAULT_SQLITE_TABLE, DEFAULT_TABLE};

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::strip;

/// Branch id of the msg check-back and of the `DoAndSubmit` barrier.
pub const MSG_BRANCH_ID: &str = "00";
/// Op of the msg check-back and of the `DoAndSubmit` barrier.
pub const MSG_OP: &str = "msg";
/// Barrier id of the msg check-back row and of the XA barrier row.
pub const FIRST_BARRIER_ID: &str = "01";
/// `reason` of a row inserted to fence an op that has not run (and now never will).
pub const REASON_ROLLBACK: &str = "rollback";

/// The barrier of one branch call: its identity and the counter of barrier ids.
///
/// Every guarded local transaction of the same branch call ([`Barrier::call_machine`],
/// [`Barrier::redis_check_adjust_amount_call`]) gets the next barrier id, `01`, `02`, ..., so a
/// handler may guard several local transactions. Build a fresh `Barrier` per branch
/// request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Barrier {
    trans_type: String,
    gid: String,
    branch_id: String,
    op: String,
    calls: u32,
}

impl Barrier {
    /// A barrier for the branch `(trans_type, gid, branch_id, op)`.
    ///
    /// `\n`, `\r` and `;` are removed from each field; a field that is then empty is an
    /// `InvalidArgument` error with message `invalid trans info: ...`.
    pub fn new(trans_type: &str, gid: &str, branch_id: &str, op: &str) -> Result<Barrier> {
        let mut fields = [trans_type, gid, branch_id, op].map(str::to_owned);
        for (field, name) in fields.iter_mut().zip(FIELDS) {
            strip(field);
            if field.is_empty() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("invalid trans info: missing {name}"),
                ));
            }
        }
        let [trans_type, gid, branch_id, op] = fields;
        Ok(Barrier {
            trans_type,
            gid,
            branch_id,
            op,
            calls: 0,
        })
    }

    /// The barrier of the branch call that `branch` describes.
    pub fn from_branch(branch: &crate::rm::Branch) -> Result<Barrier> {
        Barrier::new(
            &branch.trans_type,
            &branch.gid,
            &branch.branch_id,
            &branch.op,
        )
    }

    /// A barrier from the raw query string of an HTTP branch call (`gid=...&op=...`, with
    /// or without `?`).
    pub fn from_query(query: &str) -> Result<Barrier> {
        Barrier::from_query_pairs(crate::transport::decode_query(query))
    }

    /// A barrier from the decoded query parameters of an HTTP branch call (`trans_type`,
    /// `gid`, `branch_id`, `op`; the first value of a repeated key wins; other keys are
    /// ignored).
    pub fn from_query_pairs<I, K, V>(pairs: I) -> Result<Barrier>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self::from_pairs(pairs, "")
    }

    /// A barrier from the metadata of a gRPC branch call (`dtm-trans_type`, `dtm-gid`,
    /// `dtm-branch_id`, `dtm-op`; keys compared case-insensitively).
    pub fn from_grpc_metadata<I, K, V>(pairs: I) -> Result<Barrier>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self::from_pairs(pairs, "dtm-")
    }

    fn from_pairs<I, K, V>(pairs: I, prefix: &str) -> Result<Barrier>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut found: [Option<String>; 4] = Default::default();
        for (key, value) in pairs {
            let key = key.as_ref();
            let Some(name) = key
                .get(..prefix.len())
                .filter(|p| p.eq_ignore_ascii_case(prefix))
                .and_then(|_| key.get(prefix.len()..))
            else {
                continue;
            };
            if let Some(i) = FIELDS.iter().position(|f| f.eq_ignore_ascii_case(name)) {
                found[i].get_or_insert_with(|| value.as_ref().to_owned());
            }
        }
        let [t, g, b, o] = found.map(Option::unwrap_or_default);
        Barrier::new(&t, &g, &b, &o)
    }

    /// The transaction type (`saga`, `tcc`, `msg`, `xa`, `workflow`).
    pub fn trans_type(&self) -> &str {
        &self.trans_type
    }

    /// The global transaction id.
    pub fn gid(&self) -> &str {
        &self.gid
    }

    /// The branch id.
    pub fn branch_id(&self) -> &str {
        &self.branch_id
    }

    /// The op of this call (`action`, `compensate`, `try`, `confirm`, `cancel`, `msg`, ...).
    pub fn op(&self) -> &str {
        &self.op
    }

    /// How many barrier ids were handed out so far.
    pub fn calls(&self) -> u32 {
        self.calls
    }

    /// Hands out the next barrier id: `01`, `02`, ...
    pub fn next_barrier_id(&mut self) -> String {
        self.calls += 1;
        format!("{:02}", self.calls)
    }

    /// Starts the guarded call of one local transaction (PROTOCOL.md §7.4) with the next
    /// barrier id.
    pub fn call_machine(&mut self, table: &BarrierTable) -> BarrierCall {
        let barrier_id = self.next_barrier_id();
        BarrierCall::new(
            table,
            &self.trans_type,
            &self.gid,
            &self.branch_id,
            &self.op,
            &barrier_id,
        )
    }

    /// The barrier of a msg's local transaction and of its check-back: trans type `msg`,
    /// `gid`, branch `00`, op `msg` (what [`crate::tm::Msg::do_and_submit`] hands its
    /// callback, and what the `query_prepared` handler checks).
    pub fn for_msg(gid: &str) -> Result<Barrier> {
        Barrier::new("msg", gid, MSG_BRANCH_ID, MSG_OP)
    }

    /// The msg check-back (PROTOCOL.md §7.5) on `table`: decides whether the local
    /// transaction of this gid committed. Does not use the barrier id counter.
    pub fn query_prepared_machine(&self, table: &BarrierTable) -> QueryPrepared {
        QueryPrepared::new(table, &self.trans_type, &self.gid)
    }
}

const FIELDS: [&str; 4] = ["trans_type", "gid", "branch_id", "op"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction() {
        let b = Barrier::new("tcc", "g;1\n", "0\r1", "try").expect("valid");
        assert_eq!((b.gid(), b.branch_id()), ("g1", "01"));
        for (t, g, bid, op) in [
            ("", "g", "01", "try"),
            ("tcc", "", "01", "try"),
            ("tcc", "g", "", "try"),
            ("tcc", "g", "01", ""),
            ("tcc", ";\n", "01", "try"),
        ] {
            let err = Barrier::new(t, g, bid, op).expect_err("invalid");
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.message().starts_with("invalid trans info"));
        }
    }

    #[test]
    fn from_query_and_metadata() {
        let q = [
            ("dtm", "http://x"),
            ("gid", "g1"),
            ("trans_type", "saga"),
            ("branch_id", "01"),
            ("op", "action"),
            ("op", "compensate"),
        ];
        let b = Barrier::from_query_pairs(q).expect("valid");
        assert_eq!(b.op(), "action");
        let md = [
            ("dtm-gid", "g1"),
            ("DTM-TRANS_TYPE", "saga"),
            ("dtm-branch_id", "01"),
            ("dtm-op", "compensate"),
            ("op", "ignored"),
        ];
        let b = Barrier::from_grpc_metadata(md).expect("valid");
        assert_eq!((b.trans_type(), b.op()), ("saga", "compensate"));
        assert!(Barrier::from_query_pairs([("gid", "g1")]).is_err());
    }

    #[test]
    fn barrier_ids_count_up() {
        let mut b = Barrier::new("saga", "g", "01", "action").expect("valid");
        assert_eq!(b.next_barrier_id(), "01");
        assert_eq!(b.next_barrier_id(), "02");
        let call = b.call_machine(&BarrierTable::new(Dialect::Mysql));
        assert_eq!(call.barrier_id(), "03");
        assert_eq!(b.calls(), 3);
    }
}
