//! JSON shapes of stored objects as DTM returns them (PROTOCOL.md §1.4): Go's field
//! order, omit-empty fields, RFC 3339 times in the server's zone, base64 payloads.

use crate::store::{BranchRow, KvRow, TransRow};
use base64::Engine as _;
use chrono::{FixedOffset, Local, SecondsFormat, TimeZone};
use serde_json::{Map, Value};

/// Formats times in the configured zone (`TimeZoneOffset`) or the local one.
#[derive(Debug, Clone, Copy)]
pub struct TimeFormat(Option<FixedOffset>);

impl TimeFormat {
    /// From the `TimeZoneOffset` setting (hours; empty for the local zone).
    pub fn new(offset_hours: &str) -> Self {
        TimeFormat(
            offset_hours
                .parse::<i32>()
                .ok()
                .and_then(|h| FixedOffset::east_opt(h * 3600)),
        )
    }

    /// RFC 3339 with second precision.
    pub fn format(&self, ms: i64) -> Value {
        let text = match self.0 {
            Some(tz) => tz
                .timestamp_millis_opt(ms)
                .single()
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            None => Local
                .timestamp_millis_opt(ms)
                .single()
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        };
        text.map(Value::String).unwrap_or(Value::Null)
    }

    fn opt(&self, map: &mut Map<String, Value>, key: &str, ms: Option<i64>) {
        if let Some(ms) = ms {
            map.insert(key.into(), self.format(ms));
        }
    }
}

fn put_str(map: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        map.insert(key.into(), Value::String(value.to_string()));
    }
}

fn put_int(map: &mut Map<String, Value>, key: &str, value: i64) {
    if value != 0 {
        map.insert(key.into(), Value::from(value));
    }
}

/// A transaction as `query`, `all` and `prepareWorkflow` return it.
pub fn trans_json(t: &TransRow, tf: TimeFormat) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(t.id));
    m.insert("create_time".into(), tf.format(t.create_time));
    m.insert("update_time".into(), tf.format(t.update_time));
    put_str(&mut m, "gid", &t.gid);
    put_str(&mut m, "trans_type", t.trans_type.as_str());
    put_str(&mut m, "status", t.status.as_str());
    put_str(&mut m, "query_prepared", &t.query_prepared);
    put_str(&mut m, "protocol", &t.protocol);
    tf.opt(&mut m, "finish_time", t.finish_time);
    tf.opt(&mut m, "rollback_time", t.rollback_time);
    put_str(&mut m, "result", &t.result);
    put_str(&mut m, "rollback_reason", &t.rollback_reason);
    let options = serde_json::to_string(&t.options).unwrap_or_default();
    put_str(&mut m, "options", &options);
    put_str(&mut m, "custom_data", &t.custom_data);
    put_int(&mut m, "next_cron_interval", t.next_cron_interval);
    m.insert("next_cron_time".into(), tf.format(t.next_cron_time));
    put_str(&mut m, "owner", &t.owner);
    put_str(&mut m, "ext_data", &t.ext_data);
    if let Ok(Value::Object(inline)) = serde_json::to_value(&t.options) {
        m.extend(inline);
    }
    Value::Object(m)
}

/// A branch as `query` returns it.
pub fn branch_json(b: &BranchRow, tf: TimeFormat) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(b.id));
    m.insert("create_time".into(), tf.format(b.create_time));
    m.insert("update_time".into(), tf.format(b.update_time));
    put_str(&mut m, "gid", &b.gid);
    put_str(&mut m, "url", &b.url);
    if !b.bin_data.is_empty() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&b.bin_data);
        m.insert("bin_data".into(), Value::String(encoded));
    }
    put_str(&mut m, "branch_id", &b.branch_id);
    put_str(&mut m, "op", &b.op);
    put_str(&mut m, "status", b.status.as_str());
    tf.opt(&mut m, "finish_time", b.finish_time);
    tf.opt(&mut m, "rollback_time", b.rollback_time);
    Value::Object(m)
}

/// A KV row as `queryKV` and `scanKV` return it.
pub fn kv_json(kv: &KvRow, tf: TimeFormat) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(kv.id));
    m.insert("create_time".into(), tf.format(kv.create_time));
    m.insert("update_time".into(), tf.format(kv.update_time));
    put_str(&mut m, "cat", &kv.cat);
    put_str(&mut m, "k", &kv.k);
    put_str(&mut m, "v", &kv.v);
    m.insert("version".into(), Value::from(kv.version));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_zone() {
        let tf = TimeFormat::new("8");
        assert_eq!(
            tf.format(0),
            Value::String("1970-01-01T08:00:00+08:00".into())
        );
        let utc = TimeFormat::new("0");
        assert_eq!(
            utc.format(1_000),
            Value::String("1970-01-01T00:00:01Z".into())
        );
    }
}
