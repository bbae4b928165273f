//! A real dtmx server for your tests: no docker, no separate install.
//!
//! [`DtmxServer::start`] runs the `dtmx` binary (`cargo install dtmx-server`, or
//! `pip install dtmx-server`, puts it on PATH; `DTMX_BIN` names another one) on free
//! loopback ports with a fresh embedded store in a temporary directory, waits until it
//! answers `/api/ping`, and stops it (and removes the directory) when dropped:
//!
//! ```no_run
//! let server = dtmx_testkit::DtmxServer::start().expect("dtmx server");
//! let url = server.url(); // http://127.0.0.1:<port>/api/dtmsvr
//! # drop(url);
//! ```
//!
//! The crate uses std only, and blocks while the server starts (a few milliseconds): from
//! async code, call it in `tokio::task::spawn_blocking` or before the runtime starts.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const HOW: &str =
    "install it with `cargo install dtmx-server` (or `pip install dtmx-server`), or set DTMX_BIN to the path of a dtmx binary";

/// Why the server could not be started.
#[derive(Debug)]
pub enum Error {
    /// No server binary: the message says where it was looked for and how to get one.
    NotFound(String),
    /// The temporary directory, the log file or the process could not be created.
    Io(std::io::Error),
    /// The server exited before answering; `output` is the tail of what it wrote.
    Exited { status: ExitStatus, output: String },
    /// The server did not answer `/api/ping` in time; `output` is the tail of what it wrote.
    Timeout { timeout: Duration, output: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(m) => f.write_str(m),
            Error::Io(e) => write!(f, "dtmx server: {e}"),
            Error::Exited { status, output } => {
                write!(f, "dtmx server exited with {status}; its output:\n{output}")
            }
            Error::Timeout { timeout, output } => write!(
                f,
                "dtmx server did not answer /api/ping within {timeout:?}; its output:\n{output}"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// The dtmx server binary: `binary`, else `$DTMX_BIN`, else `dtmx` on PATH.
pub fn find_binary(binary: Option<&Path>) -> Result<PathBuf, Error> {
    let (path, source) = match binary {
        Some(p) => (Some(p.to_path_buf()), "the path given"),
        None => (
            std::env::var_os("DTMX_BIN")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            "DTMX_BIN",
        ),
    };
    if let Some(p) = path {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::NotFound(format!(
                "dtmx server binary {} ({source}) not found: {HOW}",
                p.display()
            )))
        };
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("dtmx"))
            .find(|p| p.is_file())
    });
    on_path.ok_or_else(|| {
        Error::NotFound(format!(
            "no dtmx server binary: `dtmx` is not on PATH and DTMX_BIN is unset; {HOW}"
        ))
    })
}

/// A free loopback TCP port.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// How to start a server: [`DtmxServer::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    binary: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
}

impl Builder {
    /// The server binary (default: `$DTMX_BIN`, else `dtmx` on PATH).
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// An extra environment variable of the server (e.g. `AUTH_SUBMIT_TOKENS`); set after
    /// the kit's own, so it may override them.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// How long to wait for `/api/ping` (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Starts the server and waits until it answers `/api/ping`.
    pub fn start(self) -> Result<DtmxServer, Error> {
        let binary = find_binary(self.binary.as_deref())?;
        let dir = temp_dir()?;
        let mut last = None;
        // A port found free may be taken before the server binds it: a few tries.
        for _ in 0..5 {
            match launch(&binary, &dir, &self.env, self.timeout) {
                Ok(mut server) => {
                    server.dir = dir;
                    return Ok(server);
                }
                Err(e) => {
                    let retry = matches!(&e, Error::Exited { output, .. }
                        if output.to_lowercase().contains("in use"));
                    last = Some(e);
                    if !retry {
                        break;
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(last.unwrap_or_else(|| Error::NotFound("dtmx server did not start".into())))
    }
}

/// A running dtmx server on free loopback ports with a fresh embedded store; stopped (and its
/// directory removed) when dropped.
#[derive(Debug)]
pub struct DtmxServer {
    child: Child,
    dir: PathBuf,
    binary: PathBuf,
    http_port: u16,
    grpc_port: u16,
}

impl DtmxServer {
    /// Starts the server found by [`find_binary`] (`$DTMX_BIN`, else `dtmx` on PATH).
    pub fn start() -> Result<Self, Error> {
        Self::builder().start()
    }

    /// Starts the server binary at `path`.
    pub fn with_binary(path: impl Into<PathBuf>) -> Result<Self, Error> {
        Self::builder().binary(path).start()
    }

    /// Options: the binary, extra environment, the start timeout.
    pub fn builder() -> Builder {
        Builder {
            binary: None,
            env: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }

    /// The server's `/api/dtmsvr` URL, for a dtmx client.
    pub fn url(&self) -> String {
        format!("{}/api/dtmsvr", self.base_url())
    }

    /// `http://127.0.0.1:<http_port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The HTTP port.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The gRPC port.
    pub fn grpc_port(&self) -> u16 {
        self.grpc_port
    }

    /// The temporary directory holding the store (`dtmx.db`) and the log (`server.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The binary that runs.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The server's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Stops the server and removes its directory (what drop does).
    pub fn stop(self) {}
}

impl Drop for DtmxServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir() -> std::io::Result<PathBuf> {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let base = std::env::temp_dir();
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!(
            "dtmx-testkit-{}-{}-{nanos}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::create_dir(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            r => return r.map(|()| dir),
        }
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Starts the server once and waits for `/api/ping`. The returned server's `dir` is set by
/// the caller (an error here leaves the directory to it).
fn launch(
    binary: &Path,
    dir: &Path,
    env: &[(OsString, OsString)],
    timeout: Duration,
) -> Result<DtmxServer, Error> {
    let (http_port, grpc_port) = (free_port()?, free_port()?);
    let log = std::fs::File::create(dir.join("server.log"))?;
    let mut cmd = Command::new(binary);
    cmd.env("HTTP_HOST", "127.0.0.1")
        .env("HTTP_PORT", http_port.to_string())
        .env("GRPC_PORT", grpc_port.to_string())
        .env("STORE_PATH", dir.join("dtmx.db"))
        .env("LOG_LEVEL", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log));
    let mut server = DtmxServer {
        child: cmd.spawn()?,
        // Not removed by this value's drop on failure: the caller owns the directory.
        dir: PathBuf::new(),
        binary: binary.to_path_buf(),
        http_port,
        grpc_port,
    };
    let output = || tail(&std::fs::read_to_string(dir.join("server.log")).unwrap_or_default());
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ping(http_port) {
            return Ok(server);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(Error::Exited {
                status,
                output: output(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Error::Timeout {
        timeout,
        output: output(),
    })
}

/// `GET /api/ping` answers 200.
fn ping(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req =
        format!("GET /api/ping HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}
