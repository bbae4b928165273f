//! The real `dtmx` server for the core's end-to-end tests, started by the test kit
//! (dtmx-testkit): `DTMX_BIN`, else `target/debug/dtmx` (`cargo build -p dtmx-server`), on
//! free loopback ports with a fresh store and the test hooks on.

#![allow(dead_code)]

use dtmx_testkit::DtmxServer;
use std::path::{Path, PathBuf};

/// A running server, stopped (and its store removed) on drop.
pub struct Server {
    /// Its `/api/dtmsvr` URL.
    pub dtm: String,
    _kit: DtmxServer,
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
    dtmx_testkit::free_port().expect("free port")
}

/// Starts the server and waits until it answers `/api/ping`. `_tag` named its directory
/// once; the kit picks a unique one.
pub async fn start_server(bin: &Path, _tag: &str) -> Server {
    let bin = bin.to_path_buf();
    let kit = tokio::task::spawn_blocking(move || {
        DtmxServer::builder()
            .binary(bin)
            .env("DTMX_TEST_HOOKS", "1")
            .env("TRANS_CRON_INTERVAL", "1")
            .start()
    })
    .await
    .expect("start task");
    let kit = kit.unwrap_or_else(|e| panic!("dtmx did not start: {e}"));
    Server {
        dtm: kit.url(),
        _kit: kit,
    }
}
