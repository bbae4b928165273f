//! The kit starts a real dtmx server (DTMX_BIN, which scripts/test sets, else this
//! checkout's target/debug/dtmx), gives its URL, and stops it.

use dtmx_testkit::{DtmxServer, Error};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("DTMX_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/dtmx");
    assert!(
        p.exists(),
        "{} missing: cargo build -p dtmx-server, or set DTMX_BIN",
        p.display()
    );
    p
}

/// The status line and body of `GET path`.
fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn starts_answers_and_stops() {
    let server = DtmxServer::with_binary(binary()).expect("start");
    let port = server.http_port();
    assert_eq!(server.url(), format!("http://127.0.0.1:{port}/api/dtmsvr"));
    assert_ne!(server.grpc_port(), port);
    assert!(server.dir().join("dtmx.db").exists());
    let dir = server.dir().to_path_buf();
    assert!(get(port, "/api/ping").starts_with("HTTP/1.1 200"));
    let gid = get(port, "/api/dtmsvr/newGid");
    assert!(
        gid.starts_with("HTTP/1.1 200") && gid.contains("\"gid\""),
        "{gid}"
    );

    drop(server);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still listening"
    );
    TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn two_servers_side_by_side_with_env() {
    let a = DtmxServer::builder()
        .binary(binary())
        .env("AUTH_SUBMIT_TOKENS", "kit-token-0123456789")
        .start()
        .expect("a");
    let b = DtmxServer::with_binary(binary()).expect("b");
    assert_ne!(a.http_port(), b.http_port());
    assert_ne!(a.dir(), b.dir());
    // The extra env reached a: its submit needs the token, b's does not.
    let submit = |port: u16| {
        let body = r#"{"gid":"kit-1","trans_type":"saga","steps":[],"payloads":[]}"#;
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        write!(
            s,
            "POST /api/dtmsvr/submit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    };
    assert!(submit(a.http_port()).starts_with("HTTP/1.1 401"));
    assert!(submit(b.http_port()).starts_with("HTTP/1.1 200"));
    a.stop();
    assert!(get(b.http_port(), "/api/ping").starts_with("HTTP/1.1 200"));
}

#[test]
fn missing_binary_says_how() {
    let err = DtmxServer::with_binary("/nonexistent/dtmx").expect_err("no binary");
    assert!(matches!(err, Error::NotFound(_)));
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/dtmx"), "{msg}");
    assert!(msg.contains("cargo install dtmx-server"), "{msg}");
    assert!(msg.contains("DTMX_BIN"), "{msg}");
}

#[cfg(unix)]
#[test]
fn server_that_exits_shows_its_output() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("dtmx-testkit-fake-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let fake = dir.join("dtmx");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'config: STORE_PATH is bad' >&2\nexit 3\n",
    )
    .expect("write");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let err = DtmxServer::with_binary(&fake).expect_err("exits");
    let msg = err.to_string();
    assert!(matches!(err, Error::Exited { .. }), "{msg}");
    assert!(msg.contains("config: STORE_PATH is bad"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}
