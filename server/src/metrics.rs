//! Prometheus metrics with DTM's names (PROTOCOL.md §9), rendered in the text exposition
//! format on `GET /api/metrics`. Labels never carry query strings or gids.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the duration histograms.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if v <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += v;
    }
}

/// Label set rendered as `a="x",b="y"`.
type Labels = String;

#[derive(Default)]
struct Families {
    counters: BTreeMap<&'static str, BTreeMap<Labels, u64>>,
    histograms: BTreeMap<&'static str, BTreeMap<Labels, Histogram>>,
}

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    families: Mutex<Families>,
}

/// Writes `pairs` as `a="x",b="y"` to `out`, escaping the values.
fn write_labels(out: &mut String, pairs: &[(&str, &str)]) {
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    let mut out = String::new();
    write_labels(&mut out, pairs);
    out
}

thread_local! {
    /// Scratch space for the label text of one update: a series that exists already is
    /// found without allocating.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Calls `f` with the label text of `pairs` (ASCII-lowercased when `lower`).
/// `f` only updates the families, so the buffer is never borrowed twice.
fn with_labels<R>(pairs: &[(&str, &str)], lower: bool, f: impl FnOnce(&str) -> R) -> R {
    SCRATCH.with_borrow_mut(|text| {
        text.clear();
        write_labels(text, pairs);
        if lower {
            text.make_ascii_lowercase();
        }
        f(text)
    })
}

/// Applies `f` to the series `key` of `family`, created on first use; only a new series
/// allocates.
fn update<V: Default>(family: &mut BTreeMap<Labels, V>, key: &str, f: impl FnOnce(&mut V)) {
    match family.get_mut(key) {
        Some(v) => f(v),
        None => f(family.entry(key.to_owned()).or_default()),
    }
}

const HELP: &[(&str, &str, &str)] = &[
    (
        "dtm_server_info",
        "gauge",
        "The information of this dtm server.",
    ),
    (
        "dtm_server_process_total",
        "counter",
        "All requests received by dtm.",
    ),
    (
        "dtm_server_response_duration",
        "histogram",
        "The request durations of a dtm server.",
    ),
    (
        "dtm_transaction_process_total",
        "counter",
        "All transactions processed by dtm.",
    ),
    (
        "dtm_transaction_handled_duration",
        "histogram",
        "Seconds from creation to the end of each processing pass.",
    ),
    (
        "dtm_branch_process_total",
        "counter",
        "All branches processed by dtm.",
    ),
    (
        "dtmx_trace_spans_dropped_total",
        "counter",
        "Spans dropped because the OTLP export queue was full.",
    ),
];

fn ok_fail(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "fail"
    }
}

impl Metrics {
    fn count(&self, name: &'static str, pairs: &[(&str, &str)], lower: bool) {
        with_labels(pairs, lower, |key| {
            if let Ok(mut f) = self.families.lock() {
                update(f.counters.entry(name).or_default(), key, |n| *n += 1);
            }
        });
    }

    fn observe(&self, name: &'static str, pairs: &[(&str, &str)], lower: bool, v: f64) {
        with_labels(pairs, lower, |key| {
            if let Ok(mut f) = self.families.lock() {
                update(
                    f.histograms.entry(name).or_default(),
                    key,
                    |h: &mut Histogram| h.observe(v),
                );
            }
        });
    }

    /// One API request (`kind` is `http` or `grpc`, `api` the last path segment, counted
    /// in lower case).
    pub fn request(&self, kind: &str, api: &str, ok: bool, took: Duration) {
        self.count(
            "dtm_server_process_total",
            &[("type", kind), ("api", api), ("status", ok_fail(ok))],
            true,
        );
        self.observe(
            "dtm_server_response_duration",
            &[("type", kind), ("api", api)],
            true,
            took.as_secs_f64(),
        );
    }

    /// One processing pass of a transaction of type `model`.
    pub fn pass(&self, model: &str, ok: bool, age_secs: f64) {
        self.count(
            "dtm_transaction_process_total",
            &[("model", model), ("status", ok_fail(ok))],
            false,
        );
        self.observe(
            "dtm_transaction_handled_duration",
            &[("model", model)],
            false,
            age_secs,
        );
    }

    /// One branch call.
    pub fn branch(&self, model: &str, branch_id: &str, op: &str, ok: bool) {
        self.count(
            "dtm_branch_process_total",
            &[
                ("model", model),
                ("branchid", branch_id),
                ("branchtype", op),
                ("status", ok_fail(ok)),
            ],
            false,
        );
    }

    /// One span dropped by a full export queue.
    pub fn span_dropped(&self) {
        self.count("dtmx_trace_spans_dropped_total", &[], false);
    }

    /// The text exposition of every metric, plus process memory and CPU.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(f) = self.families.lock() else {
            return out;
        };
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            if *name == "dtm_server_info" {
                let l = labels(&[
                    ("gin_version", concat!("dtmx-", env!("CARGO_PKG_VERSION"))),
                    ("grpc_version", ""),
                ]);
                let _ = writeln!(out, "{name}{{{l}}} 1");
            }
            for (l, v) in f.counters.get(name).into_iter().flatten() {
                if l.is_empty() {
                    let _ = writeln!(out, "{name} {v}");
                    continue;
                }
                let _ = writeln!(out, "{name}{{{l}}} {v}");
            }
            for (l, h) in f.histograms.get(name).into_iter().flatten() {
                let sep = if l.is_empty() { "" } else { "," };
                for (bound, c) in BUCKETS.iter().zip(h.counts) {
                    let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"{bound}\"}} {c}");
                }
                let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "{name}_sum{{{l}}} {}", h.sum);
                let _ = writeln!(out, "{name}_count{{{l}}} {}", h.count);
            }
        }
        render_process(&mut out);
        out
    }
}

/// `process_resident_memory_bytes` and `process_cpu_seconds_total` from /proc.
fn render_process(out: &mut String) {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            let _ = writeln!(
                out,
                "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                 # TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}",
                kb * 1024
            );
        }
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name: utime and stime are the 12th and 13th.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
            .sum();
        let _ = writeln!(
            out,
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
             # TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {}",
            ticks as f64 / 100.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families() {
        let m = Metrics::default();
        m.request("http", "Submit", true, Duration::from_millis(2));
        m.branch("saga", "01", "action", false);
        m.pass("saga", true, 0.2);
        m.span_dropped();
        let text = m.render();
        assert!(text.contains("dtmx_trace_spans_dropped_total 1"));
        assert!(
            text.contains(r#"dtm_server_process_total{type="http",api="submit",status="ok"} 1"#)
        );
        assert!(text.contains(r#"dtm_branch_process_total{model="saga",branchid="01",branchtype="action",status="fail"} 1"#));
        assert!(text.contains(
            r#"dtm_server_response_duration_bucket{type="http",api="submit",le="0.0025"} 1"#
        ));
        assert!(text.contains(r#"dtm_transaction_handled_duration_count{model="saga"} 1"#));
        assert!(text.contains("process_cpu_seconds_total"));
    }
}
