//! [`Transport`] over reqwest: hyper with rustls on native targets, `fetch` on wasm32.

use super::{BoxFuture, HttpRequest, HttpResponse, Method, Transport};
use crate::error::{Error, ErrorKind, Result};

/// A [`Transport`] over a shared `reqwest::Client` (connection pooling on native targets).
#[derive(Debug, Clone, Default)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport with reqwest's default client.
    pub fn new() -> ReqwestTransport {
        ReqwestTransport::default()
    }

    /// A transport over `client` (to set proxies, TLS roots, default timeouts...).
    pub fn with_client(client: reqwest::Client) -> ReqwestTransport {
        ReqwestTransport { client }
    }

    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        if let Some(timeout) = request.timeout {
            builder = builder.timeout(timeout);
        }
        let reply = builder.send().await.map_err(|e| convert(&request.url, e))?;
        let status = reply.status().as_u16();
        let body = reply.bytes().await.map_err(|e| convert(&request.url, e))?;
        Ok(HttpResponse {
            status,
            body: body.to_vec(),
        })
    }
}

/// The error of a request to `url`: the URL, then reqwest's error and every cause under
/// it (`Connection refused`, a DNS or TLS failure).
fn convert(url: &str, e: reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_builder() {
        ErrorKind::InvalidArgument
    } else {
        ErrorKind::Transport
    };
    Error::new(kind, url).with_cause(e.without_url())
}

impl Transport for ReqwestTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>> {
        Box::pin(self.exchange(request))
    }
}
