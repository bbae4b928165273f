//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): parsing and formatting of
//! the `traceparent` header, `tracestate` carried verbatim, and the copy of a
//! transaction's context kept in its `ext_data` column.
//!
//! Parsing is strict: lowercase hex only, no all-zero trace or parent id, version `ff`
//! refused. A version above `00` is read as the spec asks (its first four fields in the
//! version-00 layout, anything after them behind a `-` ignored) and forwarded as version
//! `00`, the only one this code writes. A header that fails these rules is ignored, as if
//! it were absent, and so is the `tracestate` that came with it.

use rand::Rng;
use serde_json::{Map, Value};

/// Longest `tracestate` carried along; a longer one is dropped (the spec lets a vendor
/// truncate or drop, and asks to keep at least 512 characters).
pub const MAX_TRACESTATE: usize = 512;

/// Length of a version-00 `traceparent`.
const TRACEPARENT_LEN: usize = 55;

/// One position in a trace: the trace id, the id of the span that is the parent of what
/// comes next, the trace flags and the vendor `tracestate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub flags: u8,
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// Reads a context from the values of the `traceparent` and `tracestate` headers (or
    /// gRPC metadata). None when there is not exactly one valid `traceparent`. Several
    /// `tracestate` values are joined with `,` (the spec's rule for repeated headers).
    pub fn extract<'a>(
        traceparent: impl IntoIterator<Item = &'a str>,
        tracestate: impl IntoIterator<Item = &'a str>,
    ) -> Option<TraceContext> {
        let mut parents = traceparent.into_iter();
        let first = parents.next()?;
        if parents.next().is_some() {
            return None;
        }
        let mut ctx = TraceContext::parse(first)?;
        let state = tracestate.into_iter().collect::<Vec<_>>().join(",");
        ctx.tracestate = valid_tracestate(&state).then_some(state);
        Some(ctx)
    }

    /// Parses a `traceparent` value (without `tracestate`).
    pub fn parse(value: &str) -> Option<TraceContext> {
        let b = value.as_bytes();
        if b.len() < TRACEPARENT_LEN {
            return None;
        }
        let version = hex::<1>(&b[0..2])?[0];
        match version {
            0xff => return None,
            0 if b.len() != TRACEPARENT_LEN => return None,
            _ if b.len() > TRACEPARENT_LEN && b[TRACEPARENT_LEN] != b'-' => return None,
            _ => {}
        }
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let trace_id = hex::<16>(&b[3..35]).filter(|id| id.iter().any(|&x| x != 0))?;
        let span_id = hex::<8>(&b[36..52]).filter(|id| id.iter().any(|&x| x != 0))?;
        let flags = hex::<1>(&b[53..55])?[0];
        Some(TraceContext {
            trace_id,
            span_id,
            flags,
            tracestate: None,
        })
    }

    /// A new trace (random trace and span ids), sampled.
    pub fn new_root() -> TraceContext {
        let mut rng = rand::thread_rng();
        TraceContext {
            trace_id: nonzero(|| rng.gen()),
            span_id: nonzero(|| rng.gen()),
            flags: 1,
            tracestate: None,
        }
    }

    /// The same trace continued below a new, random span id.
    pub fn child(&self) -> TraceContext {
        let mut rng = rand::thread_rng();
        TraceContext {
            span_id: nonzero(|| rng.gen()),
            ..self.clone()
        }
    }

    /// True when the sampled flag is set.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The `traceparent` value (version 00).
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            hex_string(&self.trace_id),
            hex_string(&self.span_id),
            self.flags
        )
    }

    /// The context stored in a transaction's `ext_data` (`{"trace":{...}}`), if any.
    pub fn from_ext_data(ext_data: &str) -> Option<TraceContext> {
        if !ext_data.contains("\"trace\"") {
            return None;
        }
        let v: Value = serde_json::from_str(ext_data).ok()?;
        let t = v.get("trace")?;
        let parent = t.get("traceparent")?.as_str()?;
        TraceContext::extract([parent], t.get("tracestate").and_then(Value::as_str))
    }

    /// `ext_data` with this context added under `trace`. Other keys (DTM's legacy
    /// `headers`) are kept; an `ext_data` that already holds a `trace`, or that is not a
    /// JSON object, is returned unchanged.
    pub fn into_ext_data(&self, ext_data: &str) -> String {
        let mut map = if ext_data.trim().is_empty() {
            Map::new()
        } else {
            match serde_json::from_str::<Value>(ext_data) {
                Ok(Value::Object(map)) if !map.contains_key("trace") => map,
                _ => return ext_data.to_string(),
            }
        };
        let mut trace = Map::new();
        trace.insert("traceparent".into(), self.traceparent().into());
        if let Some(state) = &self.tracestate {
            trace.insert("tracestate".into(), state.clone().into());
        }
        map.insert("trace".into(), Value::Object(trace));
        Value::Object(map).to_string()
    }
}

/// Lowercase hex of `bytes`.
pub fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `N` bytes from `2N` lowercase hex digits.
fn hex<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    if digits.len() != 2 * N {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// A non-empty `tracestate` within [`MAX_TRACESTATE`] bytes of printable ASCII (what an
/// HTTP header value and gRPC ASCII metadata both accept).
fn valid_tracestate(state: &str) -> bool {
    !state.trim().is_empty()
        && state.len() <= MAX_TRACESTATE
        && state
            .bytes()
            .all(|c| c == b' ' || c == b'\t' || c.is_ascii_graphic())
}

/// A random id that is not all zeros (the spec's invalid value).
fn nonzero<const N: usize>(mut gen: impl FnMut() -> [u8; N]) -> [u8; N] {
    loop {
        let id = gen();
        if id.iter().any(|&b| b != 0) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_and_formats_version_00() {
        let ctx = TraceContext::parse(GOOD).expect("valid");
        assert_eq!(
            hex_string(&ctx.trace_id),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(hex_string(&ctx.span_id), "00f067aa0ba902b7");
        assert!(ctx.sampled());
        assert_eq!(ctx.traceparent(), GOOD);
        let unsampled = TraceContext::parse(&GOOD.replace("-01", "-00")).expect("valid");
        assert!(!unsampled.sampled());
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "garbage",
            &GOOD.to_uppercase(),
            &GOOD.replace("4bf92f3577b34da6a3ce929d0e0e4736", &"0".repeat(32)),
            &GOOD.replace("00f067aa0ba902b7", &"0".repeat(16)),
            &GOOD.replacen("00-", "ff-", 1),
            &format!("{GOOD}-extra"),
            &format!("{GOOD} "),
            &GOOD.replace('-', "_"),
            &GOOD.replacen("4b", "4g", 1),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn future_versions() {
        let v1 = GOOD.replacen("00-", "01-", 1);
        assert!(TraceContext::parse(&v1).is_some());
        let longer = format!("{v1}-whatever");
        let ctx = TraceContext::parse(&longer).expect("future fields ignored");
        assert_eq!(ctx.traceparent(), GOOD);
        assert_eq!(TraceContext::parse(&format!("{v1}x")), None);
    }

    #[test]
    fn extract_headers() {
        let ctx = TraceContext::extract([GOOD], ["a=1", "b=2"]).expect("valid");
        assert_eq!(ctx.tracestate.as_deref(), Some("a=1,b=2"));
        assert_eq!(TraceContext::extract([GOOD, GOOD], []), None);
        assert_eq!(TraceContext::extract(["bad"], ["a=1"]), None);
        let long = "k=".to_string() + &"v".repeat(MAX_TRACESTATE);
        let ctx = TraceContext::extract([GOOD], [long.as_str()]).expect("valid");
        assert_eq!(ctx.tracestate, None);
        let ctx = TraceContext::extract([GOOD], ["a=\u{e9}"]).expect("valid");
        assert_eq!(ctx.tracestate, None);
    }

    #[test]
    fn ext_data_round_trip() {
        let mut ctx = TraceContext::parse(GOOD).expect("valid");
        let ext = ctx.into_ext_data("");
        assert_eq!(ext, format!(r#"{{"trace":{{"traceparent":"{GOOD}"}}}}"#));
        assert_eq!(TraceContext::from_ext_data(&ext), Some(ctx.clone()));
        ctx.tracestate = Some("a=1".into());
        let merged = ctx.into_ext_data(r#"{"headers":{"x":"y"}}"#);
        let v: Value = serde_json::from_str(&merged).expect("json");
        assert_eq!(v["headers"]["x"], "y");
        assert_eq!(v["trace"]["tracestate"], "a=1");
        assert_eq!(TraceContext::from_ext_data(&merged), Some(ctx.clone()));
        assert_eq!(ctx.into_ext_data(&merged), merged, "first one wins");
        assert_eq!(ctx.into_ext_data("not json"), "not json");
        assert_eq!(TraceContext::from_ext_data(r#"{"headers":{}}"#), None);
    }

    #[test]
    fn new_ids() {
        let root = TraceContext::new_root();
        assert!(root.sampled());
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.span_id, root.span_id);
        assert!(TraceContext::parse(&child.traceparent()).is_some());
    }
}
