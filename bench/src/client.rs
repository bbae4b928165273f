//! A minimal keep-alive HTTP/1.1 client over hyper: one connection per [`Conn`], no
//! pool locking on the hot path, TCP_NODELAY. Plain `http://` only (DTM servers and
//! branch services are addressed that way).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{header, Method, Request};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where requests go: a resolved address, the `Host` header and a base path.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub host: String,
    /// Path prefix without a trailing slash, e.g. `/api/dtmsvr`.
    pub base: String,
    /// The URL as given, without a trailing slash.
    pub url: String,
}

impl Endpoint {
    /// Parses and resolves `http://host[:port][/base]`.
    pub async fn parse(url: &str) -> Result<Endpoint, String> {
        let url = url.trim_end_matches('/');
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?}: only http:// URLs are supported"))?;
        let (authority, base) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let with_port = if authority.rsplit(':').next().is_some_and(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && authority.contains(':')
        }) {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let addr = tokio::net::lookup_host(&with_port)
            .await
            .map_err(|e| format!("cannot resolve {authority}: {e}"))?
            .next()
            .ok_or_else(|| format!("{authority} has no address"))?;
        Ok(Endpoint {
            addr,
            host: authority.to_string(),
            base: base.to_string(),
            url: url.to_string(),
        })
    }

    /// The base path joined with `path` (which starts with `/`).
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A reply: status and the whole body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive connection, re-opened on the next request after an error.
pub struct Conn {
    ep: Arc<Endpoint>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    /// A connection to `ep`, opened lazily.
    pub fn new(ep: Arc<Endpoint>) -> Conn {
        Conn { ep, sender: None }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = tokio::net::TcpStream::connect(self.ep.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", self.ep.addr))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Sends one request (`path_and_query` is absolute, e.g. `/api/dtmsvr/submit`) and
    /// reads the whole reply, within `timeout`. Never retried: the caller decides.
    pub async fn request(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<Reply, String> {
        match tokio::time::timeout(timeout, self.exchange(method, path_and_query, body)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                Err(format!("timed out after {timeout:?}"))
            }
        }
    }

    async fn exchange(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
    ) -> Result<Reply, String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(self.connect().await?);
        }
        let sender = self.sender.as_mut().ok_or("no connection")?;
        sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(header::HOST, &self.ep.host);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| format!("request: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reply body: {e}"))?
            .to_bytes();
        Ok(Reply { status, body })
    }

    /// `GET path_and_query`.
    pub async fn get(&mut self, path_and_query: &str, timeout: Duration) -> Result<Reply, String> {
        self.request(Method::GET, path_and_query, None, timeout)
            .await
    }

    /// `POST path_and_query` with a JSON body.
    pub async fn post(
        &mut self,
        path_and_query: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Reply, String> {
        self.request(Method::POST, path_and_query, Some(body), timeout)
            .await
    }
}

/// Idle connections shared by concurrent tasks (the open loop).
pub struct Pool {
    ep: Arc<Endpoint>,
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    /// An empty pool for `ep`.
    pub fn new(ep: Arc<Endpoint>) -> Pool {
        Pool {
            ep,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle connection, or a new one.
    pub fn take(&self) -> Conn {
        self.idle
            .lock()
            .expect("pool lock")
            .pop()
            .unwrap_or_else(|| Conn::new(self.ep.clone()))
    }

    /// Returns a connection for reuse.
    pub fn give(&self, conn: Conn) {
        if conn.sender.is_some() {
            self.idle.lock().expect("pool lock").push(conn);
        }
    }
}

/// One request on a fresh connection, retried on transport errors until `deadline`
/// passes (for control calls: counts, resetCronTime, readiness).
pub async fn call_retrying(
    ep: &Arc<Endpoint>,
    method: Method,
    path_and_query: &str,
    body: Option<Bytes>,
    deadline: Duration,
) -> Result<Reply, String> {
    let start = std::time::Instant::now();
    let mut conn = Conn::new(ep.clone());
    loop {
        let timeout = Duration::from_secs(30).min(deadline.max(Duration::from_millis(100)));
        match conn
            .request(method.clone(), path_and_query, body.clone(), timeout)
            .await
        {
            Ok(r) => return Ok(r),
            Err(e) if start.elapsed() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parses_urls() {
        let e = Endpoint::parse("http://127.0.0.1:36789/api/dtmsvr/")
            .await
            .expect("ok");
        assert_eq!(e.addr.port(), 36789);
        assert_eq!(e.base, "/api/dtmsvr");
        assert_eq!(e.path("/submit"), "/api/dtmsvr/submit");
        let e = Endpoint::parse("http://127.0.0.1").await.expect("ok");
        assert_eq!((e.addr.port(), e.base.as_str()), (80, ""));
        assert!(Endpoint::parse("https://x").await.is_err());
    }
}
