//! The local XA branch on the RM side (PROTOCOL.md §4.5, §7.6), driven sans-IO: the core
//! says which statement to run on the host's dedicated XA connection, when to run the
//! business SQL and which request to send; the host does it and reports back.
//!
//! Phase 1 (op `action`), as DTM's SDK does it, with the barrier's XA row:
//! `xa start` (MySQL) / `begin` (PostgreSQL); insert the barrier row; the business SQL;
//! `POST registerBranch {branch_id, gid, trans_type, url: phase2_url}`; `xa end` (MySQL);
//! then `xa prepare` / `prepare transaction`, or, after any error, `xa rollback` /
//! `rollback`. Phase 2 (op `commit` or `rollback`, called by dtm): `xa commit` /
//! `commit prepared`, or `xa rollback` / `rollback prepared` followed by the barrier row
//! that fences a late phase 1; "no such transaction" errors (`XAER_NOTA`, `does not
//! exist`) count as done.
//!
//! A host drives it like this (every binding has the same loop):
//!
//! ```
//! use dtmx::barrier::{BarrierTable, Dialect};
//! use dtmx::rm::{Branch, XaLocal, XaStep};
//!
//! let branch = Branch::from_query(
//!     "dtm=http%3A%2F%2Fdtm%2Fapi%2Fdtmsvr&gid=g1&branch_id=01&trans_type=xa&op=action\
//!      &phase2_url=http%3A%2F%2Fbusi%2Fxa",
//! );
//! let mut xa = XaLocal::new(&branch, &BarrierTable::new(Dialect::Mysql))?;
//! loop {
//!     match xa.step().clone() {
//!         // run statement.sql with statement.params on the XA connection
//!         XaStep::Execute(_statement) => xa.feed_affected(1)?,
//!         // run the query, hand back the first column of the first row (or None)
//!         XaStep::QueryReason(_statement) => xa.feed_reason(None)?,
//!         // run the business SQL on the XA connection
//!         XaStep::RunBusiness => xa.feed_business(Ok(()))?,
//!         // send the request (or let Client::send do it) and hand back the reply
//!         XaStep::Send(_request) => xa.feed_reply(200, br#"{"dtm_result":"SUCCESS"}"#)?,
//!         XaStep::Done => break,
//!     };
//! }
//! xa.finish()?;
//! # Ok::<(), dtmx::Error>(())
//! ```

use crate::barrier::{Barrier, BarrierCall, BarrierTable, Decision, Step};
use crate::error::{Error, ErrorKind, Result};
use crate::rm::Branch;
use crate::tm::{check_server_reply, encode_register};
use crate::transport::HttpRequest;
use std::collections::BTreeMap;

use crate::barrier::{Dialect, Statement};

/// Which half of the XA protocol a branch call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XaPhase {
    /// Phase 1 (op `action`): run the business SQL in a new XA transaction and prepare it.
    Action,
    /// Phase 2 (op `commit`): commit the prepared XA transaction.
    Commit,
    /// Phase 2 (op `rollback`): roll back the prepared XA transaction.
    Rollback,
}

/// One XA command of DTM's SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XaCommand {
    /// Open the XA transaction.
    Start,
    /// End the XA transaction's work (MySQL only).
    End,
    /// Prepare (phase 1 success).
    Prepare,
    /// Roll back a phase 1 that failed (the XA transaction is not prepared).
    Abort,
    /// Phase 2 commit.
    Commit,
    /// Phase 2 rollback.
    Rollback,
}

/// The SQL of `command` for the XA transaction `xid` (`<gid>-<branch_id>`); `None` where
/// the dialect has nothing to run (`end` on PostgreSQL) or no XA (SQLite).
///
/// | command | MySQL | PostgreSQL |
/// |---|---|---|
/// | start | `xa start '<xid>'` | `begin` |
/// | end | `xa end '<xid>'` | – |
/// | prepare | `xa prepare '<xid>'` | `prepare transaction '<xid>'` |
/// | abort | `xa rollback '<xid>'` | `rollback` |
/// | commit | `xa commit '<xid>'` | `commit prepared '<xid>'` |
/// | rollback | `xa rollback '<xid>'` | `rollback prepared '<xid>'` |
pub fn xa_sql(dialect: Dialect, command: XaCommand, xid: &str) -> Option<String> {
    match dialect {
        Dialect::Mysql => {
            let verb = match command {
                XaCommand::Start => "start",
                XaCommand::End => "end",
                XaCommand::Prepare => "prepare",
                XaCommand::Abort | XaCommand::Rollback => "rollback",
                XaCommand::Commit => "commit",
            };
            Some(format!("xa {verb} '{xid}'"))
        }
        Dialect::Postgres => match command {
            XaCommand::Start => Some("begin".into()),
            XaCommand::End => None,
            XaCommand::Prepare => Some(format!("prepare transaction '{xid}'")),
            XaCommand::Abort => Some("rollback".into()),
            XaCommand::Commit => Some(format!("commit prepared '{xid}'")),
            XaCommand::Rollback => Some(format!("rollback prepared '{xid}'")),
        },
        _ => None,
    }
}

/// True for a phase-2 error that means "no such XA transaction" (already committed or
/// rolled back, or never prepared): `XAER_NOTA` (MySQL) or `does not exist` (PostgreSQL).
pub fn is_missing_xa_error(message: &str) -> bool {
    message.contains("XAER_NOTA") || message.contains("does not exist")
}

/// What the host does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XaStep {
    /// Run the statement on the XA connection; feed back the affected rows
    /// ([`XaLocal::feed_affected`]) or the error ([`XaLocal::feed_sql_error`]).
    Execute(Statement),
    /// Run the query on the XA connection; feed back the first column of the first row
    /// ([`XaLocal::feed_reason`]) or the error.
    QueryReason(Statement),
    /// Run the business SQL on the XA connection; feed back its result
    /// ([`XaLocal::feed_business`]).
    RunBusiness,
    /// Send the request to dtm; feed back the reply ([`XaLocal::feed_reply`]) or the
    /// transport error ([`XaLocal::feed_send_error`]).
    Send(HttpRequest),
    /// Finished: [`XaLocal::finish`] gives the result to reply with.
    Done,
}

#[derive(Debug)]
enum State {
    Start,
    Barrier(Box<BarrierCall>),
    Business,
    Register,
    End,
    Prepare,
    Abort,
    Phase2,
    Fence,
    Done,
}

/// One XA branch call on the RM side, as a state machine (see the module docs).
#[derive(Debug)]
pub struct XaLocal {
    branch: Branch,
    dialect: Dialect,
    table: BarrierTable,
    barrier: Barrier,
    phase: XaPhase,
    xid: String,
    state: State,
    step: XaStep,
    /// Phase 1: prepare (rather than roll back) after the end.
    prepare: bool,
    error: Option<Error>,
}

impl XaLocal {
    /// Starts the XA branch call that `branch` describes (query of the call: `gid`,
    /// `branch_id`, `op`, `trans_type`, plus `dtm` and `phase2_url` for phase 1), with the
    /// barrier rows in `table` (MySQL or PostgreSQL).
    pub fn new(branch: &Branch, table: &BarrierTable) -> Result<XaLocal> {
        branch.validate_for_xa()?;
        let dialect = table.dialect();
        if xa_sql(dialect, XaCommand::Start, "").is_none() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("no XA transactions on {dialect}"),
            ));
        }
        let phase = match branch.op.as_str() {
            "commit" => XaPhase::Commit,
            "rollback" => XaPhase::Rollback,
            _ => XaPhase::Action,
        };
        let trans_type = if branch.trans_type.is_empty() {
            "xa"
        } else {
            branch.trans_type.as_str()
        };
        if phase == XaPhase::Action && branch.dtm.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "bad xa info: no dtm to register the branch with",
            ));
        }
        // Phase 2 fences with trans type `xa`, phase 1 with the request's, as DTM's SDK.
        let barrier = match phase {
            XaPhase::Action => Barrier::new(trans_type, &branch.gid, &branch.branch_id, "action")?,
            _ => Barrier::new("xa", &branch.gid, &branch.branch_id, &branch.op)?,
        };
        let mut me = XaLocal {
            branch: branch.clone(),
            dialect,
            table: table.clone(),
            barrier,
            phase,
            xid: format!("{}-{}", branch.gid, branch.branch_id),
            state: if phase == XaPhase::Action {
                State::Start
            } else {
                State::Phase2
            },
            step: XaStep::Done,
            prepare: false,
            error: None,
        };
        me.refresh();
        Ok(me)
    }

    /// The phase this call is in.
    pub fn phase(&self) -> XaPhase {
        self.phase
    }

    /// The XA transaction id, `<gid>-<branch_id>`.
    pub fn xid(&self) -> &str {
        &self.xid
    }

    /// The branch request.
    pub fn branch(&self) -> &Branch {
        &self.branch
    }

    /// What to do now.
    pub fn step(&self) -> &XaStep {
        &self.step
    }

    /// The `POST registerBranch` request of phase 1 (sent by the host when the step says
    /// so): `{"branch_id","gid","trans_type","url":phase2_url}` to the request's `dtm`.
    pub fn register_request(&self) -> Result<HttpRequest> {
        let b = &self.branch;
        let fields = BTreeMap::from([
            ("gid", b.gid.as_str()),
            ("trans_type", self.barrier.trans_type()),
            ("url", b.phase2_url.as_str()),
            ("branch_id", b.branch_id.as_str()),
        ]);
        let dtm = b.dtm.trim_end_matches('/');
        Ok(HttpRequest::post_json(
            format!("{dtm}/registerBranch"),
            encode_register(&fields)?,
        ))
    }

    /// Feeds back the rows affected by the statement of [`XaStep::Execute`].
    pub fn feed_affected(&mut self, rows: u64) -> Result<&XaStep> {
        self.expect("affected rows", matches!(self.step, XaStep::Execute(_)))?;
        let next = match std::mem::replace(&mut self.state, State::Done) {
            State::Start => self.barrier_state(),
            State::Barrier(mut call) => {
                call.feed_affected(rows)?;
                self.after_barrier(call)
            }
            State::End => self.after_end(),
            State::Phase2 if self.phase == XaPhase::Rollback => State::Fence,
            _ => State::Done,
        };
        self.state = next;
        self.refresh();
        Ok(&self.step)
    }

    /// Feeds back the reason read by [`XaStep::QueryReason`] (`None`: no row).
    pub fn feed_reason(&mut self, reason: Option<&str>) -> Result<&XaStep> {
        self.expect("a reason", matches!(self.step, XaStep::QueryReason(_)))?;
        self.state = match std::mem::replace(&mut self.state, State::Done) {
            State::Barrier(mut call) => {
                call.feed_reason(reason)?;
                self.after_barrier(call)
            }
            other => other,
        };
        self.refresh();
        Ok(&self.step)
    }

    /// Feeds back the error of the statement of [`XaStep::Execute`] or
    /// [`XaStep::QueryReason`] (the database's message).
    pub fn feed_sql_error(&mut self, message: &str) -> Result<&XaStep> {
        self.expect(
            "an SQL error",
            matches!(self.step, XaStep::Execute(_) | XaStep::QueryReason(_)),
        )?;
        let db_error = || Error::new(ErrorKind::Database, message.to_string());
        self.state = match std::mem::replace(&mut self.state, State::Done) {
            State::Start => {
                self.error = Some(db_error());
                State::Abort
            }
            State::Barrier(_) => {
                self.error = Some(db_error());
                State::End
            }
            // Errors of `xa end` and of the rollback of a failed phase 1 are not reported
            // (the first error is), as in DTM's SDK.
            State::End => self.after_end(),
            State::Abort => State::Done,
            State::Prepare => {
                self.error = Some(db_error());
                State::Done
            }
            State::Phase2 if is_missing_xa_error(message) => {
                if self.phase == XaPhase::Rollback {
                    State::Fence
                } else {
                    State::Done
                }
            }
            _ => {
                self.error = Some(db_error());
                State::Done
            }
        };
        self.refresh();
        Ok(&self.step)
    }

    /// Feeds back the result of the business SQL ([`XaStep::RunBusiness`]).
    pub fn feed_business(&mut self, result: Result<()>) -> Result<&XaStep> {
        self.expect("a business result", self.step == XaStep::RunBusiness)?;
        match result {
            Ok(()) => self.state = State::Register,
            Err(e) => {
                self.error = Some(e);
                self.state = State::End;
            }
        }
        self.refresh();
        Ok(&self.step)
    }

    /// Feeds back dtm's reply to [`XaStep::Send`].
    pub fn feed_reply(&mut self, status: u16, body: &[u8]) -> Result<&XaStep> {
        self.expect("a reply", matches!(self.step, XaStep::Send(_)))?;
        match check_server_reply(status, body) {
            Ok(()) => self.prepare = true,
            Err(e) => self.error = Some(e),
        }
        self.state = State::End;
        self.refresh();
        Ok(&self.step)
    }

    /// Feeds back a failure to send [`XaStep::Send`].
    pub fn feed_send_error(&mut self, error: Error) -> Result<&XaStep> {
        self.expect("a send error", matches!(self.step, XaStep::Send(_)))?;
        self.error = Some(error);
        self.state = State::End;
        self.refresh();
        Ok(&self.step)
    }

    /// The result to reply with once [`XaStep::Done`]: the first error (kind `database` for
    /// SQL, as returned for the business SQL and the registration), a `failure` for a phase
    /// 1 fenced by an earlier rollback, or success.
    pub fn finish(self) -> Result<()> {
        if !matches!(self.state, State::Done) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "xa branch finished before its last step",
            ));
        }
        match self.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn expect(&self, what: &str, ok: bool) -> Result<()> {
        if ok {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("xa branch fed {what} but its step is {:?}", self.step),
        ))
    }

    fn barrier_state(&self) -> State {
        State::Barrier(Box::new(self.barrier.xa_action_machine(&self.table)))
    }

    fn after_barrier(&mut self, call: Box<BarrierCall>) -> State {
        match call.decision() {
            None => State::Barrier(call),
            Some(Decision::RunBusiness) => State::Business,
            Some(Decision::Suspended) => {
                self.error = Some(Error::new(
                    ErrorKind::Failure,
                    format!(
                        "xa branch {} was rolled back before its action ran FAILURE",
                        self.xid
                    ),
                ));
                State::End
            }
            // Already done: leave nothing behind and report success.
            Some(_) => State::End,
        }
    }

    fn after_end(&self) -> State {
        if self.prepare && self.error.is_none() {
            State::Prepare
        } else {
            State::Abort
        }
    }

    /// Skips states with nothing to run and computes the step of the current state.
    fn refresh(&mut self) {
        loop {
            let sql = |c| xa_sql(self.dialect, c, &self.xid);
            let exec = |s: Option<String>| {
                s.map(|sql| {
                    XaStep::Execute(Statement {
                        sql,
                        params: Vec::new(),
                    })
                })
            };
            let step = match &self.state {
                State::Start => exec(sql(XaCommand::Start)),
                State::Barrier(call) => Some(match call.step() {
                    Step::Execute(s) => XaStep::Execute(s.clone()),
                    Step::QueryReason(s) => XaStep::QueryReason(s.clone()),
                    Step::Done(_) => XaStep::Done,
                }),
                State::Business => Some(XaStep::RunBusiness),
                State::Register => match self.register_request() {
                    Ok(r) => Some(XaStep::Send(r)),
                    Err(e) => {
                        self.error = Some(e);
                        self.state = State::End;
                        continue;
                    }
                },
                State::End => exec(sql(XaCommand::End)),
                State::Prepare => exec(sql(XaCommand::Prepare)),
                State::Abort => exec(sql(XaCommand::Abort)),
                State::Phase2 => exec(sql(if self.phase == XaPhase::Commit {
                    XaCommand::Commit
                } else {
                    XaCommand::Rollback
                })),
                State::Fence => Some(XaStep::Execute(self.barrier.xa_rollback_fence(&self.table))),
                State::Done => Some(XaStep::Done),
            };
            match step {
                Some(s) => {
                    self.step = s;
                    return;
                }
                // Nothing to run in this dialect (`end` on PostgreSQL): move on.
                None => {
                    self.state = match self.state {
                        State::End => self.after_end(),
                        _ => State::Done,
                    };
                }
            }
        }
    }
}
