//! The real `dtmx` server for the core's end-to-end tests: `DTMX_BIN`, else
//! `target/debug/dtmx` (`cargo build -p dtmx-server`), on a free loopback port with a fresh
//! store and the test hooks on.

#![allow(dead_code)]

use dtmx::tm::Client;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running server, killed (and its store removed) on drop.
pub struct Server {
    child: Child,
    dir: PathBuf,
    /// Its `/api/dtmsvr` URL.
    pub dtm: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server binary; `None` (with a notice) when it is missing and `DTMX_BIN` is unset.
pub fn binary() -> Option<PathBuf> {
    match std::env::var_os("DTMX_BIN") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            assert!(p.exists(), "DTMX_BIN={} does not exist", p.display());
            Some(p)
        }
        _ => {
            let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/dtmx");
            if p.exists() {
                Some(p)
            } else {
                eprintln!(
                    "SKIPPED: {} missing (cargo build -p dtmx-server, or set DTMX_BIN)",
                    p.display()
                );
                None
            }
        }
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Starts the server and waits until it answers `/api/ping`.
pub async fn start_server(bin: &PathBuf, tag: &str) -> Server {
    let dir = std::env::temp_dir().join(format!(
        "dtmx-tm-e2e-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for _ in 0..5 {
        let port = free_port();
        let log = std::fs::File::create(dir.join("server.log")).expect("log file");
        let child = Command::new(bin)
            .env("HTTP_PORT", port.to_string())
            .env("GRPC_PORT", free_port().to_string())
            .env("HTTP_HOST", "127.0.0.1")
            .env("STORE_PATH", dir.join("dtmx.db"))
            .env("DTMX_TEST_HOOKS", "1")
            .env("TRANS_CRON_INTERVAL", "1")
            .env("LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn dtmx");
        let mut child = child;
        let ping = Client::http("");
        for _ in 0..300 {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            let req = dtmx::HttpRequest::get(format!("http://127.0.0.1:{port}/api/ping"));
            if matches!(ping.send(req).await, Ok(r) if r.status == 200) {
                return Server {
                    child,
                    dir,
                    dtm: format!("http://127.0.0.1:{port}/api/dtmsvr"),
                };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!(
        "dtmx did not start: {}",
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    );
}
