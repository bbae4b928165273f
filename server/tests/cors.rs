//! CORS on the HTTP front door (`HttpCors.AllowedOrigins`, `HTTP_CORS_ALLOWED_ORIGINS`):
//! off by default, allowed origins echoed, other origins refused, preflights answered.

mod common;

use common::*;
use reqwest::header::HeaderMap;
use reqwest::Method;

const PAGE: &str = "http://page.test:8080";

/// Sends `method path` to `dtm` with `headers`; the status and the reply headers.
async fn send(
    dtm: &Dtmx,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, HeaderMap) {
    let client = reqwest::Client::new();
    let mut req = client.request(method.clone(), format!("{}{path}", dtm.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if method == Method::POST {
        req = req
            .header("Content-Type", "application/json")
            .body(r#"{"gid":"cors-1","trans_type":"saga","steps":[],"payloads":[]}"#);
    }
    let r = req.send().await.expect("request");
    (r.status().as_u16(), r.headers().clone())
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(String::from)
}

fn preflight(origin: &str) -> Vec<(&str, &str)> {
    vec![
        ("Origin", origin),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type"),
    ]
}

#[tokio::test]
async fn off_by_default() {
    let dtm = Dtmx::start().await;
    let (status, h) = send(&dtm, Method::GET, "/api/dtmsvr/newGid", &[("Origin", PAGE)]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), None);
    let (status, h) = send(
        &dtm,
        Method::OPTIONS,
        "/api/dtmsvr/submit",
        &preflight(PAGE),
    )
    .await;
    assert_ne!(status / 100, 2, "no preflight answer without CORS");
    assert_eq!(header(&h, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn allowed_origins_only() {
    let dtm = Dtmx::start_with_env(&[(
        "HTTP_CORS_ALLOWED_ORIGINS",
        "http://other.test, http://PAGE.test:8080",
    )])
    .await;

    // Preflight of a JSON POST from an allowed page.
    let (status, h) = send(
        &dtm,
        Method::OPTIONS,
        "/api/dtmsvr/submit",
        &preflight(PAGE),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        header(&h, "access-control-allow-origin").as_deref(),
        Some(PAGE)
    );
    let methods = header(&h, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = header(&h, "access-control-allow-headers").unwrap_or_default();
    assert!(
        allowed.to_ascii_lowercase().contains("content-type"),
        "{allowed}"
    );
    assert!(header(&h, "access-control-max-age").is_some());

    // The POST itself: served, origin echoed.
    let (status, h) = send(
        &dtm,
        Method::POST,
        "/api/dtmsvr/submit",
        &[("Origin", PAGE)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "access-control-allow-origin").as_deref(),
        Some(PAGE)
    );
    assert!(header(&h, "vary").unwrap_or_default().contains("Origin"));
    let (status, h) = send(
        &dtm,
        Method::GET,
        "/api/dtmsvr/query?gid=cors-1",
        &[("Origin", PAGE)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "access-control-allow-origin").as_deref(),
        Some(PAGE)
    );

    // Another origin: preflight refused, replies carry no CORS header.
    let evil = "http://evil.test";
    let (status, h) = send(
        &dtm,
        Method::OPTIONS,
        "/api/dtmsvr/submit",
        &preflight(evil),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(header(&h, "access-control-allow-origin"), None);
    let (status, h) = send(&dtm, Method::GET, "/api/dtmsvr/newGid", &[("Origin", evil)]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), None);

    // No Origin (server-to-server clients): unchanged.
    let (status, h) = send(&dtm, Method::GET, "/api/dtmsvr/newGid", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn any_origin_when_star() {
    let dtm = Dtmx::start_with_env(&[("HTTP_CORS_ALLOWED_ORIGINS", "*")]).await;
    let (status, h) = send(
        &dtm,
        Method::OPTIONS,
        "/api/dtmsvr/prepare",
        &preflight("https://x.test"),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        header(&h, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let (status, h) = send(
        &dtm,
        Method::GET,
        "/api/ping",
        &[("Origin", "https://x.test")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "access-control-allow-origin").as_deref(),
        Some("*")
    );
}
