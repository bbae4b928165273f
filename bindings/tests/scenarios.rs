//! Replays every scenario of tests/vectors/scenarios through the Rust API (the core's
//! builders made by the bindings' `Client`), against the scripted server and judge
//! `judge.py` (see the README there).

use dtmx_bindings::options::Naming;
use dtmx_bindings::{runtime, Client, Error, ErrorKind, Options, Result};
use serde_json::{json, Value};

#[path = "../../core/tests/judge/mod.rs"]
mod judge;

use judge::{error_json, HostError};

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// The payload bytes of a step (`$unserializable`: bytes that are not UTF-8).
fn payload(v: &Value) -> Vec<u8> {
    if v.get("$unserializable").is_some() {
        return vec![0xff, 0xfe];
    }
    v.to_string().into_bytes()
}

/// The outcome of a body step list: the value returned, or the error raised.
fn body_result(steps: &[Value], mut call: impl FnMut(&Value) -> Result<()>) -> Result<Value> {
    for step in steps {
        match s(step, "op") {
            "return" => return Ok(step["value"].clone()),
            "raise" => {
                let message = s(step, "message");
                return Err(match s(step, "kind") {
                    "host" => Error::new(ErrorKind::Database, message).with_source(HostError),
                    kind => Error::new(kind_named(kind), message),
                });
            }
            _ => call(step)?,
        }
    }
    Ok(Value::Null)
}

fn kind_named(name: &str) -> ErrorKind {
    ErrorKind::ALL
        .into_iter()
        .find(|k| k.as_str() == name)
        .unwrap_or(ErrorKind::Internal)
}

/// Runs one scenario (its URLs substituted) and returns its outcome.
async fn run(scenario: &Value, urls: &Value) -> Result<Value> {
    let server = if scenario["client"]["server"] == "closed" {
        s(urls, "closed")
    } else {
        s(urls, "dtm")
    };
    let client = Client::new(server)?;
    let t = &scenario["transaction"];
    let options = Options::from_json(&t["options"], Naming::Snake)?;
    let gid = Some(s(t, "gid"));
    let steps = scenario["steps"].as_array().cloned().unwrap_or_default();
    let mut out = Value::Null;
    match s(t, "type") {
        "saga" => {
            let mut saga = client.saga(gid, &options)?;
            for step in &steps {
                match s(step, "op") {
                    "add" => {
                        saga.add(
                            s(step, "action"),
                            s(step, "compensate"),
                            payload(&step["payload"]),
                        );
                    }
                    _ => saga.submit().await?,
                }
            }
        }
        "msg" => {
            let mut msg = client.msg(gid, &options)?;
            for step in &steps {
                match s(step, "op") {
                    "add" => {
                        msg.add(s(step, "action"), payload(&step["payload"]));
                    }
                    "submit" => msg.submit().await?,
                    _ => {
                        let body = step["body"].as_array().cloned().unwrap_or_default();
                        out = msg
                            .do_and_submit(s(step, "query_prepared"), |_| async move {
                                body_result(&body, |_| Ok(()))
                            })
                            .await?;
                    }
                }
            }
        }
        "tcc" => {
            let tcc = client.tcc(gid, &options)?;
            let body = steps[0]["body"].as_array().cloned().unwrap_or_default();
            out = tcc
                .run(|tcc| async move {
                    for step in &body {
                        if s(step, "op") == "call_branch" {
                            tcc.call_branch(
                                &payload(&step["payload"]),
                                s(step, "try"),
                                s(step, "confirm"),
                                s(step, "cancel"),
                            )
                            .await?;
                        }
                    }
                    body_result(&body, |_| Ok(()))
                })
                .await?;
        }
        _ => {
            let xa = client.xa(gid, &options)?;
            let body = steps[0]["body"].as_array().cloned().unwrap_or_default();
            out = xa
                .run(|xa| async move {
                    for step in &body {
                        if s(step, "op") == "call_branch" {
                            xa.call_branch(&payload(&step["payload"]), s(step, "url"))
                                .await?;
                        }
                    }
                    body_result(&body, |_| Ok(()))
                })
                .await?;
        }
    }
    Ok(out)
}

fn substitute(v: &Value, urls: &Value) -> Value {
    let mut text = v.to_string();
    for key in ["dtm", "branch", "closed"] {
        text = text.replace(&format!("{{{key}}}"), s(urls, key));
    }
    serde_json::from_str(&text).expect("substituted JSON")
}

/// Every scenario but the barrier's (core/tests/barrier_scenarios.rs replays those on sqlx).
#[test]
fn every_scenario() {
    runtime::block_on(async {
        let judge = judge::Judge::start();
        let mut failures = Vec::new();
        let mut count = 0;
        for scenario in judge::scenarios() {
            if scenario.get("database").is_some() {
                continue;
            }
            count += 1;
            let name = s(&scenario, "name").to_string();
            let urls = judge.load(&name).await;
            let scenario = substitute(&scenario, &urls);
            let outcome = match run(&scenario, &urls).await {
                Ok(v) => json!({"host": "rust", "result": v, "error": null}),
                Err(e) => json!({"host": "rust", "result": null, "error": error_json(&e)}),
            };
            if let Some(problems) = judge.verdict(&outcome).await {
                failures.push(format!("{name}: {problems}"));
            }
        }
        assert!(count >= 30, "only {count} scenarios found");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        Ok(())
    })
    .expect("runtime");
}
