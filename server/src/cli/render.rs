//! Plain-text tables of the server's JSON for the terminal.

use serde_json::Value;
use std::fmt::Write;

/// The text of field `key` of `v` ("" when absent; numbers and booleans as written).
fn field(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// `rows` under `header`, columns padded to their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (cell, w) in cells.zip(&widths) {
            let _ = write!(text, "{cell:<w$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, &mut header.iter().copied());
    for row in rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

/// `all`: one line per transaction, then the position of the next page.
pub fn list(v: &Value) -> String {
    let rows: Vec<Vec<String>> = v
        .get("transactions")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    ["gid", "trans_type", "status", "create_time", "finish_time"]
                        .iter()
                        .map(|k| field(t, k))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = table(&["GID", "TYPE", "STATUS", "CREATED", "FINISHED"], &rows);
    let next = field(v, "next_position");
    if !next.is_empty() {
        let _ = writeln!(out, "next page: --position {next}");
    }
    out
}

/// `query`: the transaction's fields, its branches, and a timeline of what happened (by
/// the stored times: a branch at its finish or last update).
pub fn show(v: &Value) -> String {
    let t = v.get("transaction").unwrap_or(&Value::Null);
    let mut out = String::new();
    for key in [
        "gid",
        "trans_type",
        "status",
        "create_time",
        "update_time",
        "finish_time",
        "rollback_time",
        "rollback_reason",
        "next_cron_time",
        "query_prepared",
    ] {
        let value = field(t, key);
        if !value.is_empty() {
            let _ = writeln!(out, "{key:<16}{value}");
        }
    }
    let branches: Vec<&Value> = v
        .get("branches")
        .and_then(Value::as_array)
        .map(|b| b.iter().collect())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = branches
        .iter()
        .map(|b| {
            ["branch_id", "op", "status", "url", "finish_time"]
                .iter()
                .map(|k| field(b, k))
                .collect()
        })
        .collect();
    out.push('\n');
    out.push_str(&table(
        &["BRANCH", "OP", "STATUS", "URL", "FINISHED"],
        &rows,
    ));
    let mut events: Vec<(String, String)> = vec![(field(t, "create_time"), "created".into())];
    for b in &branches {
        let at = match field(b, "finish_time") {
            t if t.is_empty() && field(b, "status") != "prepared" => field(b, "update_time"),
            t => t,
        };
        if !at.is_empty() {
            let what = format!(
                "branch {} {} {}",
                field(b, "branch_id"),
                field(b, "op"),
                field(b, "status")
            );
            events.push((at, what));
        }
    }
    for (key, what) in [
        ("rollback_time", "rolled back"),
        ("finish_time", "finished"),
    ] {
        let at = field(t, key);
        if !at.is_empty() {
            events.push((at, format!("{what} ({})", field(t, "status"))));
        }
    }
    // Stable: events of the same second keep the order above.
    events.sort_by(|a, b| a.0.cmp(&b.0));
    out.push_str("\ntimeline\n");
    for (at, what) in events {
        let _ = writeln!(out, "  {at}  {what}");
    }
    out
}

/// `queryKV` of the topics: one line per subscriber.
pub fn topics(v: &Value) -> String {
    let mut rows = Vec::new();
    for kv in v.get("kv").and_then(Value::as_array).into_iter().flatten() {
        let topic = field(kv, "k");
        let subscribers: Vec<Value> = serde_json::from_str(&field(kv, "v")).unwrap_or_default();
        if subscribers.is_empty() {
            rows.push(vec![topic.clone(), String::new(), String::new()]);
        }
        for s in subscribers {
            rows.push(vec![topic.clone(), field(&s, "url"), field(&s, "remark")]);
        }
    }
    table(&["TOPIC", "URL", "REMARK"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_tables() {
        let all = json!({"transactions": [
            {"gid": "g1", "trans_type": "saga", "status": "succeed", "create_time": "t1"},
            {"gid": "longer-gid", "trans_type": "msg", "status": "failed"}
        ], "next_position": "7"});
        let text = list(&all);
        assert!(text.starts_with("GID         TYPE  STATUS"), "{text}");
        assert!(text.contains("longer-gid  msg   failed"), "{text}");
        assert!(text.ends_with("next page: --position 7\n"), "{text}");
        let q = json!({"transaction": {"gid": "g1", "status": "failed",
            "create_time": "2026-01-01T00:00:00Z", "rollback_time": "2026-01-01T00:00:02Z"},
            "branches": [{"branch_id": "01", "op": "action", "status": "failed",
            "url": "http://b/x", "finish_time": "2026-01-01T00:00:01Z"}]});
        let text = show(&q);
        let created = text.find("created").expect("created");
        let branch = text.find("branch 01 action failed").expect("branch");
        let rolled = text.find("rolled back (failed)").expect("rollback");
        assert!(created < branch && branch < rolled, "{text}");
        let kv = json!({"kv": [{"k": "orders", "v": "[{\"url\":\"http://s\",\"remark\":\"r\"}]"}]});
        assert!(topics(&kv).contains("orders  http://s  r"));
    }
}
