//! Logging set-up: `LogLevel` (or `-d`) and `Log.Outputs`, a comma list of `stderr`,
//! `stdout` and file paths (appended to), as DTM's configuration has it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::MakeWriter;

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

/// Installs the global subscriber at `level` for dtmx's own modules.
pub fn init(level: &str, outputs: &str) -> io::Result<()> {
    let outputs = Outputs::open(outputs)?;
    let ansi = outputs.terminal_only();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "dtmx_server={level},warn"
        )))
        .with_ansi(ansi)
        .with_writer(outputs)
        .init();
    Ok(())
}
