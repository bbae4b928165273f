//! Prometheus metrics on `GET /api/metrics` (PROTOCOL.md §9; COMPATIBILITY.md: the `api`
//! label is the last path segment, no query strings or gids in labels).

mod common;

use common::*;
use serde_json::json;
use std::collections::BTreeMap;

/// The metrics text (asserts 200 and the text content type).
async fn scrape(dtm: &Dtmx) -> String {
    let r = dtm.get("/api/metrics").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        r.content_type.starts_with("text/plain"),
        "content type {:?}",
        r.content_type
    );
    r.body
        .as_str()
        .expect("metrics are text, not JSON")
        .to_string()
}

/// Every sample line `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("sample line without value: {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("non-numeric value in {line:?}"));
        assert!(
            out.insert(key.to_string(), value).is_none(),
            "duplicate sample {key}"
        );
    }
    out
}

fn value(s: &BTreeMap<String, f64>, key: &str) -> f64 {
    *s.get(key).unwrap_or_else(|| {
        panic!(
            "no sample {key}; have:\n{}",
            s.keys().cloned().collect::<Vec<_>>().join("\n")
        )
    })
}

/// Labels of every sample, as `(name, {label: value})`.
fn label_sets(text: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, _) = line.rsplit_once(' ').expect("value");
        let Some((name, rest)) = key.split_once('{') else {
            out.push((key.to_string(), BTreeMap::new()));
            continue;
        };
        let body = rest.strip_suffix('}').expect("closing brace");
        let mut labels = BTreeMap::new();
        for pair in body.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once("=\"").expect("k=\"v\"");
            labels.insert(k.to_string(), v.trim_end_matches('"').to_string());
        }
        out.push((name.to_string(), labels));
    }
    out
}

fn assert_histogram(s: &BTreeMap<String, f64>, name: &str, labels: &str, count: f64) {
    let prefix = format!("{name}_bucket{{{labels},le=\"");
    let buckets: Vec<(&String, &f64)> = s.iter().filter(|(k, _)| k.starts_with(&prefix)).collect();
    assert!(buckets.len() >= 2, "buckets of {name}{{{labels}}}");
    let inf = value(s, &format!("{prefix}+Inf\"}}"));
    assert_eq!(inf, count, "{name}{{{labels}}} +Inf bucket");
    assert_eq!(value(s, &format!("{name}_count{{{labels}}}")), count);
    assert!(value(s, &format!("{name}_sum{{{labels}}}")) >= 0.0);
    // buckets are cumulative: sorted by bound, counts never decrease
    let mut finite: Vec<(f64, f64)> = buckets
        .iter()
        .filter(|(k, _)| !k.ends_with("le=\"+Inf\"}"))
        .map(|(k, v)| {
            let bound = k[prefix.len()..].trim_end_matches("\"}");
            (bound.parse::<f64>().expect("bound"), **v)
        })
        .collect();
    finite.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in finite.windows(2) {
        assert!(w[0].1 <= w[1].1, "cumulative buckets: {finite:?}");
    }
    assert!(finite.last().expect("a bucket").1 <= inf);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_requests_and_sagas() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let ok_gid = "metrics-saga-ok";
    let r = dtm
        .submit(&transfer(&busi, ok_gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(dtm.status(ok_gid).await, "succeed"); // GET /query?gid=... (a query string)
    let r = dtm.get("/api/dtmsvr/newGid").await;
    assert_eq!(r.status, 200);

    let text = scrape(&dtm).await;
    let s = samples(&text);
    for (name, kind) in [
        ("dtm_server_info", "gauge"),
        ("dtm_server_process_total", "counter"),
        ("dtm_server_response_duration", "histogram"),
        ("dtm_transaction_process_total", "counter"),
        ("dtm_branch_process_total", "counter"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "TYPE of {name}"
        );
        assert!(text.contains(&format!("# HELP {name} ")), "HELP of {name}");
    }
    let info: Vec<_> = s
        .iter()
        .filter(|(k, _)| k.starts_with("dtm_server_info{"))
        .collect();
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(*info[0].1, 1.0);
    assert!(info[0].0.contains("gin_version=\""), "{}", info[0].0);

    assert_eq!(
        value(
            &s,
            r#"dtm_server_process_total{type="http",api="submit",status="ok"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_server_process_total{type="http",api="query",status="ok"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_server_process_total{type="http",api="newgid",status="ok"}"#
        ),
        1.0,
        "the api label is lower-cased"
    );
    assert!(
        value(
            &s,
            r#"dtm_server_process_total{type="http",api="ping",status="ok"}"#
        ) >= 1.0
    );
    assert_histogram(
        &s,
        "dtm_server_response_duration",
        r#"type="http",api="submit""#,
        1.0,
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_transaction_process_total{model="saga",status="ok"}"#
        ),
        1.0,
        "one pass"
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_branch_process_total{model="saga",branchid="01",branchtype="action",status="ok"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_branch_process_total{model="saga",branchid="02",branchtype="action",status="ok"}"#
        ),
        1.0
    );
    assert!(
        !s.keys().any(|k| k.contains("branchtype=\"compensate\"")),
        "no compensation happened"
    );
    assert_histogram(
        &s,
        "dtm_transaction_handled_duration",
        r#"model="saga""#,
        1.0,
    );

    // failures: a 409 submit, a 500 query, a retried branch
    let fail_gid = "metrics-saga-fail";
    busi.plan(fail_gid, "TransIn", [Reply::error()]);
    let r = dtm
        .submit(&transfer(&busi, fail_gid, json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let r = dtm.get("/api/dtmsvr/query?gid=").await;
    assert_eq!(r.status, 500);
    let r = dtm
        .get(&format!("/api/dtmsvr/all?gid={fail_gid}&limit=5"))
        .await;
    assert_eq!(r.status, 200);
    let r = dtm.get("/api/dtmsvr/scanKV?cat=topics&limit=x").await;
    assert_eq!(r.status, 400);

    let text = scrape(&dtm).await;
    let s = samples(&text);
    assert_eq!(
        value(
            &s,
            r#"dtm_server_process_total{type="http",api="submit",status="ok"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_server_process_total{type="http",api="submit",status="fail"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_server_process_total{type="http",api="query",status="fail"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_server_process_total{type="http",api="all",status="ok"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_server_process_total{type="http",api="scankv",status="fail"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_server_process_total{type="http",api="metrics",status="ok"}"#
        ),
        1.0,
        "the first scrape is counted"
    );
    assert_histogram(
        &s,
        "dtm_server_response_duration",
        r#"type="http",api="submit""#,
        2.0,
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_branch_process_total{model="saga",branchid="01",branchtype="action",status="ok"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_branch_process_total{model="saga",branchid="02",branchtype="action",status="fail"}"#
        ),
        1.0
    );
    let passes: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with(r#"dtm_transaction_process_total{model="saga","#))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(passes, 2.0, "one pass per saga");

    // bounded labels: no query strings, no gids, only the known label names
    let gids = [ok_gid, fail_gid];
    for (name, labels) in label_sets(&text) {
        for (k, v) in &labels {
            assert!(!v.contains('?'), "{name}: {k}={v:?} carries a query string");
            assert!(!v.contains('='), "{name}: {k}={v:?}");
            for g in gids {
                assert!(!v.contains(g), "{name}: {k}={v:?} carries a gid");
            }
        }
        if name.starts_with("dtm_server_process_total") {
            assert_eq!(
                labels.keys().collect::<Vec<_>>(),
                ["api", "status", "type"],
                "{labels:?}"
            );
            assert!(
                ["ok", "fail"].contains(&labels["status"].as_str()),
                "{labels:?}"
            );
        }
    }
    assert!(!text.contains(ok_gid) && !text.contains(fail_gid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_stay_bounded_for_any_path() {
    // Label values come from the route, never from what the client put in the path: an
    // unknown route ending in a gid, or a topic name, must not become an `api` label
    // (each distinct value would be a new time series kept forever).
    let dtm = Dtmx::start().await;
    let gid = "metrics-gid-in-path";
    let r = dtm.get(&format!("/api/dtmsvr/query/{gid}")).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    for i in 0..3 {
        let r = dtm.get(&format!("/api/dtmsvr/nosuch-{i}?gid={gid}")).await;
        assert_eq!(r.status, 404, "{:?}", r.body);
    }
    let r = dtm.delete("/api/dtmsvr/topic/secret-topic-name").await;
    assert_eq!(r.status, 500, "{:?}", r.body);

    let text = scrape(&dtm).await;
    assert!(!text.contains(gid), "gid leaked into a label:\n{text}");
    assert!(
        !text.contains("nosuch"),
        "unknown route in a label:\n{text}"
    );
    assert!(
        !text.contains("secret-topic-name"),
        "topic in a label:\n{text}"
    );
    let s = samples(&text);
    let apis: std::collections::BTreeSet<String> = label_sets(&text)
        .into_iter()
        .filter(|(name, _)| name == "dtm_server_process_total")
        .map(|(_, l)| l["api"].clone())
        .collect();
    // ping (harness start-up), the 4 unknown routes under one label, the topic delete
    assert_eq!(apis.len(), 3, "{apis:?}");
    let unknown: f64 = s
        .iter()
        .filter(|(k, _)| {
            k.starts_with("dtm_server_process_total{") && k.contains("status=\"fail\"")
        })
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        unknown, 5.0,
        "4 unknown routes + 1 failed delete, all counted"
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_server_process_total{type="http",api="topic",status="fail"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            r#"dtm_server_process_total{type="http",api="unknown",status="fail"}"#
        ),
        4.0
    );
}
