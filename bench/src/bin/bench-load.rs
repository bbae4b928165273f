//! Load generator for any DTM-compatible server: DTM wire-format submits over keep-alive
//! HTTP/1.1, closed loop (N in flight) or open loop (fixed arrival rate), warm-up then a
//! timed window, HDR latency percentiles, then verification of every submitted saga.
//! Human text goes to stderr, one JSON line to stdout. A run that fails verification
//! prints no numbers and exits 1.
//!
//! Usage: `bench-load --dtm URL --busi URL [options]`
//!   (or `bench-load DTM_URL BUSI_URL [IN_FLIGHT] [SECONDS]`)
//! e.g. `bench-load --dtm http://127.0.0.1:36789/api/dtmsvr --busi http://127.0.0.1:8082/api/busi`
//!
//! Load:     --in-flight N (64) | --rate R [--max-in-flight M (10000)]
//!           --warmup S (2) --seconds S (10) | --count N (exactly N, no warm-up)
//!           --trans saga|msg (saga) --branches N (2) --async (wait_result false)
//!           --fail-step K (sets the branch service so step K's action fails; expect `failed`)
//!           --busi-latency-us N (sets the branch service to answer after N µs)
//!           --timeout S (30, per request)
//! Checks:   --no-verify, --tolerate-errors (errors do not fail the run; implies no
//!           verify), --verify-timeout S (120), --at-least-once (retried calls allowed)
//! Server:   --pid PID [--clk-tck N (100)]: server CPU per saga and RSS from /proc
//!           --busi-pid PID: the branch service's CPU per saga too (the load generator's
//!           own is always reported)
//! Output:   --label NAME --placement TEXT --rep N --json FILE (append the JSON line)
//!           --sent-file F, --ack-file F (every sent / acknowledged gid, one a line)

use dtmx_bench::args::Args;
use dtmx_bench::client::{call_retrying, Endpoint};
use dtmx_bench::gidlog::GidLog;
use dtmx_bench::load::{self, LoadResult, LoadSpec, Loop};
use dtmx_bench::procfs;
use dtmx_bench::stats::Summary;
use dtmx_bench::verify::{self, CountCheck, Expect, Spec};
use dtmx_bench::wire::{GidGen, TransKind, Workload};
use hyper::Method;
use serde_json::{json, Value};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const FLAGS: &[&str] = &["async", "no-verify", "tolerate-errors", "at-least-once"];
const VALUED: &[&str] = &[
    "dtm",
    "busi",
    "in-flight",
    "rate",
    "max-in-flight",
    "warmup",
    "seconds",
    "count",
    "trans",
    "branches",
    "fail-step",
    "busi-latency-us",
    "timeout",
    "verify-timeout",
    "pid",
    "busi-pid",
    "clk-tck",
    "label",
    "placement",
    "rep",
    "json",
    "sent-file",
    "ack-file",
];

struct Options {
    dtm: String,
    busi: String,
    mode: Loop,
    warmup: f64,
    seconds: f64,
    count: Option<u64>,
    kind: TransKind,
    branches: usize,
    wait_result: bool,
    fail_step: usize,
    busi_latency_us: u64,
    timeout: f64,
    verify: bool,
    tolerate_errors: bool,
    verify_timeout: f64,
    at_least_once: bool,
    pid: Option<u32>,
    busi_pid: Option<u32>,
    clk_tck: u64,
    label: String,
    placement: String,
    rep: u64,
    json_file: Option<String>,
    sent_file: Option<String>,
    ack_file: Option<String>,
}

fn options() -> Result<Options, String> {
    let a = Args::parse(FLAGS, VALUED)?;
    let pos = |i: usize| a.positional.get(i).cloned();
    let dtm = a
        .str("dtm", None)
        .or_else(|| pos(0))
        .ok_or("--dtm URL is required")?;
    let busi = a
        .str("busi", None)
        .or_else(|| pos(1))
        .ok_or("--busi URL is required")?;
    let in_flight = match pos(2) {
        Some(p) => p.parse().map_err(|_| format!("bad in-flight {p:?}"))?,
        None => a.get("in-flight", None, 64usize)?,
    };
    let seconds = match pos(3) {
        Some(p) => p.parse().map_err(|_| format!("bad seconds {p:?}"))?,
        None => a.get("seconds", None, 10.0)?,
    };
    let mode = match a.opt::<f64>("rate", None)? {
        Some(rate) if rate > 0.0 => Loop::Open {
            rate,
            max_in_flight: a.get("max-in-flight", None, 10_000usize)?,
        },
        Some(_) => return Err("--rate must be positive".into()),
        None => Loop::Closed { in_flight },
    };
    let kind = TransKind::parse(&a.str("trans", None).unwrap_or_else(|| "saga".into()))?;
    let branches = a.get("branches", None, 2usize)?;
    if !(1..=99).contains(&branches) {
        return Err("--branches must be 1..99".into());
    }
    let fail_step = a.get("fail-step", None, 0usize)?;
    if fail_step > branches || (fail_step > 0 && kind == TransKind::Msg) {
        return Err("--fail-step needs a saga step (1..branches)".into());
    }
    let tolerate_errors = a.flag("tolerate-errors", None);
    let label = a.str("label", None).unwrap_or_else(|| match mode {
        Loop::Closed { in_flight } => format!("{}-c{in_flight}", kind.as_str()),
        Loop::Open { rate, .. } => format!("{}-r{rate:.0}", kind.as_str()),
    });
    Ok(Options {
        dtm,
        busi,
        mode,
        warmup: a.get("warmup", None, 2.0)?,
        seconds,
        count: a.opt("count", None)?,
        kind,
        branches,
        wait_result: !a.flag("async", None),
        fail_step,
        busi_latency_us: a.get("busi-latency-us", None, 0)?,
        timeout: a.get("timeout", None, 30.0)?,
        verify: !a.flag("no-verify", None) && !tolerate_errors,
        tolerate_errors,
        verify_timeout: a.get("verify-timeout", None, 120.0)?,
        at_least_once: a.flag("at-least-once", None),
        pid: a.opt("pid", None)?,
        busi_pid: a.opt("busi-pid", None)?,
        clk_tck: a.get("clk-tck", None, 100)?,
        label,
        placement: a
            .str("placement", None)
            .unwrap_or_else(|| "unpinned".into()),
        rep: a.get("rep", None, 1)?,
        json_file: a.str("json", None),
        sent_file: a.str("sent-file", None),
        ack_file: a.str("ack-file", None),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench-load: {e}\n(see the top of bench/src/bin/bench-load.rs for usage)");
            return ExitCode::from(2);
        }
    };
    match run(&o).await {
        Ok((line, ok)) => {
            emit(&o, &line);
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("bench-load {}: {e}", o.label);
            emit(
                &o,
                &json!({"kind": "load", "label": o.label, "placement": o.placement,
                "rep": o.rep, "verified": false, "error": e}),
            );
            ExitCode::FAILURE
        }
    }
}

fn emit(o: &Options, line: &Value) {
    println!("{line}");
    if let Some(path) = &o.json_file {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            eprintln!("bench-load: cannot append to {path}: {e}");
        }
    }
}

/// Sets the branch service's mode: fail step (the rollback workload) and latency.
async fn set_busi_mode(busi: &Arc<Endpoint>, step: usize, latency_us: u64) -> Result<(), String> {
    let r = call_retrying(
        busi,
        Method::POST,
        &format!("/mode?fail_step={step}&latency_us={latency_us}"),
        None,
        Duration::from_secs(10),
    )
    .await?;
    if r.status != 200 {
        return Err(format!("branch service mode: HTTP {}", r.status));
    }
    Ok(())
}

fn open_log(path: &Option<String>) -> Result<Option<Arc<GidLog>>, String> {
    path.as_deref()
        .map(|p| {
            GidLog::create(p)
                .map(Arc::new)
                .map_err(|e| format!("cannot create {p}: {e}"))
        })
        .transpose()
}

fn close_log(log: Option<Arc<GidLog>>) -> Result<(), String> {
    log.map_or(Ok(()), |l| l.finish().map_err(|e| format!("gid file: {e}")))
}

async fn run(o: &Options) -> Result<(Value, bool), String> {
    let dtm = Arc::new(Endpoint::parse(&o.dtm).await?);
    let busi = Arc::new(Endpoint::parse(&o.busi).await?);
    let workload = Arc::new(Workload::new(o.kind, o.branches, o.wait_result, &busi.url));
    let gids = Arc::new(GidGen::new(&o.label));
    let (sent_log, ack_log) = (open_log(&o.sent_file)?, open_log(&o.ack_file)?);
    let set_mode = o.fail_step > 0 || o.busi_latency_us > 0;
    if set_mode {
        set_busi_mode(&busi, o.fail_step, o.busi_latency_us).await?;
    }
    let spec = LoadSpec {
        dtm: dtm.clone(),
        workload,
        mode: o.mode,
        warmup: Duration::from_secs_f64(o.warmup),
        window: Duration::from_secs_f64(o.seconds),
        count: o.count,
        timeout: Duration::from_secs_f64(o.timeout),
        failure_is_ack: o.fail_step > 0 && o.wait_result,
        gids: gids.clone(),
        sent_log: sent_log.clone(),
        ack_log: ack_log.clone(),
        meter_pids: vec![o.pid, o.busi_pid, Some(std::process::id())],
        clk_tck: o.clk_tck,
        error_backoff: Duration::from_millis(20),
    };
    eprintln!(
        "bench-load {}: {} {} with {} branches, {}, {} against {}",
        o.label,
        if o.wait_result {
            "wait_result"
        } else {
            "async"
        },
        o.kind.as_str(),
        o.branches,
        match o.mode {
            Loop::Closed { in_flight } => format!("closed loop, {in_flight} in flight"),
            Loop::Open { rate, .. } => format!("open loop, {rate:.0}/s"),
        },
        match o.count {
            Some(n) => format!("{n} transactions"),
            None => format!("{}s warm-up + {}s window", o.warmup, o.seconds),
        },
        dtm.url
    );
    let r = load::run(spec).await;
    let mem = o.pid.and_then(procfs::mem_kib);
    close_log(sent_log)?;
    close_log(ack_log)?;
    let lat = Summary::of(&r.hist);
    let submit_rate = r.window_done as f64 / r.window_secs.max(1e-9);
    eprintln!(
        "  {} completed in the {:.1}s window: {:.0}/s; {}; {} sent, {} acknowledged, {} errors",
        r.window_done,
        r.window_secs,
        submit_rate,
        lat.text(),
        r.sent.len(),
        r.acked.len(),
        r.errors
    );
    if let Some(e) = &r.first_error {
        eprintln!("  first error: {e}");
    }

    let expect = if o.fail_step > 0 {
        Expect::Failed { step: o.fail_step }
    } else {
        Expect::Succeed
    };
    let vspec = Spec {
        kind: o.kind,
        branches: o.branches,
        expect,
        counts: if o.at_least_once {
            CountCheck::AtLeastOnce
        } else {
            CountCheck::Exact
        },
    };
    let mut line = json!({
        "kind": "load", "label": o.label, "placement": o.placement, "rep": o.rep,
        "trans": o.kind.as_str(), "branches": o.branches, "async": !o.wait_result,
        "expect": expect.status(), "busi_latency_us": o.busi_latency_us,
    });
    match o.mode {
        Loop::Closed { in_flight } => {
            line["loop"] = "closed".into();
            line["in_flight"] = in_flight.into();
        }
        Loop::Open { rate, .. } => {
            line["loop"] = "open".into();
            line["rate"] = rate.into();
        }
    }

    // Async: the sagas finish after their submits; wait for the last branch call.
    let mut completion = None;
    if !o.wait_result && o.verify {
        let deadline = Duration::from_secs_f64(o.verify_timeout);
        let n = r.acked.len() as u64;
        let waited =
            verify::wait_last_calls(&busi, &gids.prefix, &vspec.last_call(), n, deadline).await?;
        let total = r.started.elapsed().as_secs_f64();
        let cpu = r.cpu_run.seconds();
        if waited.is_some() {
            eprintln!(
                "  all {n} finished {:.1}s after the run started: {:.0} completions/s",
                total,
                n as f64 / total
            );
            let per_saga = cpu.iter().map(|c| c.map(|c| c * 1e6 / n.max(1) as f64));
            completion = Some((n as f64 / total, per_saga.collect()));
        }
    }

    let mut ok = true;
    let mut problems = Vec::new();
    if r.errors > 0 && !o.tolerate_errors {
        problems.push(format!(
            "{} submits failed (first: {})",
            r.errors,
            r.first_error.clone().unwrap_or_default()
        ));
    }
    if o.verify {
        let report = verify::verify(
            &dtm,
            &busi,
            &r.sent,
            &vspec,
            Duration::from_secs_f64(o.verify_timeout),
        )
        .await?;
        eprintln!("  {}", report.text());
        line["verify_s"] = json!((report.seconds * 10.0).round() / 10.0);
        if !report.ok() {
            problems.push(report.text());
        }
        line["verified"] = json!(problems.is_empty());
    } else {
        line["verified"] = "skipped".into();
    }
    if set_mode {
        set_busi_mode(&busi, 0, 0).await?;
    }
    if !problems.is_empty() {
        ok = false;
        line["verified"] = false.into();
        line["error"] = problems.join("; ").into();
        eprintln!("bench-load {}: FAILED: {}", o.label, problems.join("; "));
        return Ok((line, ok));
    }
    fill_numbers(&mut line, o, &r, &lat, submit_rate, completion, mem);
    Ok((line, ok))
}

fn fill_numbers(
    line: &mut Value,
    o: &Options,
    r: &LoadResult,
    lat: &Summary,
    submit_rate: f64,
    completion: Option<(f64, Vec<Option<f64>>)>,
    mem: Option<(u64, u64)>,
) {
    let round1 = |x: f64| (x * 10.0).round() / 10.0;
    line["window_s"] = json!(round1(r.window_secs));
    line["sagas"] = json!(r.window_done);
    line["sent"] = json!(r.sent.len());
    line["acked"] = json!(r.acked.len());
    line["errors"] = json!(r.errors);
    lat.put(line);
    // Per saga: CPU µs of the server, the branch service and this load generator.
    let per_saga: Vec<Option<f64>> = if o.wait_result {
        line["sagas_per_s"] = json!(round1(submit_rate));
        let n = r.window_done.max(1) as f64;
        r.cpu_window_s
            .iter()
            .map(|c| c.map(|c| c * 1e6 / n))
            .collect()
    } else {
        // Async: the headline is completions/s; submits/s is beside it.
        line["submit_per_s"] = json!(round1(submit_rate));
        match completion {
            Some((rate, per_saga)) => {
                line["sagas_per_s"] = json!(round1(rate));
                per_saga
            }
            None => Vec::new(),
        }
    };
    for (key, value) in [
        "cpu_us_per_saga",
        "busi_cpu_us_per_saga",
        "load_cpu_us_per_saga",
    ]
    .iter()
    .zip(per_saga)
    {
        if let Some(v) = value {
            line[*key] = json!(round1(v));
        }
    }
    if let Some((rss, hwm)) = mem {
        line["rss_kib"] = json!(rss);
        line["hwm_kib"] = json!(hwm);
    }
}
