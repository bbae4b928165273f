//! Replays the barrier scenarios of tests/vectors/scenarios (those with a `database`)
//! through the sqlx SQLite executor: `call_with_pool` on a bare pool, `call` inside the
//! caller's open transaction, `query_prepared` for the check-back; judged by judge.py.

use dtmx::barrier::{check_back, sqlite, Barrier, BarrierTable, Dialect};
use dtmx::{Error, ErrorKind, Result};
use serde_json::{json, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::time::Duration;

mod judge;

use judge::{error_json, HostError};

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

fn db(e: sqlx::Error) -> Error {
    Error::new(ErrorKind::Database, e.to_string())
}

/// The business code of a body: its writes, then its return or raise.
fn business(
    gid: String,
    body: Vec<Value>,
) -> impl for<'t> FnOnce(&'t mut sqlx::SqliteConnection) -> dtmx::barrier::BusiFuture<'t, Value, Error>
{
    move |conn| {
        Box::pin(async move {
            for step in &body {
                match s(step, "op") {
                    "write" => {
                        sqlx::query("insert into ledger (gid, value) values (?, ?)")
                            .bind(&gid)
                            .bind(s(step, "value"))
                            .execute(&mut *conn)
                            .await
                            .map_err(db)?;
                    }
                    "return" => return Ok(step["value"].clone()),
                    _ => {
                        let message = s(step, "message");
                        return Err(match s(step, "kind") {
                            "host" => {
                                Error::new(ErrorKind::Database, message).with_source(HostError)
                            }
                            kind => Error::new(
                                ErrorKind::ALL
                                    .into_iter()
                                    .find(|k| k.as_str() == kind)
                                    .unwrap_or(ErrorKind::Internal),
                                message,
                            ),
                        });
                    }
                }
            }
            Ok(Value::Null)
        })
    }
}

/// One step on the pool, or inside the caller's transaction `tx` when it is open.
async fn step(
    pool: &SqlitePool,
    table: &BarrierTable,
    tx: &mut Option<Transaction<'static, Sqlite>>,
    step: &Value,
) -> Result<Value> {
    match s(step, "op") {
        "begin" => *tx = Some(pool.begin().await.map_err(db)?),
        "commit" => match tx.take() {
            Some(t) => t.commit().await.map_err(db)?,
            None => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "commit without begin",
                ))
            }
        },
        "rollback" => match tx.take() {
            Some(t) => t.rollback().await.map_err(db)?,
            None => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "rollback without begin",
                ))
            }
        },
        "check_back" => {
            let gid = s(step, "gid");
            let barrier = Barrier::for_msg(gid)?;
            let result = match tx {
                Some(t) => sqlite::query_prepared(t, &barrier, table).await?,
                None => {
                    let mut conn = pool.acquire().await.map_err(db)?;
                    sqlite::query_prepared(&mut conn, &barrier, table).await?
                }
            };
            check_back(gid, result)?;
        }
        _ => {
            let b = &step["barrier"];
            let mut barrier = Barrier::new(
                s(b, "trans_type"),
                s(b, "gid"),
                s(b, "branch_id"),
                s(b, "op"),
            )?;
            let body = step["body"].as_array().cloned().unwrap_or_default();
            let busi = business(s(b, "gid").to_string(), body);
            let out = match tx {
                Some(t) => sqlite::call(t, &mut barrier, table, busi).await?,
                None => sqlite::call_with_pool(pool, &mut barrier, table, busi).await?,
            };
            return Ok(out.value.unwrap_or(Value::Null));
        }
    }
    Ok(Value::Null)
}

/// Runs a scenario on a new database file and returns what the judge reads.
async fn run(scenario: &Value, dir: &std::path::Path) -> Value {
    let path = dir.join(format!("{}.db", s(scenario, "name")));
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("sqlite");
    let table = BarrierTable::new(Dialect::Sqlite);
    let mut conn = pool.acquire().await.expect("connection");
    sqlite::create(&mut conn, &table)
        .await
        .expect("barrier table");
    sqlx::query("create table ledger (gid text, value text)")
        .execute(&mut *conn)
        .await
        .expect("ledger");
    drop(conn);
    let mut tx = None;
    let mut outcomes = Vec::new();
    for st in scenario["steps"].as_array().cloned().unwrap_or_default() {
        outcomes.push(match step(&pool, &table, &mut tx, &st).await {
            Ok(v) => json!({ "result": v }),
            Err(e) => json!({ "error": error_json(&e) }),
        });
    }
    let in_transaction = tx.is_some();
    // What is committed, read while the caller's transaction (if any) is still open.
    let ledger: Vec<String> =
        sqlx::query_scalar("select gid || ' ' || value from ledger order by 1")
            .fetch_all(&pool)
            .await
            .expect("ledger");
    let rows: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
        "select trans_type, gid, branch_id, op, barrier_id, reason from barrier \
         order by 1, 2, 3, 4, 5, 6",
    )
    .fetch_all(&pool)
    .await
    .expect("barrier rows");
    if let Some(t) = tx {
        t.rollback().await.expect("rollback");
    }
    pool.close().await;
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|(a, b, c, d, e, f)| json!([a, b, c, d, e, f]))
        .collect();
    json!({"host": "rust", "outcomes": outcomes, "ledger": ledger, "barrier_rows": rows,
           "in_transaction": in_transaction})
}

#[tokio::test]
async fn every_barrier_scenario() {
    let judge = judge::Judge::start();
    let dir = std::env::temp_dir().join(format!("dtmx-barrier-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut failures = Vec::new();
    let mut count = 0;
    for scenario in judge::scenarios() {
        if scenario.get("database").is_none() {
            continue;
        }
        count += 1;
        let name = s(&scenario, "name").to_string();
        judge.load(&name).await;
        let outcome = run(&scenario, &dir).await;
        if let Some(problems) = judge.verdict(&outcome).await {
            failures.push(format!("{name}: {problems}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(count >= 10, "only {count} barrier scenarios found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
