//! Verifies sagas after a run, from gid files written by `bench-load --sent-file/--ack-file`.
//! Prints one JSON line to stdout (human text to stderr) and exits 1 when anything is
//! wrong; a failed verification has no numbers.
//!
//! Modes:
//! - plain: `bench-verify --dtm URL --busi URL --gids FILE [--fail-step K]`: every gid
//!   reaches the expected final status and got exactly the expected branch calls.
//! - backlog drain: `... --gids FILE --drain`: pulls every pending retry forward with
//!   `resetCronTime` (DTM's API; `--forward S` also uses dtmx's test clock hook), times
//!   until the branch service has seen every saga's last call, then verifies.
//! - durability: `... --durability --sent FILE --acked FILE`: after a kill -9 and a
//!   restart, every acknowledged saga is `succeed` (retried branch calls allowed), every
//!   stored one finishes; prints `durability: N acknowledged, L lost`.
//!
//! Common: --trans saga|msg (saga) --branches N (2) --wait S (120) --label NAME
//!         --placement TEXT --json FILE --at-least-once

use dtmx_bench::args::Args;
use dtmx_bench::client::{call_retrying, Endpoint};
use dtmx_bench::gidlog;
use dtmx_bench::verify::{self, CountCheck, Expect, Spec};
use dtmx_bench::wire::{prefix_of, TransKind};
use hyper::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FLAGS: &[&str] = &["drain", "durability", "at-least-once"];
const VALUED: &[&str] = &[
    "dtm",
    "busi",
    "gids",
    "sent",
    "acked",
    "trans",
    "branches",
    "fail-step",
    "wait",
    "forward",
    "label",
    "placement",
    "json",
];

struct Ctx {
    a: Args,
    dtm: Arc<Endpoint>,
    busi: Arc<Endpoint>,
    spec: Spec,
    wait: Duration,
    label: String,
    placement: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let (line, ok) = match run().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench-verify: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{line}");
    if let Some(path) = line["json_file"].as_str() {
        let mut clean = line.clone();
        if let Some(o) = clean.as_object_mut() {
            o.remove("json_file");
        }
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| writeln!(f, "{clean}"));
        if let Err(e) = written {
            eprintln!("bench-verify: cannot append to {path}: {e}");
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn run() -> Result<(Value, bool), String> {
    let a = Args::parse(FLAGS, VALUED)?;
    let dtm = Arc::new(Endpoint::parse(&a.str("dtm", None).ok_or("--dtm URL is required")?).await?);
    let busi =
        Arc::new(Endpoint::parse(&a.str("busi", None).ok_or("--busi URL is required")?).await?);
    let kind = TransKind::parse(&a.str("trans", None).unwrap_or_else(|| "saga".into()))?;
    let fail_step = a.get("fail-step", None, 0usize)?;
    let durability = a.flag("durability", None);
    let spec = Spec {
        kind,
        branches: a.get("branches", None, 2usize)?,
        expect: if fail_step > 0 {
            Expect::Failed { step: fail_step }
        } else {
            Expect::Succeed
        },
        counts: if a.flag("at-least-once", None) || durability || a.flag("drain", None) {
            CountCheck::AtLeastOnce
        } else {
            CountCheck::Exact
        },
    };
    let ctx = Ctx {
        wait: Duration::from_secs_f64(a.get("wait", None, 120.0)?),
        label: a.str("label", None).unwrap_or_else(|| "verify".into()),
        placement: a
            .str("placement", None)
            .unwrap_or_else(|| "unpinned".into()),
        dtm,
        busi,
        spec,
        a,
    };
    let (mut line, ok) = if durability {
        durability_check(&ctx).await?
    } else {
        plain(&ctx).await?
    };
    line["label"] = ctx.label.clone().into();
    line["placement"] = ctx.placement.clone().into();
    if let Some(f) = ctx.a.str("json", None) {
        line["json_file"] = f.into();
    }
    Ok((line, ok))
}

fn read_gids(ctx: &Ctx, name: &str) -> Result<Vec<String>, String> {
    let path = ctx
        .a
        .str(name, None)
        .ok_or_else(|| format!("--{name} FILE is required"))?;
    gidlog::read(&path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// Pulls every pending retry forward (DTM's `resetCronTime`, repeated while it says
/// more remain), then the optional test clock hook.
async fn pull_retries_forward(ctx: &Ctx) -> Result<u64, String> {
    let mut reset = 0;
    for _ in 0..1000 {
        let r = call_retrying(
            &ctx.dtm,
            Method::GET,
            &ctx.dtm.path("/resetCronTime?timeout=0&limit=100000"),
            None,
            Duration::from_secs(30),
        )
        .await?;
        if r.status != 200 {
            return Err(format!("resetCronTime: HTTP {} {}", r.status, r.text()));
        }
        let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        reset += v["succeed_count"].as_u64().unwrap_or(0);
        if v["has_remaining"] != true {
            break;
        }
    }
    if let Some(secs) = ctx.a.opt::<u64>("forward", None)? {
        let r = call_retrying(
            &ctx.dtm,
            Method::POST,
            &ctx.dtm.path(&format!("/test/forward?seconds={secs}")),
            None,
            Duration::from_secs(10),
        )
        .await?;
        if r.status != 200 {
            return Err(format!(
                "test/forward: HTTP {} (start dtmx with DTMX_TEST_HOOKS=1)",
                r.status
            ));
        }
    }
    Ok(reset)
}

async fn plain(ctx: &Ctx) -> Result<(Value, bool), String> {
    let gids = read_gids(ctx, "gids")?;
    let mut line = json!({"kind": if ctx.a.flag("drain", None) { "drain" } else { "verify" },
        "sagas": gids.len()});
    if ctx.a.flag("drain", None) {
        let start = Instant::now();
        let reset = pull_retries_forward(ctx).await?;
        let prefix = gids.first().map(|g| prefix_of(g)).unwrap_or_default();
        let waited = verify::wait_last_calls(
            &ctx.busi,
            prefix,
            &ctx.spec.last_call(),
            gids.len() as u64,
            ctx.wait,
        )
        .await?;
        let Some(_) = waited else {
            eprintln!(
                "bench-verify {}: backlog not drained within {:?}",
                ctx.label, ctx.wait
            );
            line["verified"] = false.into();
            line["error"] = "backlog not drained in time".into();
            return Ok((line, false));
        };
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "  backlog of {} drained in {secs:.2}s ({:.0} sagas/s; resetCronTime moved {reset})",
            gids.len(),
            gids.len() as f64 / secs
        );
        line["drain_s"] = json!((secs * 100.0).round() / 100.0);
        line["sagas_per_s"] = json!((gids.len() as f64 / secs).round());
    }
    let report = verify::verify(&ctx.dtm, &ctx.busi, &gids, &ctx.spec, ctx.wait).await?;
    eprintln!("  {}", report.text());
    line["extra_calls"] = report.extra_calls.into();
    line["verified"] = report.ok().into();
    if !report.ok() {
        let line = json!({"kind": line["kind"], "verified": false, "error": report.text()});
        return Ok((line, false));
    }
    Ok((line, true))
}

async fn durability_check(ctx: &Ctx) -> Result<(Value, bool), String> {
    let sent = read_gids(ctx, "sent")?;
    let acked = read_gids(ctx, "acked")?;
    let acked_set: HashSet<&str> = acked.iter().map(String::as_str).collect();
    let start = Instant::now();
    // Right after the restart: how many acknowledged sagas are already final.
    let first = verify::statuses(&ctx.dtm, &acked, 32, Duration::ZERO).await;
    let final_at_restart = first.values().filter(|s| verify::is_final(s)).count();
    // Then everything sent, waiting for the cron to finish what is pending.
    let found = verify::statuses(&ctx.dtm, &sent, 32, ctx.wait).await;
    let recovery_s = start.elapsed().as_secs_f64();
    let calls = verify::fetch_counts(&ctx.busi, &sent).await?;
    let (mut lost, mut unfinished, mut not_stored, mut bad_calls) = (0, 0, 0, 0);
    let mut examples = Vec::new();
    let empty = Vec::new();
    for gid in &sent {
        let status = found.get(gid).map(String::as_str).unwrap_or_default();
        let was_acked = acked_set.contains(gid.as_str());
        let problem = match status {
            "succeed" => ctx
                .spec
                .check_calls(calls.get(gid).unwrap_or(&empty))
                .err()
                .inspect(|_| bad_calls += 1),
            "" if !was_acked => {
                not_stored += 1;
                None
            }
            other => {
                if was_acked {
                    lost += 1;
                } else {
                    unfinished += 1;
                }
                Some(format!(
                    "status {:?} ({})",
                    other,
                    if was_acked {
                        "acknowledged"
                    } else {
                        "not acknowledged"
                    }
                ))
            }
        };
        if let Some(p) = problem {
            if examples.len() < 5 {
                examples.push(format!("{gid}: {p}"));
            }
        }
    }
    let ok = lost == 0 && unfinished == 0 && bad_calls == 0 && !acked.is_empty();
    eprintln!(
        "durability: {} acknowledged, {lost} lost ({} sent, {final_at_restart} acknowledged already final at restart, {not_stored} unacknowledged never stored, {unfinished} stored but unfinished, {bad_calls} with wrong branch calls; checked in {recovery_s:.1}s)",
        acked.len(),
        sent.len()
    );
    for e in &examples {
        eprintln!("  {e}");
    }
    let line = json!({
        "kind": "durability", "acked": acked.len(), "sent": sent.len(), "lost": lost,
        "final_at_restart": final_at_restart, "not_stored": not_stored,
        "unfinished": unfinished, "wrong_calls": bad_calls,
        "recovery_s": (recovery_s * 10.0).round() / 10.0, "verified": ok,
    });
    Ok((line, ok))
}
