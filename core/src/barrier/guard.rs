//! One guarded call of the barrier, or one msg check-back, as a host runs it: the barrier's
//! statements, the business code and the database transaction around them, with the one
//! rule for who owns that transaction. A host only carries out each [`Action`] on its own
//! driver and reports back; every decision (what to run, when to commit, what to raise) is
//! made here.

use super::{check_back, BarrierCall, Decision, QueryPrepared, Statement, Step};
use crate::error::{Error, ErrorKind, Result};

/// Who begins, commits and rolls back the database transaction of a guarded call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// The barrier begins a transaction, commits it when the business code returns and
    /// rolls it back when anything raises.
    Own,
    /// The caller's open transaction is joined: the barrier rows and the business code go
    /// into it; committing or rolling back stays with the caller (an error propagates, so
    /// the caller rolls back).
    Join,
}

impl Ownership {
    /// The rule of every package: a connection already inside a transaction (the driver
    /// says so, or the caller handed over a transaction object) is joined; a connection
    /// with none open gets the barrier's own transaction.
    pub fn for_connection(in_transaction: bool) -> Ownership {
        if in_transaction {
            Ownership::Join
        } else {
            Ownership::Own
        }
    }

    /// The stable name: `own` or `join`.
    pub fn as_str(self) -> &'static str {
        match self {
            Ownership::Own => "own",
            Ownership::Join => "join",
        }
    }
}

/// What the host does next.
#[derive(Debug)]
pub enum Action {
    /// Begin a transaction on the connection, then [`Guard::ok`].
    Begin,
    /// Run the statement and [`Guard::feed_affected`] the affected rows.
    Execute(Statement),
    /// Run the query and [`Guard::feed_reason`] the first column of its first row.
    QueryReason(Statement),
    /// Call the business code in the transaction, then [`Guard::ok`] (keep its value).
    RunBusiness,
    /// Commit, then [`Guard::ok`].
    Commit,
    /// Roll back, then [`Guard::ok`].
    Rollback,
    /// Finished: return the business code's value if the decision ran it, else nothing
    /// (`None`: a check-back that found the local transaction committed).
    Return(Option<Decision>),
    /// Finished: raise this error, or the host's own exception when that is what was fed
    /// to [`Guard::fail`] (with this error's notes).
    Raise(Error),
}

/// The state machine of one guarded call or check-back.
#[derive(Debug)]
pub struct Guard {
    machine: Machine,
    ownership: Ownership,
    action: Action,
    /// What the call ends with once the pending commit or rollback is done.
    then: Option<Ending>,
}

#[derive(Debug)]
enum Machine {
    Call(BarrierCall),
    CheckBack { query: QueryPrepared, gid: String },
}

#[derive(Debug)]
enum Ending {
    Return(Option<Decision>),
    Raise(Error),
}

impl Guard {
    /// The guarded call `call` (from `Barrier::call`) under `ownership`.
    pub fn new(call: BarrierCall, ownership: Ownership) -> Guard {
        Guard::start(Machine::Call(call), ownership)
    }

    /// The msg check-back `query` (from `Barrier::query_prepared` of
    /// `Barrier::for_msg(gid)`) under `ownership`. Both answers commit (the `rollback` row
    /// it may insert fences the late local transaction); a local transaction that did not
    /// commit ends in an error of kind `failure`.
    pub fn check_back(query: QueryPrepared, gid: &str, ownership: Ownership) -> Guard {
        Guard::start(
            Machine::CheckBack {
                query,
                gid: gid.to_string(),
            },
            ownership,
        )
    }

    fn start(machine: Machine, ownership: Ownership) -> Guard {
        let mut g = Guard {
            machine,
            ownership,
            action: Action::Begin,
            then: None,
        };
        if ownership == Ownership::Join {
            g.action = g.barrier_step();
        }
        g
    }

    /// Who owns the transaction.
    pub fn ownership(&self) -> Ownership {
        self.ownership
    }

    /// What to do now.
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// The barrier's decision, once reached (none for a check-back).
    pub fn decision(&self) -> Option<Decision> {
        match &self.machine {
            Machine::Call(c) => c.decision(),
            Machine::CheckBack { .. } => None,
        }
    }

    /// Takes the error out of a finished [`Action::Raise`] (after which the action says the
    /// error was taken); `None` for any other action.
    pub fn take_error(&mut self) -> Option<Error> {
        if !matches!(self.action, Action::Raise(_)) {
            return None;
        }
        match std::mem::replace(
            &mut self.action,
            Action::Raise(misuse("the error was already taken")),
        ) {
            Action::Raise(e) => Some(e),
            _ => None,
        }
    }

    /// The current action (`Begin`, `RunBusiness`, `Commit`, `Rollback`) succeeded.
    pub fn ok(&mut self) -> Result<&Action> {
        self.action = match std::mem::replace(&mut self.action, Action::Begin) {
            Action::Begin => self.barrier_step(),
            Action::RunBusiness => self.finish(Ending::Return(Some(Decision::RunBusiness)), true),
            Action::Commit | Action::Rollback => match self.then.take() {
                Some(Ending::Return(d)) => Action::Return(d),
                Some(Ending::Raise(e)) => Action::Raise(e),
                None => Action::Raise(misuse("a commit or rollback with nothing after it")),
            },
            other => {
                let e = misuse(&format!("ok() while the action is {other:?}"));
                self.action = other;
                return Err(e);
            }
        };
        Ok(&self.action)
    }

    /// Feeds the rows affected by the statement of [`Action::Execute`].
    pub fn feed_affected(&mut self, rows: u64) -> Result<&Action> {
        if !matches!(self.action, Action::Execute(_)) {
            return Err(misuse("affected rows fed while no statement runs"));
        }
        match &mut self.machine {
            Machine::Call(c) => c.feed_affected(rows).map(drop)?,
            Machine::CheckBack { query, .. } => query.feed_affected(rows).map(drop)?,
        }
        self.action = self.barrier_step();
        Ok(&self.action)
    }

    /// Feeds the reason read by [`Action::QueryReason`] (`None`: no row).
    pub fn feed_reason(&mut self, reason: Option<&str>) -> Result<&Action> {
        if !matches!(self.action, Action::QueryReason(_)) {
            return Err(misuse("a reason fed while no query runs"));
        }
        match &mut self.machine {
            Machine::Call(c) => c.feed_reason(reason).map(drop)?,
            Machine::CheckBack { query, .. } => query.feed_reason(reason).map(drop)?,
        }
        self.action = self.barrier_step();
        Ok(&self.action)
    }

    /// The current action raised `error` (the driver's, or the business code's translated
    /// as an error of kind `database` when it is the host's own exception). An owned
    /// transaction is rolled back, then the call raises it; a failing rollback is a note on
    /// it, never raised instead.
    pub fn fail(&mut self, error: Error) -> &Action {
        self.action = match std::mem::replace(&mut self.action, Action::Begin) {
            // Nothing began, or the rollback itself failed: raise what came before.
            Action::Begin => Action::Raise(error),
            Action::Rollback => match self.then.take() {
                Some(Ending::Raise(first)) => {
                    Action::Raise(first.with_note(format!("rollback failed: {error}")))
                }
                _ => Action::Raise(error),
            },
            _ => self.finish(Ending::Raise(error), false),
        };
        &self.action
    }

    /// The action after the barrier's current step.
    fn barrier_step(&mut self) -> Action {
        let (step, done) = match &self.machine {
            Machine::Call(c) => match c.step() {
                Step::Execute(s) => (Some(Action::Execute(s.clone())), None),
                Step::QueryReason(s) => (Some(Action::QueryReason(s.clone())), None),
                Step::Done(Decision::RunBusiness) => (Some(Action::RunBusiness), None),
                // Skipped business code commits; a msg that already ran rolls back.
                Step::Done(d) => match d.error() {
                    Some(e) => (None, Some((Ending::Raise(e), false))),
                    None => (None, Some((Ending::Return(Some(*d)), true))),
                },
            },
            Machine::CheckBack { query, gid } => match query.step() {
                Step::Execute(s) => (Some(Action::Execute(s.clone())), None),
                Step::QueryReason(s) => (Some(Action::QueryReason(s.clone())), None),
                Step::Done(r) => match check_back(gid, *r) {
                    Ok(()) => (None, Some((Ending::Return(None), true))),
                    Err(e) => (None, Some((Ending::Raise(e), true))),
                },
            },
        };
        match (step, done) {
            (Some(action), _) => action,
            (None, Some((ending, commit))) => self.finish(ending, commit),
            (None, None) => Action::Raise(misuse("no step")),
        }
    }

    /// Ends with `ending`: through a commit or a rollback when the transaction is the
    /// barrier's own, directly when it is the caller's.
    fn finish(&mut self, ending: Ending, commit: bool) -> Action {
        match (self.ownership, ending) {
            (Ownership::Join, Ending::Return(d)) => Action::Return(d),
            (Ownership::Join, Ending::Raise(e)) => Action::Raise(e),
            (Ownership::Own, ending) => {
                self.then = Some(ending);
                if commit {
                    Action::Commit
                } else {
                    Action::Rollback
                }
            }
        }
    }
}

fn misuse(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("barrier guard misused: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::{Barrier, BarrierTable, Dialect};
    use super::*;

    /// How a traced guard ended: what it returned, or the kind and notes of its error.
    type Ended = std::result::Result<Option<Decision>, (ErrorKind, Vec<String>)>;

    /// Runs a guard for `op` on a fake database: `affected` per insert, `reason` for the
    /// query, `business` the business code's result, `fail_at` an action that raises.
    fn trace(
        op: &str,
        in_tx: bool,
        affected: &[u64],
        business: Result<(), ErrorKind>,
        fail_at: Option<&str>,
    ) -> (Vec<&'static str>, Ended) {
        let mut b =
            Barrier::new(if op == "msg" { "msg" } else { "tcc" }, "g", "01", op).expect("barrier");
        let mut g = Guard::new(
            b.call_machine(&BarrierTable::new(Dialect::Sqlite)),
            Ownership::for_connection(in_tx),
        );
        let mut fed = affected.iter();
        let mut seen = Vec::new();
        loop {
            let name = match g.action() {
                Action::Begin => "begin",
                Action::Execute(_) => "execute",
                Action::QueryReason(_) => "query",
                Action::RunBusiness => "business",
                Action::Commit => "commit",
                Action::Rollback => "rollback",
                Action::Return(d) => return (seen, Ok(*d)),
                Action::Raise(e) => return (seen, Err((e.kind(), e.notes().to_vec()))),
            };
            seen.push(name);
            if fail_at == Some(name) {
                g.fail(Error::new(ErrorKind::Database, format!("{name} broke")));
                continue;
            }
            match name {
                "execute" => {
                    g.feed_affected(*fed.next().expect("affected"))
                        .expect("fed");
                }
                "query" => {
                    g.feed_reason(Some("cancel")).expect("fed");
                }
                "business" => match business {
                    Ok(()) => {
                        g.ok().expect("ok");
                    }
                    Err(k) => {
                        g.fail(Error::new(k, "business refused"));
                    }
                },
                _ => {
                    g.ok().expect("ok");
                }
            }
        }
    }

    #[test]
    fn owned_transactions_commit_or_roll_back() {
        use Decision::*;
        let (t, r) = trace("try", false, &[1], Ok(()), None);
        assert_eq!(
            (t, r),
            (
                vec!["begin", "execute", "business", "commit"],
                Ok(Some(RunBusiness))
            )
        );
        let (t, r) = trace("try", false, &[1], Err(ErrorKind::Failure), None);
        assert_eq!(t, ["begin", "execute", "business", "rollback"]);
        assert_eq!(r, Err((ErrorKind::Failure, vec![])));
        let (t, r) = trace("cancel", false, &[1, 1], Ok(()), None);
        assert_eq!(
            (t, r),
            (
                vec!["begin", "execute", "execute", "commit"],
                Ok(Some(NullCompensation))
            )
        );
        let (t, r) = trace("try", false, &[0], Ok(()), None);
        assert_eq!(
            (t, r),
            (
                vec!["begin", "execute", "query", "commit"],
                Ok(Some(Suspended))
            )
        );
        let (t, r) = trace("msg", false, &[0], Ok(()), None);
        assert_eq!(t, ["begin", "execute", "rollback"]);
        assert_eq!(r, Err((ErrorKind::Duplicated, vec![])));
    }

    #[test]
    fn joined_transactions_are_left_to_the_caller() {
        let (t, r) = trace("try", true, &[1], Ok(()), None);
        assert_eq!(
            (t, r),
            (vec!["execute", "business"], Ok(Some(Decision::RunBusiness)))
        );
        let (t, r) = trace("try", true, &[1], Err(ErrorKind::Failure), None);
        assert_eq!(t, ["execute", "business"]);
        assert_eq!(r, Err((ErrorKind::Failure, vec![])));
        let (t, r) = trace("msg", true, &[0], Ok(()), None);
        assert_eq!(t, ["execute"]);
        assert_eq!(r, Err((ErrorKind::Duplicated, vec![])));
    }

    #[test]
    fn driver_failures_roll_back_and_keep_the_first_error() {
        let (t, r) = trace("try", false, &[1], Ok(()), Some("execute"));
        assert_eq!(t, ["begin", "execute", "rollback"]);
        assert_eq!(r, Err((ErrorKind::Database, vec![])));
        let (t, r) = trace("try", false, &[1], Ok(()), Some("begin"));
        assert_eq!((t, r), (vec!["begin"], Err((ErrorKind::Database, vec![]))));
        let (t, r) = trace("try", false, &[1], Ok(()), Some("commit"));
        assert_eq!(t, ["begin", "execute", "business", "commit", "rollback"]);
        assert_eq!(r, Err((ErrorKind::Database, vec![])));
        let (t, r) = trace(
            "try",
            false,
            &[1],
            Err(ErrorKind::Failure),
            Some("rollback"),
        );
        assert_eq!(t, ["begin", "execute", "business", "rollback"]);
        assert_eq!(
            r,
            Err((
                ErrorKind::Failure,
                vec!["rollback failed: database: rollback broke".to_string()]
            ))
        );
    }

    #[test]
    fn check_backs_commit_both_answers() {
        let b = Barrier::for_msg("g").expect("barrier");
        let table = BarrierTable::new(Dialect::Postgres);
        for (reason, own, want) in [
            ("msg", Ownership::Own, Ok(())),
            ("rollback", Ownership::Own, Err(ErrorKind::Failure)),
            ("rollback", Ownership::Join, Err(ErrorKind::Failure)),
        ] {
            let mut g = Guard::check_back(b.query_prepared_machine(&table), "g", own);
            if own == Ownership::Own {
                assert!(matches!(g.action(), Action::Begin));
                g.ok().expect("begun");
            }
            assert!(matches!(g.action(), Action::Execute(_)));
            g.feed_affected(1).expect("insert");
            g.feed_reason(Some(reason)).expect("reason");
            if own == Ownership::Own {
                assert!(matches!(g.action(), Action::Commit), "{reason}");
                g.ok().expect("committed");
            }
            match (g.action(), want) {
                (Action::Return(None), Ok(())) => {}
                (Action::Raise(e), Err(k)) => assert_eq!(e.kind(), k),
                (a, w) => panic!("{reason}: {a:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn misuse_is_an_error() {
        let mut b = Barrier::new("tcc", "g", "01", "try").expect("barrier");
        let mut g = Guard::new(
            b.call_machine(&BarrierTable::new(Dialect::Sqlite)),
            Ownership::Own,
        );
        assert!(g.feed_affected(1).is_err());
        g.ok().expect("begun");
        assert!(g.ok().is_err());
        assert!(matches!(g.action(), Action::Execute(_)));
    }
}
