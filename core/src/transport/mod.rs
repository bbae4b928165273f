//! How requests leave the process: the [`Transport`] trait, the request and reply types it
//! carries, and the injected [`Clock`] and [`Sleeper`] (DESIGN.md §3).
//!
//! Builders produce [`HttpRequest`]s; a transport sends them. The core never opens a socket,
//! reads the system time or sleeps by itself, so it runs unchanged on native targets, on
//! wasm32 in a browser or an edge runtime, and inside a binding that brings its own HTTP
//! client. The `client` feature adds a reqwest transport and a clock and a sleeper for the
//! target.

mod query;
#[cfg(feature = "client")]
mod reqwest;
mod runtime;

pub use query::{decode_query, encode_query, escape_query};
#[cfg(feature = "client")]
pub use reqwest::ReqwestTransport;
#[cfg(all(target_arch = "wasm32", feature = "client"))]
pub use runtime::JsSleeper;
#[cfg(any(not(target_arch = "wasm32"), feature = "client"))]
pub use runtime::SystemClock;
#[cfg(all(not(target_arch = "wasm32"), feature = "client"))]
pub use runtime::TokioSleeper;
pub use runtime::{default_clock, default_sleeper, Clock, ManualClock, Sleeper};

use crate::error::Result;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future; `Send` on native targets, not on wasm32 where nothing is `Send`.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A boxed future; `Send` on native targets, not on wasm32 where nothing is `Send`.
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// `Send + Sync` on native targets, nothing on wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}
/// `Send + Sync` on native targets, nothing on wasm32.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSendSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSendSync for T {}

/// HTTP method of a request the core builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

impl Method {
    /// The method name, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request for a transport to send: to the DTM server or to a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: Method,
    /// The full URL, query string included.
    pub url: String,
    /// Headers in the order they are to be set (a later one with the same name wins).
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
    /// How long the whole exchange may take (`None`: the transport's default).
    pub timeout: Option<Duration>,
}

impl HttpRequest {
    /// A `POST` of a JSON body with `Content-Type: application/json`.
    pub fn post_json(url: impl Into<String>, body: Vec<u8>) -> HttpRequest {
        HttpRequest {
            method: Method::Post,
            url: url.into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(body),
            timeout: None,
        }
    }

    /// A `GET` without body.
    pub fn get(url: impl Into<String>) -> HttpRequest {
        HttpRequest {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: None,
        }
    }

    /// The URL without its query string.
    pub fn path(&self) -> &str {
        self.url.split_once('?').map_or(&self.url, |(p, _)| p)
    }

    /// The decoded query parameters, in URL order.
    pub fn query(&self) -> Vec<(String, String)> {
        self.url
            .split_once('?')
            .map(|(_, q)| decode_query(q))
            .unwrap_or_default()
    }

    /// The value of header `name` (case-insensitive; the last one wins).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A reply as a transport received it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends requests. Implemented by [`ReqwestTransport`] (feature `client`) and by bindings
/// that bring their own HTTP client.
///
/// A transport reports only what it could not do (connect, send, read: kind
/// [`ErrorKind::Transport`](crate::ErrorKind::Transport), or
/// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout)); every HTTP status, 500 included, is a
/// reply and comes back as an [`HttpResponse`].
pub trait Transport: MaybeSendSync {
    /// Sends `request` and returns the status and body of the reply.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>>;
}
