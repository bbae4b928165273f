//! Spans and their export over OTLP/HTTP with the JSON encoding
//! (`POST {Tracing.OtlpEndpoint}/v1/traces`).
//!
//! Finished spans go into a bounded queue ([`QUEUE`]); a full queue drops the span and
//! counts it (`dtmx_trace_spans_dropped_total`), so the request path never waits. One
//! background task sends batches of at most [`BATCH`] spans, at least once a second while
//! spans are queued. Export errors are logged at most once a minute.

use super::context::{hex_string, TraceContext};
use crate::engine::caller::post_json;
use crate::metrics::Metrics;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// Spans waiting for export at most.
pub const QUEUE: usize = 4096;
/// Spans sent in one request at most.
pub const BATCH: usize = 512;
/// Longest wait of a queued span.
const LINGER: Duration = Duration::from_secs(1);
/// Timeout of one export request.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Least time between two logged export errors.
const ERROR_LOG_EVERY: Duration = Duration::from_secs(60);

/// OTLP `SpanKind`.
#[derive(Debug, Clone, Copy)]
pub enum SpanKind {
    Internal = 1,
    Server = 2,
    Client = 3,
}

/// A span being recorded; [`Tracer::end`] exports it.
pub struct Span {
    /// The span's own position: its trace id, its span id as the parent of what it calls.
    pub context: TraceContext,
    parent: Option<[u8; 8]>,
    name: &'static str,
    kind: SpanKind,
    start: u64,
    attributes: Vec<(&'static str, Value)>,
    error: bool,
}

impl Span {
    /// Sets an attribute (a string or an integer).
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        self.attributes.push((key, value.into()));
    }

    /// Marks the span failed (OTLP status `ERROR`), with `message` as `error.message`.
    pub fn fail(&mut self, message: impl Into<String>) {
        self.error = true;
        self.set("error.message", message.into());
    }

    /// The OTLP JSON of the span, ended at `end` (Unix nanoseconds).
    fn to_otlp(&self, end: u64) -> Value {
        let attributes: Vec<Value> = self
            .attributes
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::Number(n) => json!({"intValue": n.to_string()}),
                    Value::String(s) => json!({"stringValue": s}),
                    other => json!({"stringValue": other.to_string()}),
                };
                json!({"key": k, "value": value})
            })
            .collect();
        let mut span = json!({
            "traceId": hex_string(&self.context.trace_id),
            "spanId": hex_string(&self.context.span_id),
            "name": self.name,
            "kind": self.kind as i32,
            "startTimeUnixNano": self.start.to_string(),
            "endTimeUnixNano": end.to_string(),
            "attributes": attributes,
            "status": {"code": if self.error { 2 } else { 1 }},
        });
        if let Some(parent) = self.parent {
            span["parentSpanId"] = hex_string(&parent).into();
        }
        if let Some(state) = &self.context.tracestate {
            span["traceState"] = state.clone().into();
        }
        span
    }
}

enum Message {
    Span(Value),
    Flush(oneshot::Sender<()>),
}

/// Creates spans and queues them for export; does nothing when export is off.
#[derive(Clone, Default)]
pub struct Tracer {
    queue: Option<mpsc::Sender<Message>>,
    metrics: Arc<Metrics>,
}

impl Tracer {
    /// A tracer exporting to `endpoint` (a base URL; empty: export off) as service
    /// `service_name`. Export needs a running tokio runtime; its task lives as long as
    /// some clone of the tracer does.
    pub fn new(endpoint: &str, service_name: &str, metrics: Arc<Metrics>) -> Tracer {
        if endpoint.is_empty() {
            return Tracer {
                queue: None,
                metrics,
            };
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        tokio::spawn(export_loop(rx, url, service_name.to_string()));
        Tracer {
            queue: Some(tx),
            metrics,
        }
    }

    /// True when spans are exported.
    pub fn enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Starts a span below `parent` (a new trace when None). None when export is off or
    /// the parent is not sampled: the caller then forwards the parent unchanged.
    pub fn start(
        &self,
        name: &'static str,
        kind: SpanKind,
        parent: Option<&TraceContext>,
    ) -> Option<Span> {
        self.queue.as_ref()?;
        let (context, parent) = match parent {
            Some(p) if !p.sampled() => return None,
            Some(p) => (p.child(), Some(p.span_id)),
            None => (TraceContext::new_root(), None),
        };
        Some(Span {
            context,
            parent,
            name,
            kind,
            start: unix_nanos(),
            attributes: Vec::new(),
            error: false,
        })
    }

    /// Ends `span` now and queues it; a full queue drops it.
    pub fn end(&self, span: Span) {
        let Some(queue) = &self.queue else { return };
        let otlp = span.to_otlp(unix_nanos());
        if queue.try_send(Message::Span(otlp)).is_err() {
            self.metrics.span_dropped();
        }
    }

    /// Sends what is queued now, waiting at most `wait`.
    pub async fn flush(&self, wait: Duration) {
        let Some(queue) = &self.queue else { return };
        let (done, flushed) = oneshot::channel();
        let _ = tokio::time::timeout(wait, async {
            if queue.send(Message::Flush(done)).await.is_ok() {
                let _ = flushed.await;
            }
        })
        .await;
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// Collects spans into batches and posts them until every sender is gone.
async fn export_loop(mut rx: mpsc::Receiver<Message>, url: String, service_name: String) {
    let client = reqwest::Client::new();
    let resource = json!({"attributes": [
        {"key": "service.name", "value": {"stringValue": service_name}}
    ]});
    let mut last_error: Option<Instant> = None;
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut flushed = None;
        match first {
            Message::Span(s) => batch.push(s),
            Message::Flush(done) => flushed = Some(done),
        }
        let deadline = tokio::time::Instant::now() + LINGER;
        while flushed.is_none() && batch.len() < BATCH {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(Message::Span(s)) => batch.push(s),
                    Some(Message::Flush(done)) => flushed = Some(done),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        if !batch.is_empty() {
            let body = json!({"resourceSpans": [{
                "resource": resource,
                "scopeSpans": [{
                    "scope": {"name": "dtmx", "version": env!("CARGO_PKG_VERSION")},
                    "spans": std::mem::take(&mut batch),
                }],
            }]});
            if let Err(e) = post_json(&client, &url, body.to_string(), TIMEOUT).await {
                if last_error.map_or(true, |t| t.elapsed() >= ERROR_LOG_EVERY) {
                    tracing::warn!("span export to {url} failed (logged once a minute): {e}");
                    last_error = Some(Instant::now());
                }
            }
        }
        if let Some(done) = flushed {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_makes_no_spans() {
        let t = Tracer::default();
        assert!(!t.enabled());
        assert!(t.start("submit", SpanKind::Server, None).is_none());
    }

    #[tokio::test]
    async fn spans_follow_the_parent() {
        let t = Tracer::new("http://127.0.0.1:9", "dtmx", Arc::default());
        let parent = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .expect("valid");
        let mut span = t
            .start("submit", SpanKind::Server, Some(&parent))
            .expect("sampled");
        assert_eq!(span.context.trace_id, parent.trace_id);
        span.set("dtm.gid", "g");
        span.set("http.status_code", 200);
        span.fail("boom");
        let otlp = span.to_otlp(5);
        assert_eq!(otlp["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(otlp["kind"], 2);
        assert_eq!(otlp["endTimeUnixNano"], "5");
        assert_eq!(otlp["status"]["code"], 2);
        assert_eq!(otlp["attributes"][1]["value"]["intValue"], "200");
        let unsampled = TraceContext { flags: 0, ..parent };
        assert!(t.start("x", SpanKind::Client, Some(&unsampled)).is_none());
        assert!(t.start("x", SpanKind::Client, None).is_some());
    }
}
