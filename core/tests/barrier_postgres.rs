//! The barrier on a real PostgreSQL (`DTMX_TEST_PG_URL`, default the one of
//! scripts/services): fixed scenarios and random interleavings. Fails when PostgreSQL is
//! unreachable.

#[macro_use]
mod barrier_common;

use barrier_common::{env_url, run_id, unreachable_db};
use dtmx::barrier::{postgres, BarrierTable, Dialect};
use sqlx::postgres::PgPoolOptions;
use std::sync::Arc;
use std::time::Duration;

sql_backend!(Pg, postgres, sqlx::Postgres, sqlx::PgConnection, "$1");

const DEFAULT_URL: &str = "postgres://postgres:mysecretpassword@127.0.0.1:5432/postgres";

/// Concurrent `create schema if not exists` can race in PostgreSQL: set up one at a time.
static SETUP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn pool() -> sqlx::PgPool {
    let url = env_url("DTMX_TEST_PG_URL", DEFAULT_URL);
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(60))
        .connect(&url)
        .await
        .unwrap_or_else(|e| unreachable_db("PostgreSQL", &url, e))
}

async fn backend(run: &str) -> Pg {
    let _guard = SETUP.lock().await;
    let name = format!("dtm_barrier.barrier_t{run}");
    let backend = Pg {
        pool: pool().await,
        table: BarrierTable::with_name(Dialect::Postgres, &name).expect("table name"),
        effects: format!("dtm_barrier.effects_{run}"),
    };
    backend.setup().await;
    backend
}

async fn teardown(backend: &Pg) {
    let seq = format!("drop sequence if exists {}_seq", backend.table.name());
    backend.teardown(&[seq]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn default_table_ddl_is_idempotent() {
    let _guard = SETUP.lock().await;
    let mut conn = pool().await.acquire().await.expect("connection");
    let table = BarrierTable::new(Dialect::Postgres);
    for _ in 0..2 {
        postgres::create(&mut conn, &table).await.expect("ddl");
    }
    let constraint: Option<String> = sqlx::query_scalar(
        "select conname::text from pg_constraint where conname = 'uniq_barrier' \
         and conrelid = 'dtm_barrier.barrier'::regclass",
    )
    .fetch_optional(&mut *conn)
    .await
    .expect("catalog");
    assert_eq!(constraint.as_deref(), Some("uniq_barrier"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenarios() {
    let run = run_id();
    let backend = backend(&run).await;
    barrier_common::scenarios(&backend, &run).await;
    teardown(&backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_interleavings() {
    let run = run_id();
    let backend = Arc::new(backend(&run).await);
    barrier_common::property(backend.clone(), &run, 20).await;
    teardown(&backend).await;
}
