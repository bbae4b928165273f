//! The admin console: one page, embedded in the binary, served on the HTTP port at `/` and
//! `/admin/*` (under `AdminBasePath` when set, as DTM does). It lists transactions with
//! filters and paging, shows one with its branches and a timeline, force-stops or retries
//! it, and manages topics, all through the HTTP API (`/api/dtmsvr`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The page (server/admin/index.html).
const PAGE: &str = include_str!("../../admin/index.html");

/// Marks a response as the console's page, so request metrics count every console path
/// under one name (`admin`) instead of one per path a client makes up.
#[derive(Debug, Clone, Copy)]
pub struct ConsolePage;

/// The console's routes under `base` (`AdminBasePath`; empty: the root).
pub fn routes<S: Clone + Send + Sync + 'static>(base: &str) -> Router<S> {
    let base = base.trim_end_matches('/');
    let base = if base.is_empty() || base.starts_with('/') {
        base.to_string()
    } else {
        format!("/{base}")
    };
    let root = if base.is_empty() {
        "/".to_string()
    } else {
        base.clone()
    };
    let mut router = Router::new()
        .route(&root, get(page))
        .route(&format!("{base}/admin"), get(page))
        .route(&format!("{base}/admin/"), get(page))
        .route(&format!("{base}/admin/{{*rest}}"), get(page));
    if !base.is_empty() {
        router = router.route(&format!("{base}/"), get(page));
    }
    router
}

async fn page() -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            // The page loads nothing from elsewhere and talks to this origin only.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
                     frame-ancestors 'none'",
                ),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        axum::Extension(ConsolePage),
        PAGE,
    )
        .into_response()
}
