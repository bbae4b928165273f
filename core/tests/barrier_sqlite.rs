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
