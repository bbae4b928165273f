//! The outbox pattern end to end: a 2-phase message whose local transaction is guarded by
//! the barrier on a real SQLite database, against the real `dtmx` server. Covers the normal
//! path, a refused local transaction, a crash between the local commit and the submit
//! (the server's check-back finds the committed barrier row), and a local transaction that
//! never committed (the check-back fences it, and a late attempt is refused).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::any;
use axum::Router;
use dtmx::barrier::{sqlite, Barrier, BarrierTable, Dialect};
use dtmx::{Client, DtmResult, Error, ErrorKind, TransStatus};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod dtmx_server;

use dtmx_server::{binary, free_port, start_server};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dtmx-outbox-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The business service: `MsgIn` receives the message; `QueryPrepared` answers the
/// server's check-back from the barrier table.
#[derive(Clone)]
struct Busi {
    pool: SqlitePool,
    table: BarrierTable,
    delivered: Arc<Mutex<Vec<String>>>,
}

async fn msg_in(State(b): State<Busi>, RawQuery(q): RawQuery) -> (StatusCode, &'static str) {
    let branch = dtmx::Branch::from_query(&q.unwrap_or_default());
    b.delivered.lock().expect("lock").push(branch.gid);
    (StatusCode::OK, r#"{"dtm_result":"SUCCESS"}"#)
}

async fn query_prepared(
    State(b): State<Busi>,
    RawQuery(q): RawQuery,
) -> (StatusCode, &'static str) {
    let branch = dtmx::Branch::from_query(&q.unwrap_or_default());
    let Ok(barrier) = Barrier::new(
        &branch.trans_type,
        &branch.gid,
        &branch.branch_id,
        &branch.op,
    ) else {
        return (StatusCode::BAD_REQUEST, "bad branch request");
    };
    let Ok(mut conn) = b.pool.acquire().await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no connection");
    };
    match sqlite::query_prepared(&mut conn, &barrier, &b.table).await {
        Ok(DtmResult::Success) => (StatusCode::OK, r#"{"dtm_result":"SUCCESS"}"#),
        Ok(_) => (StatusCode::CONFLICT, r#"{"dtm_result":"FAILURE"}"#),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "database error"),
    }
}

async fn start_busi() -> (Busi, String) {
    let dir = temp_dir("busi");
    let options = SqliteConnectOptions::new()
        .filename(dir.join("busi.db"))
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .expect("sqlite");
    let table = BarrierTable::new(Dialect::Sqlite);
    let mut conn = pool.acquire().await.expect("conn");
    sqlite::create(&mut conn, &table)
        .await
        .expect("barrier table");
    sqlx::query("CREATE TABLE orders (gid TEXT PRIMARY KEY, amount INTEGER)")
        .execute(&mut *conn)
        .await
        .expect("orders table");
    drop(conn);
    let busi = Busi {
        pool,
        table,
        delivered: Arc::new(Mutex::new(Vec::new())),
    };
    let app = Router::new()
        .route("/api/busi/MsgIn", any(msg_in))
        .route("/api/busi/QueryPrepared", any(query_prepared))
        .with_state(busi.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/api/busi", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (busi, url)
}

/// The local transaction: insert the order under the msg's barrier.
async fn place_order(busi: &Busi, barrier: &mut Barrier, amount: i64) -> Result<(), Error> {
    let gid = barrier.gid().to_string();
    sqlite::call_with_pool(&busi.pool, barrier, &busi.table, move |conn| {
        Box::pin(async move {
            if amount < 0 {
                return Err(Error::new(ErrorKind::Failure, "negative amount"));
            }
            sqlx::query("INSERT INTO orders (gid, amount) VALUES (?1, ?2)")
                .bind(gid)
                .bind(amount)
                .execute(&mut *conn)
                .await
                .map_err(|e| Error::new(ErrorKind::Database, e.to_string()))?;
            Ok::<(), Error>(())
        })
    })
    .await
    .map(|_| ())
}

async fn order_exists(busi: &Busi, gid: &str) -> bool {
    sqlx::query("SELECT 1 FROM orders WHERE gid = ?1")
        .bind(gid)
        .fetch_optional(&busi.pool)
        .await
        .expect("select")
        .is_some()
}

async fn forward(dtm: &Client, seconds: u64) {
    let req = dtmx::HttpRequest::post_json(
        format!("{}/test/forward?seconds={seconds}", dtm.server()),
        Vec::new(),
    );
    let reply = dtm.send(req).await.expect("forward");
    assert_eq!(reply.status, 200, "the server needs DTMX_TEST_HOOKS=1");
}

async fn final_status(dtm: &Client, gid: &str) -> TransStatus {
    dtm.wait_final(gid, Duration::from_secs(15), Duration::from_millis(50))
        .await
        .expect("final status")
}

fn barrier_for(branch: &dtmx::Branch) -> Barrier {
    Barrier::new(
        &branch.trans_type,
        &branch.gid,
        &branch.branch_id,
        &branch.op,
    )
    .expect("barrier")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_with_the_sqlite_barrier() {
    let server = start_server(&binary().expect("dtmx binary"), "outbox").await;
    let (busi, url) = start_busi().await;
    let dtm = Client::http(server.dtm.clone());
    let qp = format!("{url}/QueryPrepared");

    // Normal path: the order commits with its barrier row, the message is delivered once.
    let gid = dtm.local_gid();
    let mut msg = dtm.msg(&gid);
    msg.add(format!("{url}/MsgIn"), br#"{"amount":30}"#);
    let b = busi.clone();
    msg.do_and_submit(&qp, |branch| async move {
        place_order(&b, &mut barrier_for(&branch), 30).await
    })
    .await
    .expect("do_and_submit");
    assert_eq!(final_status(&dtm, &gid).await, TransStatus::Succeed);
    assert!(order_exists(&busi, &gid).await);
    let delivered = |gid: &str| {
        busi.delivered
            .lock()
            .expect("lock")
            .iter()
            .filter(|g| g.as_str() == gid)
            .count()
    };
    assert_eq!(delivered(&gid), 1);

    // The local transaction refuses: rolled back with its barrier row, message aborted.
    let refused = dtm.local_gid();
    let mut msg = dtm.msg(&refused);
    msg.add(format!("{url}/MsgIn"), b"{}");
    let b = busi.clone();
    let err = msg
        .do_and_submit(&qp, |branch| async move {
            place_order(&b, &mut barrier_for(&branch), -1).await
        })
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Failure);
    assert_eq!(final_status(&dtm, &refused).await, TransStatus::Failed);
    assert!(!order_exists(&busi, &refused).await);
    assert_eq!(delivered(&refused), 0);

    // Crash after the local commit, before the submit: the server's check-back finds the
    // committed barrier row and delivers the message.
    let crashed = dtm.local_gid();
    let mut msg = dtm.msg(&crashed);
    msg.add(format!("{url}/MsgIn"), b"{}");
    msg.prepare(&qp).await.expect("prepare");
    place_order(&busi, &mut barrier_for(&msg.barrier_branch()), 5)
        .await
        .expect("local commit");
    // Never submitted: the message times out (35 s) and is checked back.
    let lost = dtm.local_gid();
    let mut orphan = dtm.msg(&lost);
    orphan.add(format!("{url}/MsgIn"), b"{}");
    orphan.prepare(&qp).await.expect("prepare");
    forward(&dtm, 40).await;
    assert_eq!(final_status(&dtm, &crashed).await, TransStatus::Succeed);
    assert_eq!(delivered(&crashed), 1);

    // The orphan's local transaction never committed: the check-back fenced it, the
    // message failed, and a late attempt of the local transaction is refused.
    assert_eq!(final_status(&dtm, &lost).await, TransStatus::Failed);
    assert_eq!(delivered(&lost), 0);
    let late = place_order(&busi, &mut barrier_for(&orphan.barrier_branch()), 7).await;
    assert_eq!(late.expect_err("fenced").kind(), ErrorKind::Duplicated);
    assert!(!order_exists(&busi, &lost).await);
}
