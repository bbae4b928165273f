//! The command-line client (`dtmx list`, `show`, `force-stop`, `retry`, topics) against a
//! real server.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

/// What one run of the client printed, and how it exited.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `dtmx` with `args` against `dtm`'s API.
async fn cli(dtm: &Dtmx, args: &[&str]) -> Run {
    let server = format!("{}/api/dtmsvr", dtm.base);
    let mut all = vec!["--server", server.as_str()];
    all.extend_from_slice(args);
    run(&all, &[]).await
}

/// Runs `dtmx` with exactly `args` and extra environment.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_dtmx"))
        .args(args)
        .env_remove("DTMX_SERVER")
        .env_remove("DTMX_TOKEN")
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run dtmx");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn lists_and_shows_transactions() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let ok = "cli-ok";
    busi.plan("cli-bad", "TransIn", [Reply::failure("no")]);
    for gid in [ok, "cli-bad"] {
        let r = dtm
            .submit(&transfer(&busi, gid, json!({"wait_result": true})))
            .await;
        assert!(r.status == 200 || r.status == 409, "{:?}", r.body);
    }

    let list = cli(&dtm, &["list"]).await;
    assert_eq!(list.code, 0, "{}", list.stderr);
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert!(lines[0].starts_with("GID"), "{}", list.stdout);
    assert!(lines[1].starts_with("cli-bad") && lines[1].contains("failed"));
    assert!(lines[2].starts_with("cli-ok") && lines[2].contains("succeed"));

    let failed = cli(
        &dtm,
        &["--json", "list", "--status", "failed", "--limit", "5"],
    )
    .await;
    let v: Value = serde_json::from_str(&failed.stdout).expect("JSON");
    let gids: Vec<&str> = v["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .filter_map(|t| t["gid"].as_str())
        .collect();
    assert_eq!(gids, ["cli-bad"]);

    let show = cli(&dtm, &["show", "cli-bad"]).await;
    assert_eq!(show.code, 0, "{}", show.stderr);
    for text in [
        "status          failed",
        "BRANCH",
        &busi.url("TransInRevert"),
        "timeline",
        "branch 02 action failed",
        "rolled back (failed)",
    ] {
        assert!(show.stdout.contains(text), "{text:?} in\n{}", show.stdout);
    }
    let json_show = cli(&dtm, &["--json", "show", ok]).await;
    let v: Value = serde_json::from_str(&json_show.stdout).expect("JSON");
    assert_eq!(v["transaction"]["status"], "succeed");
    assert_eq!(v["branches"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn force_stops_and_retries() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    // Stuck: TransIn keeps answering ONGOING.
    busi.plan(
        "cli-stuck",
        "TransIn",
        std::iter::repeat_n(Reply::ongoing(), 50),
    );
    dtm.submit(&transfer(&busi, "cli-stuck", json!({}))).await;
    eventually(Duration::from_secs(10), "TransIn called", || async {
        busi.names("cli-stuck").contains(&"TransIn".to_string())
    })
    .await;
    let stop = cli(&dtm, &["force-stop", "cli-stuck"]).await;
    assert_eq!((stop.code, stop.stdout.as_str()), (0, "force-stop: done\n"));
    assert_eq!(dtm.status("cli-stuck").await, "failed");
    let again = cli(&dtm, &["force-stop", "cli-stuck"]).await;
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("force stop error"),
        "{}",
        again.stderr
    );

    // Waiting a minute for its next try: `retry` runs it now.
    busi.plan("cli-later", "TransIn", [Reply::ongoing()]);
    dtm.submit(&transfer(&busi, "cli-later", json!({"retry_interval": 60})))
        .await;
    eventually(Duration::from_secs(10), "TransIn called", || async {
        busi.names("cli-later").contains(&"TransIn".to_string())
    })
    .await;
    assert_ne!(dtm.status("cli-later").await, "succeed");
    let retry = cli(&dtm, &["retry", "cli-later"]).await;
    assert_eq!(retry.code, 0, "{}", retry.stderr);
    dtm.wait_status("cli-later", "succeed", Duration::from_secs(10))
        .await;
}

#[tokio::test]
async fn manages_topics() {
    let dtm = Dtmx::start().await;
    let url = "http://127.0.0.1:9/api/busi/Sub";
    let sub = cli(&dtm, &["subscribe", "orders", url, "billing"]).await;
    assert_eq!(sub.code, 0, "{}", sub.stderr);
    let topics = cli(&dtm, &["topics"]).await;
    assert!(
        topics.stdout.contains(&format!("orders  {url}  billing")),
        "{}",
        topics.stdout
    );
    let unsub = cli(&dtm, &["unsubscribe", "orders", url]).await;
    assert_eq!(unsub.code, 0, "{}", unsub.stderr);
    cli(&dtm, &["subscribe", "orders", url]).await;
    let del = cli(&dtm, &["delete-topic", "orders"]).await;
    assert_eq!(del.code, 0, "{}", del.stderr);
    let topics = cli(&dtm, &["topics"]).await;
    assert_eq!(topics.stdout, "TOPIC  URL  REMARK\n");
    let missing = cli(&dtm, &["delete-topic", "orders"]).await;
    assert_eq!(missing.code, 1, "{}", missing.stdout);
}

#[tokio::test]
async fn reports_errors() {
    let dtm = Dtmx::start().await;
    let unknown = cli(&dtm, &["show", "no-such-gid"]).await;
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("no transaction \"no-such-gid\""));

    let down = run(
        &["list"],
        &[("DTMX_SERVER", "http://127.0.0.1:9/api/dtmsvr")],
    )
    .await;
    assert_eq!(down.code, 1);
    assert!(down.stderr.contains("cannot reach"), "{}", down.stderr);

    for bad in [&["list", "--bogus", "1"][..], &["show"], &["frobnicate"]] {
        let r = cli(&dtm, bad).await;
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(r.stderr.contains("usage: dtmx"), "{}", r.stderr);
    }
    let help = run(&["-h"], &[]).await;
    assert!(help.stdout.contains("force-stop GID"), "{}", help.stdout);
    assert!(dtm.ping().await, "the server still serves");
}

#[tokio::test]
async fn sends_the_token_of_dtmx_token() {
    const ADMIN: &str = "cli-admin-token-0000000001";
    let dtm = Dtmx::start_with_env(&[("AUTH_ADMIN_TOKENS", ADMIN)]).await;
    let server = format!("{}/api/dtmsvr", dtm.base);
    let refused = run(&["--server", &server, "topics"], &[]).await;
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("authentication required"),
        "{}",
        refused.stderr
    );
    let wrong = run(
        &[
            "--server",
            &server,
            "--token",
            "not-the-token-000000",
            "topics",
        ],
        &[],
    )
    .await;
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stderr.contains("invalid bearer token"),
        "{}",
        wrong.stderr
    );
    let ok = run(
        &[
            "--server",
            &server,
            "subscribe",
            "cli-auth",
            "http://busi.test/a",
        ],
        &[("DTMX_TOKEN", ADMIN)],
    )
    .await;
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let topics = run(&["--server", &server, "--token", ADMIN, "topics"], &[]).await;
    assert_eq!(topics.code, 0, "{}", topics.stderr);
    assert!(topics.stdout.contains("cli-auth"), "{}", topics.stdout);
}
