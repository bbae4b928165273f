//! XA over real databases: a global XA transaction from the Rust SDK against the real
//! `dtmx` server, whose branches run `XaLocal` (the sans-IO local XA branch) on real
//! MariaDB and PostgreSQL through sqlx. Success commits both branches' updates; a branch
//! refusing in phase 1 rolls back the other, prepared one, and leaves no prepared
//! transaction behind.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use dtmx::barrier::{BarrierTable, Dialect, Statement};
use dtmx::rm::reply::{outcome_from_result, outcome_reply};
use dtmx::rm::{XaLocal, XaStep};
use dtmx::{Branch, Client, Error, ErrorKind, Result, TransStatus};
use sqlx::{Connection, MySqlConnection, PgConnection};
use std::time::Duration;

const MYSQL_SERVER: &str = "mysql://root@127.0.0.1:3306";
const PG_URL: &str = "postgres://postgres:mysecretpassword@127.0.0.1:5432/postgres";

fn mysql_url() -> String {
    std::env::var("DTMX_TEST_MYSQL_URL").unwrap_or_else(|_| format!("{MYSQL_SERVER}/mysql"))
}

fn pg_url() -> String {
    std::env::var("DTMX_TEST_PG_URL").unwrap_or_else(|_| PG_URL.into())
}

mod dtmx_server;

use dtmx_server::{binary, start_server};

fn db_error(e: sqlx::Error) -> String {
    e.to_string()
}

/// Runs `XaLocal` on one dedicated connection of a sqlx database: XA commands (no
/// parameters) go unprepared, barrier statements with their parameters.
macro_rules! xa_driver {
    ($name:ident, $conn:ty) => {
        async fn $name(
            conn: &mut $conn,
            client: &Client,
            branch: &Branch,
            table: &BarrierTable,
            business: &str,
            amount: i64,
            refuse: bool,
        ) -> Result<()> {
            async fn execute(conn: &mut $conn, s: &Statement) -> std::result::Result<u64, String> {
                if s.params.is_empty() {
                    return sqlx::raw_sql(&s.sql)
                        .execute(&mut *conn)
                        .await
                        .map(|r| r.rows_affected())
                        .map_err(db_error);
                }
                let mut q = sqlx::query(&s.sql);
                for p in &s.params {
                    q = q.bind(p.as_str());
                }
                q.execute(&mut *conn)
                    .await
                    .map(|r| r.rows_affected())
                    .map_err(db_error)
            }
            let mut xa = XaLocal::new(branch, table)?;
            loop {
                match xa.step().clone() {
                    XaStep::Execute(s) => match execute(conn, &s).await {
                        Ok(n) => xa.feed_affected(n)?,
                        Err(e) => xa.feed_sql_error(&e)?,
                    },
                    XaStep::QueryReason(s) => {
                        let mut q = sqlx::query_scalar::<_, String>(&s.sql);
                        for p in &s.params {
                            q = q.bind(p.as_str());
                        }
                        match q.fetch_optional(&mut *conn).await {
                            Ok(reason) => xa.feed_reason(reason.as_deref())?,
                            Err(e) => xa.feed_sql_error(&e.to_string())?,
                        }
                    }
                    XaStep::RunBusiness => {
                        let result = if refuse {
                            Err(Error::new(ErrorKind::Failure, "insufficient balance"))
                        } else {
                            sqlx::query(business)
                                .bind(amount)
                                .bind(branch.gid.as_str())
                                .execute(&mut *conn)
                                .await
                                .map(|_| ())
                                .map_err(|e| Error::new(ErrorKind::Database, e.to_string()))
                        };
                        xa.feed_business(result)?
                    }
                    XaStep::Send(request) => match client.send(request).await {
                        Ok(r) => xa.feed_reply(r.status, &r.body)?,
                        Err(e) => xa.feed_send_error(e)?,
                    },
                    XaStep::Done => break,
                };
            }
            xa.finish()
        }
    };
}

xa_driver!(xa_on_mysql, MySqlConnection);
xa_driver!(xa_on_postgres, PgConnection);

#[derive(Clone)]
struct App {
    client: Client,
}

/// `/api/busi/{Db}{Out|In}`: the two sides of a transfer on MariaDB (`My`) or
/// PostgreSQL (`Pg`); a body with `"refuse":true` refuses in phase 1.
async fn branch(
    State(app): State<App>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let branch = Branch::from_query(q.as_deref().unwrap_or(""));
    let refuse = String::from_utf8_lossy(&body).contains(r#""refuse":true"#);
    // The driver runs on its own single-threaded runtime: sqlx's borrowed-connection
    // futures are not provably Send, which axum handlers must be.
    let result = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        rt.block_on(run_branch(&app.client, &name, &branch, refuse))
    })
    .await
    .unwrap_or_else(|e| Err(Error::new(ErrorKind::Internal, e.to_string())));
    let reply = outcome_reply(&outcome_from_result(&result));
    (
        axum::http::StatusCode::from_u16(reply.status).expect("status"),
        reply.body,
    )
        .into_response()
}

async fn run_branch(client: &Client, name: &str, branch: &Branch, refuse: bool) -> Result<()> {
    let (delta, row) = if name.ends_with("Out") {
        (-30, "1")
    } else {
        (30, "2")
    };
    let db_error = |e: sqlx::Error| Error::new(ErrorKind::Database, e.to_string());
    if name.starts_with("My") {
        let table = BarrierTable::new(Dialect::Mysql);
        let sql = format!(
            "UPDATE dtmx_xa_e2e.accounts SET balance = balance + ? WHERE gid = ? AND id = {row}"
        );
        let mut conn = MySqlConnection::connect(&mysql_url())
            .await
            .map_err(db_error)?;
        let r = xa_on_mysql(&mut conn, client, branch, &table, &sql, delta, refuse).await;
        let _ = conn.close().await;
        r
    } else {
        let table = BarrierTable::new(Dialect::Postgres);
        let sql = format!(
            "UPDATE dtmx_xa_e2e.accounts SET balance = balance + $1 WHERE gid = $2 AND id = {row}"
        );
        let mut conn = PgConnection::connect(&pg_url()).await.map_err(db_error)?;
        let r = xa_on_postgres(&mut conn, client, branch, &table, &sql, delta, refuse).await;
        let _ = conn.close().await;
        r
    }
}

async fn start_busi(dtm: &str) -> String {
    let app = Router::new()
        .route("/api/busi/{name}", any(branch))
        .with_state(App {
            client: Client::http(dtm),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/api/busi", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

async fn setup_mysql(gid: &str) -> MySqlConnection {
    let mut conn = MySqlConnection::connect(&mysql_url())
        .await
        .expect("MariaDB (run scripts/services)");
    for ddl in BarrierTable::new(Dialect::Mysql).ddl() {
        sqlx::raw_sql(&ddl)
            .execute(&mut conn)
            .await
            .expect("barrier ddl");
    }
    sqlx::raw_sql(
        "CREATE DATABASE IF NOT EXISTS dtmx_xa_e2e; CREATE TABLE IF NOT EXISTS \
         dtmx_xa_e2e.accounts (gid VARCHAR(128), id INT, balance INT, PRIMARY KEY (gid, id))",
    )
    .execute(&mut conn)
    .await
    .expect("accounts");
    sqlx::query("INSERT INTO dtmx_xa_e2e.accounts VALUES (?, 1, 100), (?, 2, 100)")
        .bind(gid)
        .bind(gid)
        .execute(&mut conn)
        .await
        .expect("seed");
    conn
}

async fn setup_pg(gid: &str) -> PgConnection {
    let mut conn = PgConnection::connect(&pg_url())
        .await
        .expect("PostgreSQL (run scripts/services)");
    for ddl in BarrierTable::new(Dialect::Postgres).ddl() {
        // Concurrent runs may race on "if not exists"; the table is there either way.
        let _ = sqlx::raw_sql(&ddl).execute(&mut conn).await;
    }
    let _ = sqlx::raw_sql(
        "CREATE SCHEMA IF NOT EXISTS dtmx_xa_e2e; CREATE TABLE IF NOT EXISTS \
         dtmx_xa_e2e.accounts (gid VARCHAR(128), id INT, balance INT, PRIMARY KEY (gid, id))",
    )
    .execute(&mut conn)
    .await;
    sqlx::query("INSERT INTO dtmx_xa_e2e.accounts VALUES ($1, 1, 100), ($1, 2, 100)")
        .bind(gid)
        .execute(&mut conn)
        .await
        .expect("seed");
    conn
}

async fn run_transfer(
    dtm: &Client,
    gid: &str,
    out: String,
    into: String,
    refuse: bool,
) -> Result<()> {
    let body_in = if refuse {
        br#"{"amount":30,"refuse":true}"#.to_vec()
    } else {
        br#"{"amount":30}"#.to_vec()
    };
    dtm.xa(gid)
        .run(|xa| async move {
            xa.call_branch(br#"{"amount":30}"#, &out).await?;
            xa.call_branch(&body_in, &into).await?;
            Ok(())
        })
        .await
}

async fn wait_final(dtm: &Client, gid: &str) -> TransStatus {
    dtm.wait_final(gid, Duration::from_secs(15), Duration::from_millis(50))
        .await
        .expect("final")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xa_on_real_mariadb_and_postgres() {
    let server = start_server(&binary().expect("dtmx binary"), "xa").await;
    let busi = start_busi(&server.dtm).await;
    let dtm = Client::http(server.dtm.clone());

    for db in ["My", "Pg"] {
        let balances = |rows: Vec<(i32, i32)>| rows.into_iter().map(|(_, b)| b).collect::<Vec<_>>();
        let ok = dtm.local_gid();
        let refused = dtm.local_gid();
        let read = |gid: String| async move {
            let sql_my = "SELECT id, balance FROM dtmx_xa_e2e.accounts WHERE gid = ? ORDER BY id";
            let sql_pg = "SELECT id, balance FROM dtmx_xa_e2e.accounts WHERE gid = $1 ORDER BY id";
            if db == "My" {
                let mut c = MySqlConnection::connect(&mysql_url()).await.expect("conn");
                sqlx::query_as::<_, (i32, i32)>(sql_my)
                    .bind(gid)
                    .fetch_all(&mut c)
                    .await
            } else {
                let mut c = PgConnection::connect(&pg_url()).await.expect("conn");
                sqlx::query_as::<_, (i32, i32)>(sql_pg)
                    .bind(gid)
                    .fetch_all(&mut c)
                    .await
            }
            .expect("read balances")
        };
        if db == "My" {
            setup_mysql(&ok).await;
            setup_mysql(&refused).await;
        } else {
            setup_pg(&ok).await;
            setup_pg(&refused).await;
        }

        run_transfer(
            &dtm,
            &ok,
            format!("{busi}/{db}Out"),
            format!("{busi}/{db}In"),
            false,
        )
        .await
        .expect("xa succeeds");
        assert_eq!(wait_final(&dtm, &ok).await, TransStatus::Succeed, "{db}");
        assert_eq!(
            balances(read(ok.clone()).await),
            [70, 130],
            "{db}: both committed"
        );

        let err = run_transfer(
            &dtm,
            &refused,
            format!("{busi}/{db}Out"),
            format!("{busi}/{db}In"),
            true,
        )
        .await
        .expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::Failure, "{db}: {err}");
        assert_eq!(
            wait_final(&dtm, &refused).await,
            TransStatus::Failed,
            "{db}"
        );
        assert_eq!(
            balances(read(refused.clone()).await),
            [100, 100],
            "{db}: the prepared branch was rolled back"
        );
    }
    drop(server);
}
