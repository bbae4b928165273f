//! HTTP branch calls: plain URLs on pooled keep-alive connections (engine/http_pool.rs),
//! reused and replaced when closed; every call through a proxy set in the environment; and
//! redirects by the same rules on both (method and body per status, credentials only to
//! the same host, at most 10).

mod common;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap};
use common::*;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// A one-step saga whose action is `url`, with `payload` and `extra` merged in.
fn one_step(gid: &str, url: &str, payload: &str, extra: Value) -> Value {
    let mut body = json!({"gid": gid, "trans_type": "saga", "wait_result": true,
        "steps": [{"action": url, "compensate": ""}], "payloads": [payload]});
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_change_the_method_as_the_status_says() {
    let (dtm, busi) = (Dtmx::start().await, Busi::start().await);
    let redirector = Redirector::start(busi.url("TransOut")).await;
    for (status, method, body) in [
        (301, "GET", ""),
        (302, "GET", ""),
        (303, "GET", ""),
        (307, "POST", r#"{"amount":1}"#),
        (308, "POST", r#"{"amount":1}"#),
    ] {
        let gid = format!("redirect-{status}");
        let url = redirector.url(&format!("{status}/x"));
        let r = dtm
            .submit(&one_step(&gid, &url, r#"{"amount":1}"#, json!({})))
            .await;
        assert_eq!(r.status, 200, "{status}: {:?}", r.body);
        let calls = busi.calls_of(&gid, "TransOut");
        assert_eq!(calls.len(), 1, "{status}");
        assert_eq!(calls[0].method, method, "{status}");
        assert_eq!(String::from_utf8_lossy(&calls[0].body), body, "{status}");
        assert_eq!(calls[0].q("op"), "action", "{status}: the query is kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_only_follow_a_redirect_to_the_same_host() {
    let (dtm, busi) = (Dtmx::start().await, Busi::start().await);
    let headers = json!({"branch_headers": {"Authorization": "Bearer secret", "X-Tenant": "t1"}});
    // same host and port (127.0.0.1:busi), reached through a redirector on another port
    let other_port = Redirector::start(busi.url("TransOut")).await;
    let r = dtm
        .submit(&one_step(
            "cross-port",
            &other_port.url("307/x"),
            "{}",
            headers.clone(),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let call = &busi.calls_of("cross-port", "TransOut")[0];
    assert_eq!(call.headers.get("x-tenant").map(String::as_str), Some("t1"));
    assert!(
        !call.headers.contains_key("authorization"),
        "credentials went to another host: {:?}",
        call.headers
    );
    // a redirect that stays on the same host and port keeps them
    let same = Redirector::start("/ok".into()).await;
    let r = dtm
        .submit(&one_step("same-host", &same.url("307/x"), "{}", headers))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let bearer = Some("Bearer secret".to_string());
    assert_eq!(same.auth_of("/307/x"), vec![bearer.clone()]);
    assert_eq!(same.auth_of("/ok"), vec![bearer]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_stops_after_ten() {
    let dtm = Dtmx::start().await;
    let redirector = Redirector::start(String::new()).await;
    let r = dtm
        .submit(&one_step("loop", &redirector.url("loop"), "{}", json!({})))
        .await;
    assert_ne!(r.status, 200, "{:?}", r.body);
    assert_eq!(dtm.status("loop").await, "submitted", "retried later");
    assert_eq!(
        redirector.targets("/loop").len(),
        11,
        "the call and 10 redirects"
    );
}

/// A branch service answering SUCCESS; with `close`, every reply says `Connection: close`.
/// Returns its port and the client ports it saw (one per connection).
async fn counting_busi(close: bool) -> (u16, Arc<Mutex<Vec<u16>>>) {
    let peers = Arc::new(Mutex::new(Vec::new()));
    let seen = peers.clone();
    let app = axum::Router::new().fallback(
        move |ConnectInfo(peer): ConnectInfo<SocketAddr>, _: HeaderMap| {
            let seen = seen.clone();
            async move {
                seen.lock().expect("peers").push(peer.port());
                let connection = if close { "close" } else { "keep-alive" };
                (
                    [(header::CONNECTION, connection)],
                    r#"{"dtm_result":"SUCCESS"}"#,
                )
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    (port, peers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_are_reused_and_closed_ones_replaced() {
    let dtm = Dtmx::start().await;
    for close in [false, true] {
        let (port, peers) = counting_busi(close).await;
        for i in 0..20 {
            let gid = format!("conn-{close}-{i}");
            let mut body = one_step(&gid, &format!("http://127.0.0.1:{port}/a"), "{}", json!({}));
            body["steps"][0]["compensate"] = json!(format!("http://127.0.0.1:{port}/c"));
            let r = dtm.submit(&body).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            assert_eq!(dtm.status(&gid).await, "succeed");
        }
        let peers = peers.lock().expect("peers");
        let connections: HashSet<u16> = peers.iter().copied().collect();
        assert_eq!(peers.len(), 20);
        if close {
            assert_eq!(connections.len(), 20, "a closed connection is never reused");
        } else {
            assert!(
                connections.len() <= 2,
                "sequential calls share a connection: {} connections",
                connections.len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_in_the_environment_carries_every_call_and_redirect() {
    // The redirector answers as a forward proxy: by path, recording absolute-form targets.
    let proxy = Redirector::start(String::new()).await;
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let dtm = Dtmx::start_with_env(&[
        ("HTTP_PROXY", &proxy_url),
        ("http_proxy", &proxy_url),
        ("NO_PROXY", ""),
        ("no_proxy", ""),
    ])
    .await;
    let busi = Busi::start().await;
    let ok = format!("http://127.0.0.1:{}/ok", busi.port);
    let r = dtm.submit(&one_step("proxied", &ok, "{}", json!({}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let targets = proxy.targets("/ok");
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert_eq!(
        targets[0].authority().map(|a| a.as_str().to_string()),
        Some(format!("127.0.0.1:{}", busi.port)),
        "sent to the proxy in absolute form"
    );
    assert!(busi.all_calls().is_empty(), "nothing went around the proxy");
    // redirects through the proxy stop after ten as well
    let looping = format!("http://127.0.0.1:{}/loop", busi.port);
    let r = dtm
        .submit(&one_step("proxied-loop", &looping, "{}", json!({})))
        .await;
    assert_ne!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        proxy.targets("/loop").len(),
        11,
        "the call and 10 redirects"
    );
}
