//! The JSON documents of DTM's Redis store (PROTOCOL.md §1.4 and §6.5): a transaction in
//! `P_g_<gid>`, one branch per element of `P_b_<gid>`, a KV row in `P_kv_<cat>_<key>`.
//!
//! Fields and their order are DTM's (Go's field order, omit-empty, options both as the
//! `options` text and inlined). Times are RFC 3339 in the local zone, as Go's
//! `time.Time` marshals them, with millisecond precision (Go writes nanoseconds and reads
//! any precision). Decoding accepts any field order, since the Lua scripts re-encode the
//! documents they change with `cjson`, which does not keep the order.

use crate::store::{BranchRow, KvRow, StoreError, StoreResult, TransRow};
use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Local, SecondsFormat, TimeZone};
use dtmx::{TransOptions, TransStatus, TransType};
use serde_json::{Map, Value};

/// Unix milliseconds as Go's `time.Time` JSON text.
pub fn time(ms: i64) -> String {
    Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// Unix milliseconds as a score of `P_u`: Unix seconds (DTM's unit) with a millisecond
/// fraction.
pub fn score(ms: i64) -> String {
    (ms as f64 / 1000.0).to_string()
}

fn parse_time(v: &Value, key: &str) -> StoreResult<Option<i64>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.timestamp_millis()))
            .map_err(|e| corrupt(format!("{key} {s:?}: {e}"))),
        Some(other) => Err(corrupt(format!("{key} is not a time: {other}"))),
    }
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

fn int(v: &Value, key: &str) -> i64 {
    match v.get(key) {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or_default(),
        Some(Value::String(s)) => s.parse().unwrap_or_default(),
        _ => 0,
    }
}

fn status(v: &Value) -> StoreResult<TransStatus> {
    let s = text(v, "status");
    TransStatus::parse(&s).ok_or_else(|| corrupt(format!("unknown status {s:?}")))
}

fn corrupt(msg: String) -> StoreError {
    StoreError::Db(format!("corrupt Redis document: {msg}"))
}

fn parse(data: &[u8]) -> StoreResult<Value> {
    serde_json::from_slice(data).map_err(|e| corrupt(e.to_string()))
}

/// Builds a JSON object in field order, leaving out empty values as Go's omitempty does.
struct Doc(Map<String, Value>);

impl Doc {
    fn new() -> Self {
        Doc(Map::new())
    }

    fn put(&mut self, key: &str, value: Value) {
        self.0.insert(key.into(), value);
    }

    fn text(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.put(key, Value::String(value.into()));
        }
    }

    fn time(&mut self, key: &str, ms: Option<i64>) {
        if let Some(ms) = ms {
            self.put(key, Value::String(time(ms)));
        }
    }

    /// The object (built without `id`) without its opening brace, for scripts that
    /// prepend `{"id":<id>` with the id they allocate.
    fn tail(self) -> String {
        let full = Value::Object(self.0).to_string();
        match full.strip_prefix('{') {
            Some("}") => "}".into(),
            Some(rest) => format!(",{rest}"),
            None => full,
        }
    }
}

/// A new transaction's document after its `{"id":<id>` (see `Doc::tail`).
pub fn trans_tail(t: &TransRow) -> StoreResult<String> {
    let options = serde_json::to_string(&t.options)
        .map_err(|e| StoreError::Db(format!("cannot encode options: {e}")))?;
    let mut d = Doc::new();
    d.put("create_time", Value::String(time(t.create_time)));
    d.put("update_time", Value::String(time(t.update_time)));
    d.text("gid", &t.gid);
    d.text("trans_type", t.trans_type.as_str());
    d.text("status", t.status.as_str());
    d.text("query_prepared", &t.query_prepared);
    d.text("protocol", &t.protocol);
    d.time("finish_time", t.finish_time);
    d.time("rollback_time", t.rollback_time);
    d.text("result", &t.result);
    d.text("rollback_reason", &t.rollback_reason);
    d.text("options", &options);
    d.text("custom_data", &t.custom_data);
    d.put("next_cron_interval", Value::from(t.next_cron_interval));
    d.put("next_cron_time", Value::String(time(t.next_cron_time)));
    d.put("owner", Value::String(t.owner.clone()));
    d.put("ext_data", Value::String(t.ext_data.clone()));
    if let Ok(Value::Object(inline)) = serde_json::to_value(&t.options) {
        d.0.extend(inline);
    }
    Ok(d.tail())
}

/// Decodes a transaction document.
pub fn trans(data: &[u8]) -> StoreResult<TransRow> {
    let v = parse(data)?;
    let trans_type = text(&v, "trans_type");
    let options_text = text(&v, "options");
    let options = if options_text.is_empty() {
        serde_json::from_value::<TransOptions>(v.clone()).unwrap_or_default()
    } else {
        serde_json::from_str(&options_text)
            .map_err(|e| corrupt(format!("options {options_text:?}: {e}")))?
    };
    Ok(TransRow {
        id: int(&v, "id"),
        gid: text(&v, "gid"),
        trans_type: TransType::parse(&trans_type)
            .ok_or_else(|| corrupt(format!("unknown trans type {trans_type:?}")))?,
        status: status(&v)?,
        query_prepared: text(&v, "query_prepared"),
        protocol: text(&v, "protocol"),
        create_time: parse_time(&v, "create_time")?.unwrap_or_default(),
        update_time: parse_time(&v, "update_time")?.unwrap_or_default(),
        finish_time: parse_time(&v, "finish_time")?,
        rollback_time: parse_time(&v, "rollback_time")?,
        options,
        custom_data: text(&v, "custom_data"),
        next_cron_interval: int(&v, "next_cron_interval"),
        next_cron_time: parse_time(&v, "next_cron_time")?.unwrap_or_default(),
        owner: text(&v, "owner"),
        ext_data: text(&v, "ext_data"),
        result: text(&v, "result"),
        rollback_reason: text(&v, "rollback_reason"),
    })
}

/// A branch's document; its `id` is 0, as DTM writes it (rows read back get their
/// position plus one).
pub fn branch_doc(b: &BranchRow) -> String {
    let mut d = Doc::new();
    d.put("id", Value::from(0));
    d.put("create_time", Value::String(time(b.create_time)));
    d.put("update_time", Value::String(time(b.update_time)));
    d.text("gid", &b.gid);
    d.text("url", &b.url);
    if !b.bin_data.is_empty() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&b.bin_data);
        d.put("bin_data", Value::String(encoded));
    }
    d.text("branch_id", &b.branch_id);
    d.text("op", &b.op);
    d.text("status", b.status.as_str());
    d.time("finish_time", b.finish_time);
    d.time("rollback_time", b.rollback_time);
    Value::Object(d.0).to_string()
}

/// Decodes the branch document at `index` of transaction `gid`'s list.
pub fn branch(gid: &str, index: usize, data: &[u8]) -> StoreResult<BranchRow> {
    let v = parse(data)?;
    let bin_data = match v.get("bin_data") {
        Some(Value::String(s)) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| corrupt(format!("bin_data: {e}")))?,
        _ => Vec::new(),
    };
    Ok(BranchRow {
        id: index as i64 + 1,
        gid: gid.to_string(),
        url: text(&v, "url"),
        bin_data: Bytes::from(bin_data),
        branch_id: text(&v, "branch_id"),
        op: text(&v, "op"),
        status: status(&v)?,
        create_time: parse_time(&v, "create_time")?.unwrap_or_default(),
        update_time: parse_time(&v, "update_time")?.unwrap_or_default(),
        finish_time: parse_time(&v, "finish_time")?,
        rollback_time: parse_time(&v, "rollback_time")?,
    })
}

/// A new KV row's document (version 1) after its `{"id":<id>`.
pub fn kv_tail(cat: &str, key: &str, value: &str, now: i64) -> String {
    let mut d = Doc::new();
    d.put("create_time", Value::String(time(now)));
    d.put("update_time", Value::String(time(now)));
    d.text("cat", cat);
    d.text("k", key);
    d.text("v", value);
    d.put("version", Value::from(1));
    d.tail()
}

/// Decodes a KV document; `id` is the row's id in the category index.
pub fn kv(id: i64, data: &[u8]) -> StoreResult<KvRow> {
    let v = parse(data)?;
    Ok(KvRow {
        id,
        cat: text(&v, "cat"),
        k: text(&v, "k"),
        v: text(&v, "v"),
        version: int(&v, "version"),
        create_time: parse_time(&v, "create_time")?.unwrap_or_default(),
        update_time: parse_time(&v, "update_time")?.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_scores() {
        let t = time(1_700_000_000_123);
        assert!(t.contains(".123"), "{t}");
        let back = DateTime::parse_from_rfc3339(&t).expect("rfc 3339");
        assert_eq!(back.timestamp_millis(), 1_700_000_000_123);
        assert!(!time(5_000).contains('.'));
        assert_eq!(score(1_700_000_000_123), "1700000000.123");
        assert_eq!(score(-1), "-0.001");
        assert_eq!(score(5_000), "5");
    }

    #[test]
    fn tails_prepend_an_id() {
        let doc = format!("{{\"id\":7{}", kv_tail("topics", "t", "[]", 1_000));
        let row = kv(7, doc.as_bytes()).expect("decodes");
        assert_eq!(
            (row.k.as_str(), row.v.as_str(), row.version),
            ("t", "[]", 1)
        );
        assert_eq!(row.create_time, 1_000);
        assert!(doc.starts_with("{\"id\":7,\"create_time\""), "{doc}");
    }
}
