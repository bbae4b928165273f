//! End-to-end: the Rust SDK (reqwest transport) against the real `dtmx` binary and a real
//! business service (axum) on loopback: sagas (success, compensation), messages (prepare
//! and submit, do_and_submit), TCC (normal, rollback, nested), XA with a stand-in database,
//! gids. Outcomes are read back through `/api/dtmsvr/query`.
//!
//! The binary is `DTMX_BIN` or `target/debug/dtmx` (`cargo build -p dtmx-server`); without
//! `DTMX_BIN`, a missing binary skips the tests with a notice.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use dtmx::barrier::{BarrierTable, Dialect};
use dtmx::rm::{outcome_from_result, outcome_reply, Branch, XaLocal, XaStep};
use dtmx::tm::Client;
use dtmx::{Error, ErrorKind, Outcome, Result, Tcc, TransStatus};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod dtmx_server;

use dtmx_server::{binary, start_server, Server};

// ---------------------------------------------------------------------------------------
// The business service

#[derive(Debug, Clone)]
struct Call {
    name: String,
    branch: Branch,
    body: String,
}

#[derive(Clone)]
struct App {
    client: Client,
    calls: Arc<Mutex<Vec<Call>>>,
    check_back: Arc<Mutex<Outcome>>,
}

impl App {
    fn calls(&self, gid: &str) -> Vec<Call> {
        self.calls
            .lock()
            .expect("calls")
            .iter()
            .filter(|c| c.branch.gid == gid)
            .cloned()
            .collect()
    }

    fn called(&self, gid: &str, name: &str) -> Vec<Call> {
        self.calls(gid)
            .into_iter()
            .filter(|c| c.name == name)
            .collect()
    }
}

fn reply(outcome: &Outcome) -> Response {
    let r = outcome_reply(outcome);
    (
        axum::http::StatusCode::from_u16(r.status).expect("status"),
        [("content-type", dtmx::rm::reply::CONTENT_TYPE)],
        r.body,
    )
        .into_response()
}

async fn busi_handler(
    State(app): State<App>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let branch = Branch::from_query(query.as_deref().unwrap_or(""));
    let body = String::from_utf8_lossy(&body).into_owned();
    app.calls.lock().expect("calls").push(Call {
        name: name.clone(),
        branch: branch.clone(),
        body: body.clone(),
    });
    let outcome = match name.as_str() {
        "QueryPrepared" => app.check_back.lock().expect("check back").clone(),
        "TccNestedTry" => outcome_from_result(&nested_try(&app, &branch).await),
        "XaAction" => outcome_from_result(&xa_branch(&app, &branch).await),
        _ if body.contains(r#""fail":true"#) && matches!(branch.op.as_str(), "action" | "try") => {
            Outcome::Failure("no money".into())
        }
        _ => Outcome::Success,
    };
    reply(&outcome)
}

/// A TCC try that opens a nested TCC and calls one sub-branch.
async fn nested_try(app: &App, branch: &Branch) -> Result<()> {
    let tcc = app.client.tcc_from_branch(branch)?;
    let busi = busi_url(app);
    tcc.call_branch(
        br#"{"amount":7}"#,
        &format!("{busi}/TccInnerTry"),
        &format!("{busi}/TccInnerConfirm"),
        &format!("{busi}/TccInnerCancel"),
    )
    .await?;
    Ok(())
}

/// An XA branch on a stand-in database that accepts every statement.
async fn xa_branch(app: &App, branch: &Branch) -> Result<()> {
    let mut xa = XaLocal::new(branch, &BarrierTable::new(Dialect::Mysql))?;
    loop {
        match xa.step().clone() {
            XaStep::Execute(_) => xa.feed_affected(1)?,
            XaStep::QueryReason(_) => xa.feed_reason(None)?,
            XaStep::RunBusiness => xa.feed_business(Ok(()))?,
            XaStep::Send(request) => match app.client.send(request).await {
                Ok(r) => xa.feed_reply(r.status, &r.body)?,
                Err(e) => xa.feed_send_error(e)?,
            },
            XaStep::Done => break,
        };
    }
    xa.finish()
}

fn busi_url(app: &App) -> String {
    app.client
        .server()
        .strip_prefix("busi:")
        .unwrap_or_default()
        .to_string()
}

struct Env {
    _server: Server,
    dtm: Client,
    app: App,
    busi: String,
}

async fn setup(tag: &str) -> Option<Env> {
    let bin = binary()?;
    let server = start_server(&bin, tag).await;
    let dtm = Client::http(server.dtm.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind busi");
    let busi = format!(
        "http://{}/api/busi",
        listener.local_addr().expect("busi addr")
    );
    let app = App {
        // The busi URL rides in the server field of a client used only for its transport
        // (nested TCCs take the server from the request).
        client: dtm.with_server(format!("busi:{busi}")),
        calls: Arc::default(),
        check_back: Arc::new(Mutex::new(Outcome::Success)),
    };
    let router = Router::new()
        .route("/api/busi/{name}", any(busi_handler))
        .with_state(app.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Some(Env {
        _server: server,
        dtm,
        app,
        busi,
    })
}

async fn status(env: &Env, gid: &str) -> TransStatus {
    env.dtm
        .wait_final(gid, Duration::from_secs(20), Duration::from_millis(50))
        .await
        .unwrap_or_else(|e| panic!("{gid}: {e}"))
}

/// `(branch_id, op, status)` of every branch, in storage order.
async fn branches(env: &Env, gid: &str) -> Vec<(String, String, String)> {
    let q = env.dtm.query(gid).await.expect("query");
    q["branches"]
        .as_array()
        .expect("branches")
        .iter()
        .map(|b| {
            let f = |k: &str| b[k].as_str().unwrap_or_default().to_string();
            (f("branch_id"), f("op"), f("status"))
        })
        .collect()
}

fn triples(v: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    v.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn saga_success_and_compensation() {
    let Some(env) = setup("saga").await else {
        return;
    };
    let b = &env.busi;
    let gid = env.dtm.new_gid().await.expect("new gid");
    assert_eq!(gid.len(), 22, "{gid}");
    let mut saga = env.dtm.saga(&gid);
    saga.add(
        format!("{b}/TransOut"),
        format!("{b}/TransOutRevert"),
        br#"{"amount":30}"#,
    )
    .add(
        format!("{b}/TransIn"),
        format!("{b}/TransInRevert"),
        br#"{"amount":30}"#,
    )
    .wait_result(true);
    saga.submit().await.expect("saga submits");
    assert_eq!(status(&env, &gid).await, TransStatus::Succeed);
    assert_eq!(
        branches(&env, &gid).await,
        triples(&[
            ("01", "compensate", "prepared"),
            ("01", "action", "succeed"),
            ("02", "compensate", "prepared"),
            ("02", "action", "succeed"),
        ])
    );
    assert_eq!(env.app.called(&gid, "TransIn")[0].body, r#"{"amount":30}"#);

    // The second action fails: both steps are compensated, in reverse order.
    let gid = env.dtm.local_gid();
    let mut saga = env.dtm.saga(&gid);
    saga.add(
        format!("{b}/TransOut"),
        format!("{b}/TransOutRevert"),
        br#"{"amount":30}"#,
    )
    .add(
        format!("{b}/TransIn"),
        format!("{b}/TransInRevert"),
        br#"{"amount":30,"fail":true}"#,
    )
    .wait_result(true);
    let err = saga.submit().await.expect_err("saga fails");
    assert_eq!(err.kind(), ErrorKind::Failure, "{err}");
    assert_eq!(status(&env, &gid).await, TransStatus::Failed);
    let names: Vec<String> = env.app.calls(&gid).into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        ["TransOut", "TransIn", "TransInRevert", "TransOutRevert"]
    );
}

#[tokio::test]
async fn concurrent_saga_with_orders() {
    let Some(env) = setup("saga-conc").await else {
        return;
    };
    let b = &env.busi;
    let gid = env.dtm.local_gid();
    let mut saga = env.dtm.saga(&gid);
    for step in ["A", "B", "C"] {
        saga.add(
            format!("{b}/Step{step}"),
            format!("{b}/Step{step}Revert"),
            b"{}",
        );
    }
    saga.enable_concurrent()
        .add_branch_order(2, &[0, 1])
        .wait_result(true)
        .retry_interval(1)
        .timeout_to_fail(60);
    saga.submit().await.expect("saga submits");
    assert_eq!(status(&env, &gid).await, TransStatus::Succeed);
    let names: Vec<String> = env.app.calls(&gid).into_iter().map(|c| c.name).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[2], "StepC", "{names:?}");
}

#[tokio::test]
async fn msg_prepare_submit_and_do_and_submit() {
    let Some(env) = setup("msg").await else {
        return;
    };
    let b = &env.busi;
    let qp = format!("{b}/QueryPrepared");

    let gid = env.dtm.local_gid();
    let mut msg = env.dtm.msg(&gid);
    msg.add(format!("{b}/MsgIn"), br#"{"amount":30}"#);
    msg.prepare(&qp).await.expect("prepare");
    assert_eq!(
        env.dtm.query_status(&gid).await.expect("query"),
        Some(TransStatus::Prepared)
    );
    msg.submit().await.expect("submit");
    assert_eq!(status(&env, &gid).await, TransStatus::Succeed);
    assert_eq!(env.app.called(&gid, "MsgIn")[0].body, r#"{"amount":30}"#);

    // do_and_submit: the local work succeeds.
    let gid = env.dtm.local_gid();
    let mut msg = env.dtm.msg(&gid);
    msg.add(format!("{b}/MsgIn"), br#"{"amount":1}"#);
    let seen = Arc::new(Mutex::new(None));
    let seen2 = seen.clone();
    msg.do_and_submit(&qp, |barrier| async move {
        *seen2.lock().expect("seen") = Some(barrier);
        Ok(())
    })
    .await
    .expect("do_and_submit");
    let barrier = seen.lock().expect("seen").clone().expect("callback ran");
    assert_eq!(
        (
            barrier.trans_type.as_str(),
            barrier.branch_id.as_str(),
            barrier.op.as_str()
        ),
        ("msg", "00", "msg")
    );
    assert_eq!(status(&env, &gid).await, TransStatus::Succeed);

    // The local work fails: the message is aborted, nothing is delivered.
    let gid = env.dtm.local_gid();
    let mut msg = env.dtm.msg(&gid);
    msg.add(format!("{b}/MsgIn"), br#"{"amount":2}"#);
    let err = msg
        .do_and_submit(&qp, |_| async {
            Err::<(), _>(Error::new(ErrorKind::Failure, "no stock FAILURE"))
        })
        .await
        .expect_err("failure");
    assert_eq!(err.kind(), ErrorKind::Failure);
    assert_eq!(status(&env, &gid).await, TransStatus::Failed);
    assert!(env.app.called(&gid, "MsgIn").is_empty());

    // The local work ends in doubt: the check-back says it committed, so it is submitted
    // (and the callback's error still returned, as DTM's SDK does).
    let gid = env.dtm.local_gid();
    let mut msg = env.dtm.msg(&gid);
    msg.add(format!("{b}/MsgIn"), br#"{"amount":3}"#);
    let err = msg
        .do_and_submit(&qp, |_| async {
            Err::<(), _>(Error::new(
                ErrorKind::Database,
                "connection lost during commit",
            ))
        })
        .await
        .expect_err("callback error");
    assert_eq!(err.kind(), ErrorKind::Database);
    let check = env.app.called(&gid, "QueryPrepared");
    assert_eq!(check.len(), 1);
    assert_eq!(
        (
            check[0].branch.branch_id.as_str(),
            check[0].branch.op.as_str()
        ),
        ("00", "msg")
    );
    assert_eq!(check[0].branch.dtm, env.dtm.server());
    assert_eq!(status(&env, &gid).await, TransStatus::Succeed);
    assert_eq!(env.app.called(&gid, "MsgIn").len(), 1);
}

#[tokio::test]
async fn tcc_normal_rollback_and_nested() {
    let Some(env) = setup("tcc").await else {
        return;
    };
    let b = env.busi.clone();
    let call = |tcc: Tcc, name: &'static str, body: &'static [u8]| {
        let b = b.clone();
        async move {
            tcc.call_branch(
                body,
                &format!("{b}/{name}Try"),
                &format!("{b}/{name}Confirm"),
                &format!("{b}/{name}Cancel"),
            )
            .await
        }
    };

    let gid = env.dtm.local_gid();
    env.dtm
        .tcc(&gid)
        .run(|tcc| async move {
            call(tcc.clone(), "TccOut", br#"{"amount":30}"#).await?;
            call(tcc, "TccIn", br#"{"amount":30}"#).await
        })
        .await
        .expect("tcc succeeds");
    assert_eq!(status(&env, &gid).await, TransStatus::Succeed);
    assert_eq!(
        branches(&env, &gid).await,
        triples(&[
            ("01", "cancel", "prepared"),
            ("01", "confirm", "succeed"),
            ("02", "cancel", "prepared"),
            ("02", "confirm", "succeed"),
        ])
    );
    let try_in = &env.app.called(&gid, "TccInTry")[0];
    assert_eq!(try_in.branch.dtm, env.dtm.server());
    assert_eq!(
        (try_in.branch.branch_id.as_str(), try_in.branch.op.as_str()),
        ("02", "try")
    );
    assert_eq!(
        env.app.called(&gid, "TccInConfirm")[0].body,
        r#"{"amount":30}"#
    );

    // The second try fails: abort with the reason, both branches cancelled.
    let gid = env.dtm.local_gid();
    let mut tcc = env.dtm.tcc(&gid);
    tcc.timeout_to_fail(60).branch_header("X-Tenant", "t1");
    let err = tcc
        .run(|tcc| async move {
            call(tcc.clone(), "TccOut", br#"{"amount":30}"#).await?;
            call(tcc, "TccIn", br#"{"amount":30,"fail":true}"#).await
        })
        .await
        .expect_err("tcc fails");
    assert_eq!(err.kind(), ErrorKind::Failure, "{err}");
    assert_eq!(status(&env, &gid).await, TransStatus::Failed);
    assert_eq!(
        branches(&env, &gid).await,
        triples(&[
            ("01", "cancel", "succeed"),
            ("01", "confirm", "prepared"),
            ("02", "cancel", "succeed"),
            ("02", "confirm", "prepared"),
        ])
    );
    let q = env.dtm.query(&gid).await.expect("query");
    let reason = q["transaction"]["rollback_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("no money") && reason.ends_with("FAILURE"),
        "{q}"
    );

    // Nested: the try of branch 01 registers and tries 0101 itself.
    let gid = env.dtm.local_gid();
    let bb = b.clone();
    env.dtm
        .tcc(&gid)
        .run(|tcc| async move {
            tcc.call_branch(
                br#"{"amount":5}"#,
                &format!("{bb}/TccNestedTry"),
                &format!("{bb}/TccNestedConfirm"),
                &format!("{bb}/TccNestedCancel"),
            )
            .await
        })
        .await
        .expect("nested tcc succeeds");
    assert_eq!(status(&env, &gid).await, TransStatus::Succeed);
    let mut got = branches(&env, &gid).await;
    got.sort();
    assert_eq!(
        got,
        triples(&[
            ("01", "cancel", "prepared"),
            ("01", "confirm", "succeed"),
            ("0101", "cancel", "prepared"),
            ("0101", "confirm", "succeed"),
        ])
    );
    let inner = &env.app.called(&gid, "TccInnerConfirm")[0];
    assert_eq!(inner.branch.branch_id, "0101");
}

#[tokio::test]
async fn xa_with_stand_in_database() {
    let Some(env) = setup("xa").await else {
        return;
    };
    let b = &env.busi;
    let gid = env.dtm.local_gid();
    let url = format!("{b}/XaAction");
    env.dtm
        .xa(&gid)
        .run(|xa| async move {
            xa.call_branch(br#"{"amount":30}"#, &url).await?;
            xa.call_branch(br#"{"amount":30}"#, &url).await
        })
        .await
        .expect("xa succeeds");
    assert_eq!(status(&env, &gid).await, TransStatus::Succeed);
    assert_eq!(
        branches(&env, &gid).await,
        triples(&[
            ("01", "rollback", "prepared"),
            ("01", "commit", "succeed"),
            ("02", "rollback", "prepared"),
            ("02", "commit", "succeed"),
        ])
    );
    let ops: Vec<String> = env
        .app
        .called(&gid, "XaAction")
        .into_iter()
        .map(|c| format!("{}:{}", c.branch.branch_id, c.branch.op))
        .collect();
    assert_eq!(ops, ["01:action", "02:action", "01:commit", "02:commit"]);

    // A branch failing in phase 1 (its registration is refused after an abort) rolls back.
    let gid = env.dtm.local_gid();
    let url = format!("{b}/XaAction");
    let fail = format!("{b}/Refuse");
    let err = env
        .dtm
        .xa(&gid)
        .run(|xa| async move {
            xa.call_branch(br#"{"amount":30}"#, &url).await?;
            xa.call_branch(br#"{"amount":30,"fail":true}"#, &fail).await
        })
        .await
        .expect_err("xa fails");
    assert_eq!(err.kind(), ErrorKind::Failure, "{err}");
    assert_eq!(status(&env, &gid).await, TransStatus::Failed);
    assert_eq!(
        branches(&env, &gid).await,
        triples(&[("01", "rollback", "succeed"), ("01", "commit", "prepared")])
    );
}
