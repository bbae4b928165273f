//! Barrier executors on sqlx: run a [`BarrierCall`] or a [`QueryPrepared`] on a sqlx
//! connection, then call the business code or not.

use super::{
    Action, Barrier, BarrierCall, BarrierTable, Decision, Dialect, Guard, Ownership, QueryPrepared,
    Statement, Step,
};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::DtmResult;
use std::future::Future;
use std::pin::Pin;

/// The future of a business closure: it borrows the transaction's connection for `'t`.
///
/// Write closures as `|conn| Box::pin(async move { ... })`.
pub type BusiFuture<'t, T, E> =
    Pin<Box<dyn Future<Output = std::result::Result<T, E>> + Send + 't>>;

/// What a guarded call did: the decision, and the business code's value when it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutput<T> {
    /// The barrier's decision (never `MsgDuplicated`, which is returned as an error).
    pub decision: Decision,
    /// The business code's value; `None` when the decision skipped it.
    pub value: Option<T>,
}

fn db_error(e: ::sqlx::Error) -> Error {
    Error::new(ErrorKind::Database, format!("barrier: {e}")).with_source(e)
}

fn no_connection() -> Error {
    Error::new(
        ErrorKind::Internal,
        "barrier guard has no connection for its action",
    )
}

fn check_dialect(table: &BarrierTable, dialect: Dialect) -> Result<()> {
    if table.dialect() != dialect {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "barrier table {} is for {}, not {dialect}",
                table.name(),
                table.dialect()
            ),
        ));
    }
    Ok(())
}

/// The host's answer to one step.
enum Feed {
    Affected(u64),
    Reason(Option<String>),
}

macro_rules! sqlx_executor {
    ($module:ident, $feature:literal, $db:ty, $conn:ty, $dialect:expr, $what:literal) => {
        #[doc = concat!("Barrier executor on sqlx for ", $what, " (feature `", $feature, "`).")]
        #[cfg(feature = $feature)]
        pub mod $module {
            use super::*;

            async fn execute(conn: &mut $conn, statement: &Statement) -> Result<u64> {
                let mut query = ::sqlx::query(&statement.sql);
                for param in &statement.params {
                    query = query.bind(param.as_str());
                }
                let done = query.execute(conn).await.map_err(db_error)?;
                Ok(done.rows_affected())
            }

            async fn query_reason(
                conn: &mut $conn,
                statement: &Statement,
            ) -> Result<Option<String>> {
                let mut query = ::sqlx::query_scalar::<_, Option<String>>(&statement.sql);
                for param in &statement.params {
                    query = query.bind(param.as_str());
                }
                let row = query.fetch_optional(conn).await.map_err(db_error)?;
                Ok(row.flatten())
            }

            async fn feed<T: Copy>(conn: &mut $conn, step: &Step<T>) -> Result<Option<Feed>> {
                Ok(match step {
                    Step::Execute(s) => Some(Feed::Affected(execute(conn, s).await?)),
                    Step::QueryReason(s) => Some(Feed::Reason(query_reason(conn, s).await?)),
                    Step::Done(_) => None,
                })
            }

            /// Runs the statements of `call` on `conn`, inside whatever transaction the
            /// caller has open (an XA transaction, say), and returns the decision; the
            /// caller then runs its business code or not, and commits or rolls back.
            pub async fn decide(conn: &mut $conn, call: &mut BarrierCall) -> Result<Decision> {
                while let Some(answer) = feed(conn, call.step()).await? {
                    match answer {
                        Feed::Affected(rows) => call.feed_affected(rows)?,
                        Feed::Reason(reason) => call.feed_reason(reason.as_deref())?,
                    };
                }
                call.decision()
                    .ok_or_else(|| Error::new(ErrorKind::Internal, "barrier call unfinished"))
            }

            /// Creates the barrier table when missing (runs [`BarrierTable::ddl`]).
            pub async fn create(conn: &mut $conn, table: &BarrierTable) -> Result<()> {
                check_dialect(table, $dialect)?;
                for statement in table.ddl() {
                    ::sqlx::raw_sql(&statement)
                        .execute(&mut *conn)
                        .await
                        .map_err(db_error)?;
                }
                Ok(())
            }

            /// The guarded call (PROTOCOL.md §7.4) in the caller's open transaction `tx`,
            /// which it joins ([`Ownership::Join`]): inserts the barrier rows, then runs
            /// `busi` on the transaction or skips it (null compensation, duplicate,
            /// suspended). Committing or rolling back stays with the caller, who must roll
            /// back on an error: `busi`'s, `Duplicated` (a msg barrier that exists) or a
            /// `Database` error.
            pub async fn call<'c, F, T, E>(
                tx: &mut ::sqlx::Transaction<'c, $db>,
                barrier: &mut Barrier,
                table: &BarrierTable,
                busi: F,
            ) -> std::result::Result<CallOutput<T>, E>
            where
                F: for<'t> FnOnce(&'t mut $conn) -> BusiFuture<'t, T, E>,
                E: From<Error>,
            {
                check_dialect(table, $dialect)?;
                let guard = Guard::new(barrier.call_machine(table), Ownership::Join);
                drive(None, Some(tx), guard, busi).await
            }

            /// The guarded call in a transaction of its own begun on `pool`
            /// ([`Ownership::Own`], DTM's `CallWithDB`): committed when `busi` returns or
            /// is skipped, rolled back on any error (`busi`'s, `Duplicated`, `Database`).
            /// A panic in `busi` drops the transaction, which rolls it back.
            pub async fn call_with_pool<F, T, E>(
                pool: &::sqlx::Pool<$db>,
                barrier: &mut Barrier,
                table: &BarrierTable,
                busi: F,
            ) -> std::result::Result<CallOutput<T>, E>
            where
                F: for<'t> FnOnce(&'t mut $conn) -> BusiFuture<'t, T, E>,
                E: From<Error>,
            {
                check_dialect(table, $dialect)?;
                let guard = Guard::new(barrier.call_machine(table), Ownership::Own);
                drive(Some(pool), None, guard, busi).await
            }

            /// Carries out the actions of `guard`: on `joined`, or on a transaction begun
            /// on `pool` when the guard owns it.
            async fn drive<'c, F, T, E>(
                pool: Option<&::sqlx::Pool<$db>>,
                mut joined: Option<&mut ::sqlx::Transaction<'c, $db>>,
                mut guard: Guard,
                busi: F,
            ) -> std::result::Result<CallOutput<T>, E>
            where
                F: for<'t> FnOnce(&'t mut $conn) -> BusiFuture<'t, T, E>,
                E: From<Error>,
            {
                let mut owned: Option<::sqlx::Transaction<'static, $db>> = None;
                let mut busi = Some(busi);
                let mut value = None;
                let mut busi_error: Option<E> = None;
                loop {
                    let conn: Option<&mut $conn> = match (&mut owned, &mut joined) {
                        (Some(tx), _) => Some(&mut **tx),
                        (None, Some(tx)) => Some(&mut ***tx),
                        (None, None) => None,
                    };
                    let done: Result<()> = match (guard.action(), conn) {
                        (Action::Begin, _) => match pool {
                            Some(pool) => match pool.begin().await {
                                Ok(tx) => {
                                    owned = Some(tx);
                                    guard.ok().map(drop)
                                }
                                Err(e) => Err(db_error(e)),
                            },
                            None => Err(no_connection()),
                        },
                        (Action::Execute(s), Some(conn)) => {
                            let s = s.clone();
                            match execute(conn, &s).await {
                                Ok(rows) => guard.feed_affected(rows).map(drop),
                                Err(e) => Err(e),
                            }
                        }
                        (Action::QueryReason(s), Some(conn)) => {
                            let s = s.clone();
                            match query_reason(conn, &s).await {
                                Ok(reason) => guard.feed_reason(reason.as_deref()).map(drop),
                                Err(e) => Err(e),
                            }
                        }
                        (Action::RunBusiness, Some(conn)) => match busi.take() {
                            Some(f) => match f(conn).await {
                                Ok(v) => {
                                    value = Some(v);
                                    guard.ok().map(drop)
                                }
                                Err(e) => {
                                    busi_error = Some(e);
                                    Err(Error::new(ErrorKind::Database, "the business code failed"))
                                }
                            },
                            None => Err(no_connection()),
                        },
                        (Action::Commit, _) => match owned.take() {
                            Some(tx) => match tx.commit().await {
                                Ok(()) => guard.ok().map(drop),
                                Err(e) => Err(db_error(e)),
                            },
                            None => Err(no_connection()),
                        },
                        (Action::Rollback, _) => match owned.take() {
                            Some(tx) => match tx.rollback().await {
                                Ok(()) => guard.ok().map(drop),
                                Err(e) => Err(db_error(e)),
                            },
                            None => guard.ok().map(drop),
                        },
                        (Action::Return(decision), _) => {
                            return Ok(CallOutput {
                                decision: decision.unwrap_or(Decision::RunBusiness),
                                value,
                            })
                        }
                        (Action::Raise(_), _) => {
                            return Err(match busi_error {
                                Some(e) => e,
                                None => guard.take_error().unwrap_or_else(no_connection).into(),
                            })
                        }
                        (_, None) => Err(no_connection()),
                    };
                    if let Err(e) = done {
                        guard.fail(e);
                    }
                }
            }

            /// The msg check-back (PROTOCOL.md §7.5) on a connection in autocommit mode:
            /// `Success` when the msg's local transaction committed, `Failure` when it did
            /// not (and now never will).
            pub async fn query_prepared(
                conn: &mut $conn,
                barrier: &Barrier,
                table: &BarrierTable,
            ) -> Result<DtmResult> {
                check_dialect(table, $dialect)?;
                let mut query: QueryPrepared = barrier.query_prepared_machine(table);
                while let Some(answer) = feed(conn, query.step()).await? {
                    match answer {
                        Feed::Affected(rows) => query.feed_affected(rows)?,
                        Feed::Reason(reason) => query.feed_reason(reason.as_deref())?,
                    };
                }
                query
                    .result()
                    .ok_or_else(|| Error::new(ErrorKind::Internal, "check-back unfinished"))
            }

            /// Runs one statement (an [`Barrier::xa_rollback_fence`], say) and returns the
            /// affected rows.
            pub async fn execute_statement(conn: &mut $conn, statement: &Statement) -> Result<u64> {
                execute(conn, statement).await
            }
        }
    };
}

sqlx_executor!(
    postgres,
    "sqlx-postgres",
    ::sqlx::Postgres,
    ::sqlx::PgConnection,
    Dialect::Postgres,
    "PostgreSQL"
);
sqlx_executor!(
    mysql,
    "sqlx-mysql",
    ::sqlx::MySql,
    ::sqlx::MySqlConnection,
    Dialect::Mysql,
    "MySQL and MariaDB"
);
sqlx_executor!(
    sqlite,
    "sqlx-sqlite",
    ::sqlx::Sqlite,
    ::sqlx::SqliteConnection,
    Dialect::Sqlite,
    "SQLite"
);
