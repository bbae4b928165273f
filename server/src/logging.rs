//! Logging set-up: `LogLevel` (or `-d`) and `Log.Outputs`, a comma list of `stderr`,
//! `stdout` and file paths (appended to), as DTM's configuration has it; `Log.Format`
//! chooses text lines or one JSON object per line.

use crate::config::LogFormat;
use serde_json::{Map, Value};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone)]
enum Output {
    Stderr,
    Stdout,
    File(Arc<Mutex<File>>),
}

/// Every configured output; each log line is written to all of them.
#[derive(Clone)]
pub struct Outputs(Vec<Output>);

impl Outputs {
    /// Parses `Log.Outputs`, opening files for appending.
    pub fn open(spec: &str) -> io::Result<Outputs> {
        let mut outputs = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            outputs.push(match item {
                "stderr" => Output::Stderr,
                "stdout" => Output::Stdout,
                path => {
                    let file = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(|e| {
                            io::Error::new(e.kind(), format!("cannot open log file {path}: {e}"))
                        })?;
                    Output::File(Arc::new(Mutex::new(file)))
                }
            });
        }
        if outputs.is_empty() {
            outputs.push(Output::Stderr);
        }
        Ok(Outputs(outputs))
    }

    /// True when only the terminal streams are written (colors are then allowed).
    pub fn terminal_only(&self) -> bool {
        self.0.iter().all(|o| !matches!(o, Output::File(_)))
    }
}

impl Write for Outputs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for out in &self.0 {
            match out {
                Output::Stderr => io::stderr().write_all(buf)?,
                Output::Stdout => io::stdout().write_all(buf)?,
                Output::File(f) => f
                    .lock()
                    .map_err(|_| io::Error::other("log file lock poisoned"))?
                    .write_all(buf)?,
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Outputs {
    type Writer = Outputs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Writes each event as one JSON object: `timestamp` (RFC 3339, UTC), `level`, `target`,
/// `message` and the event's other `fields`.
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = JsonFields(Map::new());
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or_default();
        let meta = event.metadata();
        let line = serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": meta.level().as_str(),
            "target": meta.target(),
            "message": message,
            "fields": fields.0,
        });
        writeln!(writer, "{line}")
    }
}

/// Collects an event's fields as JSON values.
struct JsonFields(Map<String, Value>);

impl Visit for JsonFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
}

/// Installs the global subscriber at `level` for dtmx's own modules, writing `format`.
pub fn init(level: &str, outputs: &str, format: LogFormat) -> io::Result<()> {
    let outputs = Outputs::open(outputs)?;
    let ansi = outputs.terminal_only() && format == LogFormat::Text;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "dtmx_server={level},warn"
        )))
        .with_ansi(ansi)
        .with_writer(outputs);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.event_format(JsonLines).init(),
    }
    Ok(())
}
