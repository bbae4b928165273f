//! The barrier on a real MySQL or MariaDB (`DTMX_TEST_MYSQL_URL`, default the MariaDB of
//! scripts/services): fixed scenarios and random interleavings. Fails when the database is
//! unreachable.

#[macro_use]
mod barrier_common;

use barrier_common::{run_id, unreachable_db};
use dtmx::barrier::{mysql, BarrierTable, Dialect};
use sqlx::mysql::MySqlPoolOptions;
use std::sync::Arc;
use std::time::Duration;

sql_backend!(My, mysql, sqlx::MySql, sqlx::MySqlConnection, "?");

const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/mysql";

/// The local MariaDB socket, tried when the default TCP URL is refused (see [`pool`]).
const SOCKET_URL: &str = "mysql://root@localhost/mysql?socket=/run/mysqld/mysqld.sock";

async fn connect(url: &str) -> Result<sqlx::MySqlPool, sqlx::Error> {
    MySqlPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(60))
        .connect(url)
        .await
}

/// A pool on `DTMX_TEST_MYSQL_URL`, else on root with an empty password at 127.0.0.1:3306.
///
/// sqlx 0.8 answers an authentication switch with a scrambled empty password instead of an
/// empty one, so an account that MariaDB authenticates "via unix_socket OR
/// mysql_native_password" (root@localhost, which 127.0.0.1 resolves to) refuses it over
/// TCP. Without an explicit URL the test then uses the local socket, where unix_socket
/// authentication succeeds.
async fn pool() -> sqlx::MySqlPool {
    let explicit = std::env::var("DTMX_TEST_MYSQL_URL").ok();
    let url = explicit.clone().unwrap_or_else(|| DEFAULT_URL.to_owned());
    match connect(&url).await {
        Ok(pool) => pool,
        Err(e) if explicit.is_none() && access_denied(&e) => {
            eprintln!("{url}: {e}; trying {SOCKET_URL}");
            connect(SOCKET_URL)
                .await
                .unwrap_or_else(|e| unreachable_db("MySQL/MariaDB", SOCKET_URL, e))
        }
        Err(e) => unreachable_db("MySQL/MariaDB", &url, e),
    }
}

fn access_denied(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).as_deref() == Some("28000")
}

async fn backend(run: &str) -> My {
    let name = format!("dtm_barrier.barrier_t{run}");
    let backend = My {
        pool: pool().await,
        table: BarrierTable::with_name(Dialect::Mysql, &name).expect("table name"),
        effects: format!("dtm_barrier.effects_{run}"),
    };
    backend.setup().await;
    backend
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn default_table_ddl_is_idempotent() {
    let mut conn = pool().await.acquire().await.expect("connection");
    let table = BarrierTable::new(Dialect::Mysql);
    for _ in 0..2 {
        mysql::create(&mut conn, &table).await.expect("ddl");
    }
    let unique: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.statistics where table_schema = 'dtm_barrier' \
         and table_name = 'barrier' and non_unique = 0 and column_name = 'barrier_id'",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("catalog");
    assert_eq!(unique, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenarios() {
    let run = run_id();
    let backend = backend(&run).await;
    barrier_common::scenarios(&backend, &run).await;
    backend.teardown(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_interleavings() {
    let run = run_id();
    let backend = Arc::new(backend(&run).await);
    barrier_common::property(backend.clone(), &run, 20).await;
    backend.teardown(&[]).await;
}
