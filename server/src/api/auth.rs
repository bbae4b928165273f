//! Authentication at the front doors: the scope each HTTP route, JSON-RPC and gRPC method
//! needs, and the refusals (HTTP 401/403 with `WWW-Authenticate`; gRPC `Unauthenticated`
//! and `PermissionDenied`). Installed only when tokens are configured, so a server without
//! them does no work per request.

use crate::auth::{Refusal, Scope, Tokens};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::codegen::{http, BoxFuture, Service};
use tonic::server::NamedService;

/// How a refusal is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// DTM's `{"message": ...}`.
    Rest,
    /// A JSON-RPC 2.0 error object (code -32001 unauthenticated, -32003 forbidden).
    JsonRpc,
}

#[derive(Clone)]
struct Guard {
    tokens: Arc<Tokens>,
    scope: Scope,
    style: Style,
}

/// `router` with every one of its routes requiring `scope` when authentication is on.
pub fn guard<S>(router: Router<S>, tokens: &Tokens, scope: Scope, style: Style) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    if !tokens.is_on() {
        return router;
    }
    let state = Guard {
        tokens: Arc::new(tokens.clone()),
        scope,
        style,
    };
    router.route_layer(middleware::from_fn_with_state(state, check))
}

async fn check(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let credential = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    match g.tokens.check(credential, g.scope) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            tracing::debug!("refused {}: {refusal}", req.uri().path());
            refuse(refusal, g.style)
        }
    }
}

fn refuse(refusal: Refusal, style: Style) -> Response {
    let (status, challenge, code) = match refusal {
        Refusal::Missing => (
            StatusCode::UNAUTHORIZED,
            r#"Bearer realm="dtmx""#.into(),
            -32001,
        ),
        Refusal::Invalid => (
            StatusCode::UNAUTHORIZED,
            r#"Bearer realm="dtmx", error="invalid_token""#.into(),
            -32001,
        ),
        Refusal::Insufficient(scope) => (
            StatusCode::FORBIDDEN,
            format!(
                r#"Bearer realm="dtmx", error="insufficient_scope", scope="{}""#,
                scope.name()
            ),
            -32003,
        ),
    };
    let message = refusal.to_string();
    let body = match style {
        Style::Rest => json!({ "message": message }),
        Style::JsonRpc => json!({
            "jsonrpc": "2.0", "id": null,
            "error": {"code": code, "message": message},
            "result": null
        }),
    };
    let mut resp = super::http::json_response(status, body);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// The scope a `dtmgimp.Dtm` method needs: topics are admin, the rest is the transaction
/// API.
fn grpc_scope(path: &str) -> Scope {
    match path.rsplit('/').next().unwrap_or_default() {
        "Subscribe" | "Unsubscribe" | "DeleteTopic" => Scope::Admin,
        _ => Scope::Submit,
    }
}

/// A gRPC service that checks the `authorization` metadata before calling `inner`.
#[derive(Clone)]
pub struct GrpcAuth<S> {
    inner: S,
    tokens: Arc<Tokens>,
}

impl<S> GrpcAuth<S> {
    /// Wraps `inner`; every call is then checked against `tokens`.
    pub fn new(inner: S, tokens: &Tokens) -> Self {
        GrpcAuth {
            inner,
            tokens: Arc::new(tokens.clone()),
        }
    }
}

impl<S: NamedService> NamedService for GrpcAuth<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for GrpcAuth<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let credential = req.headers().get("authorization").map(|v| v.as_bytes());
        match self.tokens.check(credential, grpc_scope(req.uri().path())) {
            Ok(()) => Box::pin(self.inner.call(req)),
            Err(refusal) => {
                tracing::debug!("refused grpc {}: {refusal}", req.uri().path());
                let status = match refusal {
                    Refusal::Insufficient(_) => {
                        tonic::Status::permission_denied(refusal.to_string())
                    }
                    _ => tonic::Status::unauthenticated(refusal.to_string()),
                };
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}
