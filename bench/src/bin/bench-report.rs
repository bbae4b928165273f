//! Renders the JSON lines of a benchmark session (from `bench-load`, `bench-verify` and
//! `scripts/bench`) as Markdown tables: repetitions of a workload are grouped, numbers
//! are medians, `spread` is (max − min) / median of the throughput. A workload with any
//! failed verification shows FAILED and no numbers.
//!
//! Usage: `bench-report RESULTS.jsonl` (Markdown on stdout).
//!
//! Record kinds: `load` (bench-load), `drain` and `durability` (bench-verify),
//! `disk` (`{"label","placement","rep","disk_bytes","stored_before","fsyncs"}`: store
//! size after the run and fsync/fdatasync calls during it, merged into the load record of
//! the same label/placement/rep; bytes are divided by every saga in the store, fsyncs by
//! the run's acknowledged sagas), `restart`
//! (`{"stored","serve_ms","rss_kib"}`).

use dtmx_bench::stats::median;
use serde_json::Value;
use std::fmt::Write;
use std::process::ExitCode;

/// Records of one workload (same kind, label and placement), in first-seen order.
struct Group {
    kind: String,
    label: String,
    placement: String,
    records: Vec<Value>,
}

fn group(records: Vec<Value>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let disks: Vec<&Value> = records.iter().filter(|r| r["kind"] == "disk").collect();
    for r in records.iter().filter(|r| r["kind"] != "disk") {
        let mut r = r.clone();
        let same = |d: &&&Value| {
            d["label"] == r["label"] && d["placement"] == r["placement"] && d["rep"] == r["rep"]
        };
        if let Some(d) = disks.iter().find(same) {
            if let Some(acked) = r["acked"].as_f64().filter(|a| *a > 0.0) {
                if let Some(bytes) = d["disk_bytes"].as_f64() {
                    let stored = acked + d["stored_before"].as_f64().unwrap_or(0.0);
                    r["disk_per_saga"] = (bytes / stored).into();
                }
                if let Some(fsyncs) = d["fsyncs"].as_f64() {
                    r["fsyncs_per_saga"] = (fsyncs / acked).into();
                }
            }
        }
        if let (Some(b), Some(l)) = (
            r["busi_cpu_us_per_saga"].as_f64(),
            r["load_cpu_us_per_saga"].as_f64(),
        ) {
            r["harness_cpu"] = (b + l).into();
        }
        let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let (kind, label, placement) = (text("kind"), text("label"), text("placement"));
        match groups
            .iter_mut()
            .find(|g| g.kind == kind && g.label == label && g.placement == placement)
        {
            Some(g) => g.records.push(r),
            None => groups.push(Group {
                kind,
                label,
                placement,
                records: vec![r],
            }),
        }
    }
    groups
}

impl Group {
    fn failed(&self) -> Option<String> {
        self.records
            .iter()
            .find(|r| r["verified"] == false)
            .map(|r| {
                r["error"]
                    .as_str()
                    .unwrap_or("verification failed")
                    .to_string()
            })
    }

    fn median(&self, key: &str) -> Option<f64> {
        let xs: Vec<f64> = self
            .records
            .iter()
            .filter_map(|r| r[key].as_f64())
            .collect();
        median(&xs)
    }

    fn spread(&self, key: &str) -> String {
        let xs: Vec<f64> = self
            .records
            .iter()
            .filter_map(|r| r[key].as_f64())
            .collect();
        match (median(&xs), xs.len()) {
            (Some(m), n) if n >= 2 && m > 0.0 => {
                let (lo, hi) = xs
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
                format!("±{:.0}%", (hi - lo) / m * 50.0)
            }
            _ => "–".into(),
        }
    }

    /// The median of `key` divided by `div`, with `digits` decimals, or `–`.
    fn cell(&self, key: &str, div: f64, digits: usize) -> String {
        self.median(key)
            .map_or("–".into(), |v| format!("{:.*}", digits, v / div))
    }
}

fn load_table(groups: &[&Group], out: &mut String, notes: &mut Vec<String>) {
    out.push_str(
        "| workload | placement | runs | sagas/s | spread | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | server CPU µs/saga | load+busi CPU µs/saga | RSS MiB | HWM MiB | disk B/saga | fsyncs/saga |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for g in groups {
        let runs = g.records.len();
        if let Some(e) = g.failed() {
            notes.push(format!("{}: {e}", g.label));
            let _ = writeln!(
                out,
                "| {} | {} | {runs} | **FAILED** [{}] | | | | | | | | | | | | |",
                g.label,
                g.placement,
                notes.len()
            );
            continue;
        }
        let _ = writeln!(
            out,
            "| {} | {} | {runs} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            g.label,
            g.placement,
            g.cell("sagas_per_s", 1.0, 0),
            g.spread("sagas_per_s"),
            g.cell("p50_us", 1.0, 0),
            g.cell("p90_us", 1.0, 0),
            g.cell("p99_us", 1.0, 0),
            g.cell("p999_us", 1.0, 0),
            g.cell("max_us", 1.0, 0),
            g.cell("cpu_us_per_saga", 1.0, 0),
            g.cell("harness_cpu", 1.0, 0),
            g.cell("rss_kib", 1024.0, 1),
            g.cell("hwm_kib", 1024.0, 1),
            g.cell("disk_per_saga", 1.0, 0),
            g.cell("fsyncs_per_saga", 1.0, 2),
        );
    }
}

fn drain_table(groups: &[&Group], out: &mut String, notes: &mut Vec<String>) {
    out.push_str(
        "| backlog | runs | sagas | drain s | sagas/s | spread | repeated branch calls |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for g in groups {
        let runs = g.records.len();
        if let Some(e) = g.failed() {
            notes.push(format!("{}: {e}", g.label));
            let _ = writeln!(
                out,
                "| {} | {runs} | **FAILED** [{}] | | | | |",
                g.label,
                notes.len()
            );
            continue;
        }
        let _ = writeln!(
            out,
            "| {} | {runs} | {} | {} | {} | {} | {} |",
            g.label,
            g.cell("sagas", 1.0, 0),
            g.cell("drain_s", 1.0, 2),
            g.cell("sagas_per_s", 1.0, 0),
            g.spread("sagas_per_s"),
            g.cell("extra_calls", 1.0, 0),
        );
    }
}

fn durability_table(groups: &[&Group], out: &mut String) {
    out.push_str(
        "| run | kills | acknowledged | lost | final at restart | sent | unacknowledged, never stored | stored, unfinished | wrong branch calls | all final after s |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for g in groups {
        let sum = |k: &str| -> u64 { g.records.iter().filter_map(|r| r[k].as_u64()).sum() };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            g.label,
            g.records.len(),
            sum("acked"),
            if g.failed().is_some() {
                format!("**{}** (FAILED)", sum("lost"))
            } else {
                sum("lost").to_string()
            },
            sum("final_at_restart"),
            sum("sent"),
            sum("not_stored"),
            sum("unfinished"),
            sum("wrong_calls"),
            g.cell("recovery_s", 1.0, 1),
        );
    }
}

fn restart_table(groups: &[&Group], out: &mut String) {
    out.push_str(
        "| restart after kill -9 | stored sagas | time to serve ms | RSS MiB after |\n|---|---:|---:|---:|\n",
    );
    for g in groups {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            g.label,
            g.cell("stored", 1.0, 0),
            g.cell("serve_ms", 1.0, 0),
            g.cell("rss_kib", 1024.0, 1),
        );
    }
}

fn render(records: Vec<Value>) -> String {
    let groups = group(records);
    let of = |kind: &str| -> Vec<&Group> { groups.iter().filter(|g| g.kind == kind).collect() };
    let mut out = String::new();
    let mut notes = Vec::new();
    let sections: [(&str, Vec<&Group>); 4] = [
        ("load", of("load")),
        ("drain", of("drain")),
        ("durability", of("durability")),
        ("restart", of("restart")),
    ];
    for (kind, gs) in sections {
        if gs.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        match kind {
            "load" => load_table(&gs, &mut out, &mut notes),
            "drain" => drain_table(&gs, &mut out, &mut notes),
            "durability" => durability_table(&gs, &mut out),
            _ => restart_table(&gs, &mut out),
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        for (i, n) in notes.iter().enumerate() {
            let flat = n.replace('\n', " ");
            let short: String = flat.chars().take(400).collect();
            let more = if short.len() < flat.len() { " …" } else { "" };
            let _ = writeln!(out, "[{}] {short}{more}", i + 1);
        }
    }
    out
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: bench-report RESULTS.jsonl");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bench-report: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let records: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l.trim()).ok())
        .collect();
    print!("{}", render(records));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn medians_spread_disk_and_failures() {
        let recs = vec![
            json!({"kind":"load","label":"core 64","placement":"unpinned","rep":1,"verified":true,"sagas_per_s":100.0,"acked":10,"p50_us":5}),
            json!({"kind":"load","label":"core 64","placement":"unpinned","rep":2,"verified":true,"sagas_per_s":120.0,"acked":10,"p50_us":7}),
            json!({"kind":"load","label":"core 64","placement":"unpinned","rep":3,"verified":true,"sagas_per_s":110.0,"acked":10,"p50_us":6}),
            json!({"kind":"disk","label":"core 64","placement":"unpinned","rep":1,"disk_bytes":5000}),
            json!({"kind":"load","label":"bad","placement":"unpinned","rep":1,"verified":false,"error":"status failed"}),
            json!({"kind":"durability","label":"kill -9","placement":"unpinned","acked":5,"lost":0,"sent":6,"verified":true}),
        ];
        let md = render(recs);
        assert!(
            md.contains("| core 64 | unpinned | 3 | 110 | ±9% | 6 |"),
            "{md}"
        );
        assert!(md.contains("| 500 |"), "{md}");
        assert!(md.contains("**FAILED** [1]"), "{md}");
        assert!(md.contains("[1] bad: status failed"), "{md}");
        assert!(md.contains("| kill -9 | 1 | 5 | 0 |"), "{md}");
    }
}
