//! dtmx quick start: a money transfer as a saga.
//!
//! The program plays both roles around a running dtmx server:
//!
//! * the **business service**, an HTTP server with four endpoints: `TransOut` and `TransIn`
//!   move money, `TransOutRevert` and `TransInRevert` undo those moves;
//! * the **client**, which asks the server for a gid and submits a two-step saga
//!   (`TransOut`, then `TransIn`) that the server drives by calling the business service.
//!
//! It runs the saga twice: once where every step succeeds, and once where `TransIn` refuses
//! (HTTP 409, `FAILURE`) so the server runs the compensations in reverse order. It exits 0
//! only when the first saga ends `succeed` and the second `failed`, so it also serves as a
//! smoke test of the server.
//!
//! Environment: `DTMX_SERVER` (default `http://localhost:36789/api/dtmsvr`) and `BUSI_PORT`
//! (default `8081`).

use axum::{http::StatusCode, routing::post, Json, Router};
use dtmx::{BranchOp, DtmResult, TransOptions, TransRequest, TransStatus, TransType};
use reqwest::{header::CONTENT_TYPE, Client};
use serde_json::{json, Value};
use std::{collections::BTreeMap, error::Error, process::ExitCode, time::Duration};

/// Errors of the client side, reported as text.
type BoxError = Box<dyn Error + Send + Sync>;

/// A business endpoint's answer: HTTP status plus `{"dtm_result": ...}`.
type Reply = (StatusCode, Json<Value>);

#[tokio::main]
async fn main() -> ExitCode {
    let server = std::env::var("DTMX_SERVER")
        .unwrap_or_else(|_| "http://localhost:36789/api/dtmsvr".to_owned());
    let port = std::env::var("BUSI_PORT").unwrap_or_else(|_| "8081".to_owned());
    match run(server.trim_end_matches('/'), &port).await {
        Ok(true) => {
            println!("\nquick start OK: the first saga succeeded, the second was rolled back");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("\nquick start FAILED: unexpected outcome (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("is the dtmx server running at {server}? (cargo run -p dtmx-server)");
            ExitCode::FAILURE
        }
    }
}

/// Starts the business service, runs both sagas and reports whether they ended as expected.
async fn run(server: &str, port: &str) -> Result<bool, BoxError> {
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let busi = format!("http://127.0.0.1:{port}/api/busi");
    println!("business service listening on {busi}");
    tokio::spawn(async move { axum::serve(listener, busi_router()).await });

    let client = Client::builder().timeout(Duration::from_secs(60)).build()?;

    println!("\n=== 1. a saga where every step succeeds ===");
    let first = run_saga(&client, server, &busi, json!({"amount": 30})).await?;

    println!("\n=== 2. the same saga, but TransIn refuses ===");
    let payload = json!({"amount": 30, "transInResult": "FAILURE"});
    let second = run_saga(&client, server, &busi, payload).await?;

    Ok(first == Some(TransStatus::Succeed) && second == Some(TransStatus::Failed))
}

// ---------------------------------------------------------------------------------------
// Business service
// ---------------------------------------------------------------------------------------

/// The four saga endpoints under `/api/busi`.
fn busi_router() -> Router {
    Router::new()
        .route("/api/busi/TransOut", post(trans_out))
        .route("/api/busi/TransOutRevert", post(trans_out_revert))
        .route("/api/busi/TransIn", post(trans_in))
        .route("/api/busi/TransInRevert", post(trans_in_revert))
}

/// Maps a result word to the HTTP status DTM expects (200, 409 or 425) and its JSON body.
fn reply(result: DtmResult) -> Reply {
    let status = match result {
        DtmResult::Success => StatusCode::OK,
        DtmResult::Failure => StatusCode::CONFLICT,
        DtmResult::Ongoing => StatusCode::TOO_EARLY,
    };
    (status, Json(json!({ "dtm_result": result.as_str() })))
}

/// Parses the step payload (the body the server forwards verbatim); `null` if it is not JSON.
fn payload(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_default()
}

/// Withdraws the amount from account 1.
async fn trans_out(body: String) -> Reply {
    println!(
        "  [busi] TransOut: moving {} out of account 1",
        payload(&body)["amount"]
    );
    reply(DtmResult::Success)
}

/// Compensation of `TransOut`: puts the amount back into account 1.
async fn trans_out_revert(body: String) -> Reply {
    let amount = &payload(&body)["amount"];
    println!("  [busi] TransOutRevert: putting {amount} back into account 1");
    reply(DtmResult::Success)
}

/// Deposits the amount into account 2, or refuses when the payload asks for a failure.
async fn trans_in(body: String) -> Reply {
    let payload = payload(&body);
    let amount = &payload["amount"];
    if payload["transInResult"] == DtmResult::Failure.as_str() {
        println!("  [busi] TransIn: refusing to move {amount} into account 2 -> 409 FAILURE");
        return reply(DtmResult::Failure);
    }
    println!("  [busi] TransIn: moving {amount} into account 2");
    reply(DtmResult::Success)
}

/// Compensation of `TransIn`: takes the amount back out of account 2.
///
/// The server compensates the failed step too (it cannot know whether a refused action left
/// partial effects); a real service makes this a no-op with the sub-transaction barrier.
async fn trans_in_revert(body: String) -> Reply {
    let amount = &payload(&body)["amount"];
    println!("  [busi] TransInRevert: taking {amount} back out of account 2");
    reply(DtmResult::Success)
}

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

/// Submits the transfer saga with `payload` for both steps, waits for its outcome and
/// returns the final global status read back with `query`.
async fn run_saga(
    client: &Client,
    server: &str,
    busi: &str,
    payload: Value,
) -> Result<Option<TransStatus>, BoxError> {
    let gid = new_gid(client, server).await?;
    println!("new gid: {gid}");

    let saga = transfer_saga(gid.clone(), busi, &payload.to_string());
    let body = serde_json::to_string(&saga)?;
    println!("POST {server}/submit\n  {body}");
    let response = client
        .post(format!("{server}/submit"))
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await?;
    let code = response.status();
    println!("submit answered {code}: {}", response.text().await?);

    query(client, server, &gid).await
}

/// Asks the server for a fresh global transaction id (`GET /newGid`).
async fn new_gid(client: &Client, server: &str) -> Result<String, BoxError> {
    let text = client
        .get(format!("{server}/newGid"))
        .send()
        .await?
        .text()
        .await?;
    let reply: Value = serde_json::from_str(&text)?;
    match reply["gid"].as_str() {
        Some(gid) => Ok(gid.to_owned()),
        None => Err(format!("newGid answered {text}").into()),
    }
}

/// Builds the saga that DTM's Go SDK would send for `TransOut` + `TransIn`:
/// `wait_result` makes `submit` return only once the saga has finished.
fn transfer_saga(gid: String, busi: &str, payload: &str) -> TransRequest {
    let step = |action: &str, compensate: &str| {
        BTreeMap::from([
            (BranchOp::Action.to_string(), format!("{busi}/{action}")),
            (
                BranchOp::Compensate.to_string(),
                format!("{busi}/{compensate}"),
            ),
        ])
    };
    TransRequest {
        gid,
        trans_type: TransType::Saga.to_string(),
        steps: vec![
            step("TransOut", "TransOutRevert"),
            step("TransIn", "TransInRevert"),
        ],
        payloads: vec![payload.to_owned(); 2],
        options: TransOptions {
            wait_result: true,
            ..TransOptions::default()
        },
        ..TransRequest::default()
    }
}

/// Reads the transaction back (`GET /query?gid=`), prints its status and its branches, and
/// returns the global status.
async fn query(client: &Client, server: &str, gid: &str) -> Result<Option<TransStatus>, BoxError> {
    let text = client
        .get(format!("{server}/query?gid={gid}"))
        .send()
        .await?
        .text()
        .await?;
    let reply: Value = serde_json::from_str(&text)?;
    let status = reply["transaction"]["status"]
        .as_str()
        .unwrap_or("<missing>");
    println!("final status: {status}");
    for branch in reply["branches"].as_array().into_iter().flatten() {
        let field = |key: &str| branch[key].as_str().unwrap_or("?").to_owned();
        println!(
            "  branch {} {:<10} {:<9} {}",
            field("branch_id"),
            field("op"),
            field("status"),
            field("url")
        );
    }
    Ok(TransStatus::parse(status))
}
