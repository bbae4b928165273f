//! Helpers of the chaos and crash-loop tests: a business service on a raw TCP socket that
//! misbehaves on demand, a tmpfs mount that unmounts itself, the server's process id and
//! peak memory, and a loop that drives transactions to their final status.

#![allow(dead_code)]

//!
//! Included by the test files as `#[path = "common/chaos.rs"] mod chaos;` next to `mod common;`.

use crate::common::{merge, url_on, Dtmx};
use serde_json::{json, Value};
use std::path::{Path as FsPath, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the raw service treats the next connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A proper HTTP/1.1 reply: 200 SUCCESS, or 409 FAILURE for `TransIn` of a gid
    /// containing "refuse".
    Good,
    /// Reads the request and never answers (holds the connection until the mode changes).
    Hang,
    /// Accepts and closes right away with a TCP RST (SO_LINGER 0), reading nothing.
    Reset,
    /// Reads the request, answers bytes that are not HTTP and closes.
    Garbage,
    /// 200 with a body that is not JSON at all.
    InvalidJson200,
    /// 200 chunked, one chunk cut short, then the connection is closed.
    TruncatedChunked,
    /// The Good status, then its JSON body padded with spaces to 50 MB (Content-Length).
    Huge,
    /// The Good status and a chunked body that never ends (until the peer goes away).
    Endless,
}

/// Bytes of a `Huge` body.
pub const HUGE_BYTES: usize = 50 * 1024 * 1024;

/// One request the raw service read.
#[derive(Debug, Clone)]
pub struct RawCall {
    pub gid: String,
    pub name: String,
    pub op: String,
    pub mode: Mode,
}

#[derive(Default)]
struct RawState {
    calls: Vec<RawCall>,
    /// Connections accepted in a mode other than Good.
    bad_conns: u64,
    /// Hanging connections the client closed (it gave up waiting).
    hung_up_by_peer: u64,
    /// Most body bytes written to one connection in Huge or Endless mode.
    max_body_sent: usize,
}

struct RawShared {
    mode: Mutex<Mode>,
    state: Mutex<RawState>,
    stop: AtomicBool,
}

/// A business service on a raw TCP listener (127.0.0.1) whose behaviour is switched with
/// [`RawBusi::set_mode`]. Endpoints: `/api/busi/<name>`, like [`Busi`].
pub struct RawBusi {
    pub port: u16,
    shared: Arc<RawShared>,
    task: tokio::task::JoinHandle<()>,
}

impl RawBusi {
    pub async fn start(mode: Mode) -> RawBusi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind raw busi");
        let port = listener.local_addr().expect("raw busi addr").port();
        let shared = Arc::new(RawShared {
            mode: Mutex::new(mode),
            state: Mutex::new(RawState::default()),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    serve_conn(s, stream).await;
                });
            }
        });
        RawBusi { port, shared, task }
    }

    pub fn url(&self, name: &str) -> String {
        url_on(self.port, name)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().expect("mode") = mode;
    }

    pub fn mode(&self) -> Mode {
        *self.shared.mode.lock().expect("mode")
    }

    pub fn calls(&self) -> Vec<RawCall> {
        self.shared.state.lock().expect("state").calls.clone()
    }

    pub fn calls_of(&self, gid: &str) -> Vec<RawCall> {
        self.calls().into_iter().filter(|c| c.gid == gid).collect()
    }

    pub fn bad_conns(&self) -> u64 {
        self.shared.state.lock().expect("state").bad_conns
    }

    pub fn hung_up_by_peer(&self) -> u64 {
        self.shared.state.lock().expect("state").hung_up_by_peer
    }

    pub fn max_body_sent(&self) -> usize {
        self.shared.state.lock().expect("state").max_body_sent
    }
}

impl Drop for RawBusi {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

/// Reads one request head and its Content-Length body; returns (path with query, body).
async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let target = head.split_whitespace().nth(1)?.to_string();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((target, body))
}

fn parse_target(target: &str) -> (String, String, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let name = path.rsplit('/').next().unwrap_or_default().to_string();
    let q = |key: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .unwrap_or_default()
            .to_string()
    };
    (q("gid"), name, q("op"))
}

/// The Good reply of a call: (status line, JSON body).
fn good_reply(gid: &str, name: &str) -> (&'static str, &'static str) {
    if gid.contains("refuse") && name == "TransIn" {
        (
            "409 Conflict",
            r#"{"dtm_result":"FAILURE","message":"no funds"}"#,
        )
    } else {
        ("200 OK", r#"{"dtm_result":"SUCCESS"}"#)
    }
}

async fn serve_conn(s: Arc<RawShared>, mut stream: TcpStream) {
    let mode = *s.mode.lock().expect("mode");
    if mode != Mode::Good {
        s.state.lock().expect("state").bad_conns += 1;
    }
    if mode == Mode::Reset {
        let _ = stream.set_zero_linger();
        drop(stream);
        return;
    }
    let Some((target, _body)) = read_request(&mut stream).await else {
        return;
    };
    let (gid, name, op) = parse_target(&target);
    s.state.lock().expect("state").calls.push(RawCall {
        gid: gid.clone(),
        name: name.clone(),
        op,
        mode,
    });
    let (status, json) = good_reply(&gid, &name);
    match mode {
        Mode::Good => {
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                json.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Mode::Hang => {
            // Never answer; notice when the caller gives up (EOF) or the mode changes.
            let mut byte = [0u8; 1];
            loop {
                tokio::select! {
                    r = stream.read(&mut byte) => {
                        if matches!(r, Ok(0) | Err(_)) {
                            s.state.lock().expect("state").hung_up_by_peer += 1;
                            return;
                        }
                    }
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {
                        if s.stop.load(Ordering::Relaxed)
                            || *s.mode.lock().expect("mode") != Mode::Hang
                        {
                            return;
                        }
                    }
                }
            }
        }
        Mode::Reset => unreachable!(),
        Mode::Garbage => {
            let _ = stream
                .write_all(b"\x16\x03\x01\x00\xa5garbage \xff\xfe not http at all\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
        }
        Mode::InvalidJson200 => {
            let body = "{\"dtm_result\": SUCC<<not json";
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Mode::TruncatedChunked => {
            // The chunk announces 0x40 bytes and carries 18; then the connection closes.
            let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n{\"dtm_result\":\"SUC";
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Mode::Huge | Mode::Endless => {
            let head = if mode == Mode::Huge {
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {HUGE_BYTES}\r\nConnection: close\r\n\r\n"
                )
            } else {
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                )
            };
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let pad = vec![b' '; 64 * 1024];
            let mut sent = 0usize;
            // The JSON first, then spaces: Huge stops at HUGE_BYTES, Endless at 1 GiB.
            let limit = if mode == Mode::Huge {
                HUGE_BYTES
            } else {
                1 << 30
            };
            let mut first = true;
            while sent < limit {
                let piece: Vec<u8> = if first {
                    first = false;
                    json.as_bytes().to_vec()
                } else {
                    pad[..pad.len().min(limit - sent)].to_vec()
                };
                let ok = if mode == Mode::Huge {
                    stream.write_all(&piece).await.is_ok()
                } else {
                    let mut framed = format!("{:x}\r\n", piece.len()).into_bytes();
                    framed.extend_from_slice(&piece);
                    framed.extend_from_slice(b"\r\n");
                    stream.write_all(&framed).await.is_ok()
                };
                if !ok {
                    break;
                }
                sent += piece.len();
                let mut st = s.state.lock().expect("state");
                st.max_body_sent = st.max_body_sent.max(sent);
            }
            let _ = stream.shutdown().await;
        }
    }
}

/// A saga of two steps on `port`: TransOut/TransOutRevert, TransIn/TransInRevert.
pub fn raw_transfer(port: u16, gid: &str, extra: Value) -> Value {
    let mut body = json!({
        "gid": gid,
        "trans_type": "saga",
        "steps": [
            {"action": url_on(port, "TransOut"), "compensate": url_on(port, "TransOutRevert")},
            {"action": url_on(port, "TransIn"), "compensate": url_on(port, "TransInRevert")},
        ],
        "payloads": [r#"{"amount":30}"#, r#"{"amount":30}"#],
        "concurrent": false,
        "protocol": "",
    });
    merge(&mut body, extra);
    body
}

// ---------------------------------------------------------------------------------------
// The server process

/// Process id of the `dtmx` child serving HTTP on `port` (found through /proc).
pub fn server_pid(port: u16) -> Option<u32> {
    let needle = format!("HTTP_PORT={port}");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

/// A `VmXxx:` line of /proc/<pid>/status in KiB.
pub fn vm_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(key)?
            .trim_start_matches(':')
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    })
}

// ---------------------------------------------------------------------------------------
// A tmpfs mount

/// A tmpfs mounted at `dir`, unmounted (lazily, so open files do not stop it) on drop.
pub struct Tmpfs {
    pub dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "2m") at `dir`; Err when mounting is not permitted.
    pub fn mount(dir: &FsPath, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs: {} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------
// Driving transactions to their end

/// Moves the server clock on (past any retry backoff) and polls until every `(gid,
/// final status)` holds; panics if one ends with another final status or `timeout` passes.
pub async fn settle(dtm: &Dtmx, expected: &[(String, &str)], timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<(String, &str)> = expected.to_vec();
    loop {
        let mut still = Vec::new();
        for (gid, want) in pending {
            let status = dtm.status(&gid).await;
            if status == want {
                continue;
            }
            assert!(
                !matches!(status.as_str(), "succeed" | "failed"),
                "{gid} ended {status}, expected {want}: {:#}",
                dtm.query(&gid).await
            );
            still.push((gid, want));
        }
        pending = still;
        if pending.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "{} transactions unfinished after {timeout:?}, e.g. {:#}",
                pending.len(),
                dtm.query(&pending[0].0).await
            );
        }
        dtm.forward(60).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
