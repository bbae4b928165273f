//! The barrier on SQLite (a database file in a temporary directory): fixed scenarios and
//! random interleavings.

#[macro_use]
mod barrier_common;

use barrier_common::run_id;
use dtmx::barrier::{BarrierTable, Dialect};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

sql_backend!(Lite, sqlite, sqlx::Sqlite, sqlx::SqliteConnection, "?");

/// A database file removed on drop.
struct TempDb(PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

async fn backend(run: &str) -> (Lite, TempDb) {
    let path = std::env::temp_dir().join(format!("dtmx-barrier-{run}.db"));
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(60))
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("SQLite file {}: {e}", path.display()));
    let backend = Lite {
        pool,
        table: BarrierTable::new(Dialect::Sqlite),
        effects: "effects".to_owned(),
    };
    backend.setup().await;
    (backend, TempDb(path))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenarios() {
    let run = run_id();
    let (backend, _file) = backend(&run).await;
    barrier_common::scenarios(&backend, &run).await;
    backend.pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_interleavings() {
    let run = run_id();
    let (backend, _file) = backend(&run).await;
    let backend = Arc::new(backend);
    barrier_common::property(backend.clone(), &run, 10).await;
    backend.pool.close().await;
}

/// Business code that records `gid` in `joined_effects`.
fn busi(
    gid: String,
) -> impl for<'t> FnOnce(&'t mut sqlx::SqliteConnection) -> dtmx::barrier::BusiFuture<'t, (), dtmx::Error>
{
    move |conn| {
        Box::pin(async move {
            sqlx::query("insert into joined_effects (gid) values (?)")
                .bind(gid)
                .execute(conn)
                .await
                .map(drop)
                .map_err(|e| dtmx::Error::new(dtmx::ErrorKind::Database, e.to_string()))
        })
    }
}

/// The ownership rule on sqlx: `call` joins the caller's transaction (its rows and the
/// business code's go or stay with the caller's commit or rollback), `call_with_pool`
/// commits its own.
#[tokio::test]
async fn joined_transactions_stay_with_the_caller() {
    use dtmx::barrier::{sqlite, Barrier, Decision};
    let run = run_id();
    let (backend, _file) = backend(&run).await;
    let pool = &backend.pool;
    let gid = format!("{run}-join");
    sqlx::query("create table joined_effects (gid text not null)")
        .execute(pool)
        .await
        .expect("effects table");
    let rows = |gid: String| async move {
        let barrier: i64 = sqlx::query_scalar("select count(*) from barrier where gid = ?")
            .bind(&gid)
            .fetch_one(pool)
            .await
            .expect("count barrier rows");
        let effects: i64 = sqlx::query_scalar("select count(*) from joined_effects where gid = ?")
            .bind(&gid)
            .fetch_one(pool)
            .await
            .expect("count effects");
        (barrier, effects)
    };
    // Joined, then rolled back by the caller: nothing stays.
    let mut barrier = Barrier::new("tcc", &gid, "01", "try").expect("barrier");
    let mut tx = pool.begin().await.expect("begin");
    let out = sqlite::call(&mut tx, &mut barrier, &backend.table, busi(gid.clone()))
        .await
        .expect("call");
    assert_eq!(out.decision, Decision::RunBusiness);
    assert_eq!(
        rows(gid.clone()).await,
        (0, 0),
        "nothing visible before the caller commits"
    );
    tx.rollback().await.expect("rollback");
    assert_eq!(rows(gid.clone()).await, (0, 0));

    // Joined, then committed by the caller: the barrier row and the effect are there.
    let mut barrier = Barrier::new("tcc", &gid, "01", "try").expect("barrier");
    let mut tx = pool.begin().await.expect("begin");
    sqlite::call(&mut tx, &mut barrier, &backend.table, busi(gid.clone()))
        .await
        .expect("call");
    tx.commit().await.expect("commit");
    assert_eq!(rows(gid.clone()).await, (1, 1));

    // Its own transaction: committed by the barrier, and the next call is a duplicate.
    let mut barrier = Barrier::new("tcc", &gid, "01", "try").expect("barrier");
    let out = sqlite::call_with_pool(pool, &mut barrier, &backend.table, busi(gid.clone()))
        .await
        .expect("call");
    assert_eq!(out.decision, Decision::Duplicate);
    assert_eq!(rows(gid).await, (1, 1));
    backend.pool.close().await;
}
