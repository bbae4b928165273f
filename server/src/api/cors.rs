//! CORS for the HTTP front door, so that a page on another origin (a browser running the
//! WASM package) can call dtm. Off unless `HttpCors.AllowedOrigins` lists origins.
//!
//! * A request without `Origin` is served as before.
//! * An allowed origin gets `Access-Control-Allow-Origin` (the origin itself, or `*` when
//!   the list is `*`) on every reply; a preflight (`OPTIONS` with
//!   `Access-Control-Request-Method`) is answered 204 with the methods and headers asked.
//! * Any other origin gets no CORS header, so the browser refuses the reply; its preflight
//!   is answered 403.
//!
//! No credentials are allowed: dtm's API has no cookies or authentication to share.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// Methods dtm's routes answer.
const METHODS: &str = "GET, POST, DELETE, OPTIONS";
/// How long browsers may cache a preflight, in seconds.
const MAX_AGE: &str = "600";

/// Which origins may call the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// Any origin (`*`).
    Any,
    /// These origins exactly (`scheme://host[:port]`, compared case-insensitively).
    Origins(Vec<String>),
}

impl Cors {
    /// The policy of the configured list; `None` (CORS off) for an empty list.
    pub fn from_list(origins: &[String]) -> Option<Arc<Cors>> {
        if origins.is_empty() {
            None
        } else if origins.iter().any(|o| o == "*") {
            Some(Arc::new(Cors::Any))
        } else {
            Some(Arc::new(Cors::Origins(
                origins.iter().map(|o| o.to_ascii_lowercase()).collect(),
            )))
        }
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, `None` when not allowed.
    fn allow(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        match self {
            Cors::Any => Some(HeaderValue::from_static("*")),
            Cors::Origins(list) => {
                let o = origin.to_str().ok()?.to_ascii_lowercase();
                list.contains(&o).then(|| origin.clone())
            }
        }
    }
}

/// Checks an origin as configured: `*`, or `http(s)://host[:port]` without a path.
pub fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Ok(());
    }
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or_else(|| format!("origin {origin:?} must be * or start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', ',']) {
        return Err(format!(
            "origin {origin:?} must be scheme://host[:port] without a path"
        ));
    }
    Ok(())
}

/// The middleware: answers preflights and marks the replies of allowed origins.
pub async fn cors(State(policy): State<Arc<Cors>>, req: Request, next: Next) -> Response {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return next.run(req).await;
    };
    let allowed = policy.allow(&origin);
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        return match allowed {
            Some(value) => preflight_reply(value, req.headers()),
            None => refused(),
        };
    }
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(value) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    resp
}

fn preflight_reply(allow_origin: HeaderValue, request: &HeaderMap) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(METHODS),
    );
    let asked = request
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("content-type"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

fn refused() -> Response {
    super::http::json_response(
        StatusCode::FORBIDDEN,
        serde_json::json!({"message": "origin not allowed"}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        assert_eq!(Cors::from_list(&[]), None);
        let any = Cors::from_list(&["https://a.test".into(), "*".into()]).expect("on");
        assert_eq!(*any, Cors::Any);
        let some = Cors::from_list(&["http://A.test:8080".into()]).expect("on");
        let o = HeaderValue::from_static("http://a.test:8080");
        assert_eq!(some.allow(&o), Some(o));
        assert_eq!(
            some.allow(&HeaderValue::from_static("http://a.test:8081")),
            None
        );
        assert!(check_origin("*").is_ok());
        assert!(check_origin("http://localhost:8000").is_ok());
        for bad in [
            "localhost",
            "http://",
            "http://a/b",
            "ftp://a",
            "http://a,b",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
