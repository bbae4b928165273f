//! Plain `http://` branch calls over pooled HTTP/1.1 keep-alive connections.
//!
//! The general client (reqwest) re-parses every URL, runs redirect and retry layers and
//! boxes several futures per call; at thousands of calls per second that was the largest
//! part of a saga's CPU. This path sends to the URL's host and path as written, keeps idle
//! connections per `host:port`, and leaves anything unusual to the general client (see
//! [`PlainTarget::parse`]).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderMap, HeaderValue, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Idle connections kept per `host:port`.
const MAX_IDLE_PER_HOST: usize = 1024;
/// An idle connection older than this is closed instead of reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often idle connections of every host are checked for age.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// Where a plain-HTTP call goes: the pool key, the address to connect to, and the
/// request target.
#[derive(Debug, PartialEq, Eq)]
pub struct PlainTarget<'a> {
    /// `host[:port]` as written: the pool key and the `Host` header.
    pub authority: &'a str,
    pub host: &'a str,
    pub port: u16,
    /// The path and query (`/` when the URL has no path).
    pub path_and_query: &'a str,
}

impl<'a> PlainTarget<'a> {
    /// The target of `url` when the URL standard would send it exactly as written: an
    /// `http://` URL without user info or fragment, a DNS name or dotted-quad IPv4 host,
    /// and a path and query of characters that are never re-encoded, without dot
    /// segments. Anything else (`https://`, IPv6, numbers the standard reads as IPv4,
    /// unusual characters) is `None` and goes through the general client.
    pub fn parse(url: &'a str) -> Option<PlainTarget<'a>> {
        let rest = url.strip_prefix("http://")?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(end);
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, parse_port(p)?),
            None => (authority, 80),
        };
        if !plain_host(host) || !plain_path_and_query(path_and_query) {
            return None;
        }
        let path_and_query = if path_and_query.is_empty() {
            "/"
        } else {
            path_and_query
        };
        Some(PlainTarget {
            authority,
            host,
            port,
            path_and_query,
        })
    }
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok().filter(|&port| port != 0)
}

/// A lowercase DNS name whose last label is not numeric, or a dotted-quad IPv4 address.
fn plain_host(host: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
        return false;
    }
    let last = host.rsplit('.').next().unwrap_or_default();
    if !last.bytes().all(|b| b.is_ascii_digit()) && !last.starts_with("0x") {
        return !host.split('.').any(|l| l.starts_with("xn--"));
    }
    let octet =
        |l: &str| l.len() <= 3 && (l == "0" || !l.starts_with('0')) && l.parse::<u8>().is_ok();
    host.split('.').count() == 4 && host.split('.').all(octet)
}

/// Only characters the URL standard keeps as they are, `%` only before two hex digits, and
/// no `.` or `..` path segment (also spelled `%2e`).
fn plain_path_and_query(s: &str) -> bool {
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !hex(i + 1) || !hex(i + 2) {
                return false;
            }
        } else if !KEPT[usize::from(b)] {
            return false;
        }
    }
    // Every segment follows a `/`; only one starting with `.` or `%2` can be a dot segment.
    let path = s.split('?').next().unwrap_or_default();
    let suspect = path.contains("/.") || path.contains("/%2");
    !suspect || !path.split('/').any(dot_segment)
}

/// The bytes of a path or query the URL standard never re-encodes (besides `%`).
const KEPT: [bool; 256] = {
    let mut kept = [false; 256];
    let extra = b"-._~/?=&:@+,;!*()$";
    let mut i = 0;
    while i < extra.len() {
        kept[extra[i] as usize] = true;
        i += 1;
    }
    let mut b = 0;
    while b < 128 {
        kept[b] = (b as u8).is_ascii_alphanumeric() || kept[b];
        b += 1;
    }
    kept
};

/// `.` or `..`, each dot possibly written `%2e` (the text is ASCII).
fn dot_segment(seg: &str) -> bool {
    let (mut rest, mut dots) = (seg, 0);
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
        } else if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case("%2e") {
            rest = &rest[3..];
        } else {
            return false;
        }
        dots += 1;
    }
    dots == 1 || dots == 2
}

/// A reply read from a branch: status, the first bytes of the body, and the `Location`
/// header of a redirect.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub location: Option<String>,
}

impl Reply {
    /// A reply with `status` and the `Location` of `headers`, its body still to be read.
    pub fn of(status: u16, headers: &HeaderMap) -> Reply {
        let location = headers
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Reply {
            status,
            body: Vec::new(),
            location,
        }
    }

    /// Appends `data` to the body up to `max` bytes; false once the body is full.
    pub fn take(&mut self, data: &[u8], max: usize) -> bool {
        let room = max.saturating_sub(self.body.len());
        self.body.extend_from_slice(&data[..data.len().min(room)]);
        self.body.len() < max
    }
}

struct Idle {
    sender: SendRequest<Full<Bytes>>,
    since: Instant,
}

#[derive(Default)]
struct Hosts {
    idle: HashMap<String, Vec<Idle>>,
    pruned: Option<Instant>,
}

/// Idle keep-alive connections per `host:port`, shared by all branch calls.
#[derive(Default)]
pub struct HttpPool {
    hosts: Mutex<Hosts>,
}

impl HttpPool {
    /// Sends one request to `target` and reads at most `max_body` bytes of the reply. The
    /// connection goes back to the pool when its reply was read to the end.
    pub async fn send(
        &self,
        target: &PlainTarget<'_>,
        method: Method,
        headers: &HeaderMap,
        body: Bytes,
        max_body: usize,
    ) -> Result<Reply, String> {
        let request = build_request(target, method, headers, body)?;
        let (sender, response) = self.dispatch(target, request).await?;
        let mut reply = Reply::of(response.status().as_u16(), response.headers());
        let mut incoming = response.into_body();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| format!("reading the reply: {e}"))?;
            if let Ok(data) = frame.into_data() {
                if !reply.take(&data, max_body) {
                    break;
                }
            }
        }
        // Read to the end, the connection can carry the next call. It may not have
        // finished this exchange yet: a call that finds it busy gets its request back
        // unsent and takes another connection.
        if hyper::body::Body::is_end_stream(&incoming) && !sender.is_closed() {
            self.check_in(target.authority, sender);
        }
        Ok(reply)
    }

    /// Sends `request` on an idle connection, or on a new one when none is idle or the
    /// idle ones turn out closed before the request went out.
    async fn dispatch(
        &self,
        target: &PlainTarget<'_>,
        mut request: Request<Full<Bytes>>,
    ) -> Result<
        (
            SendRequest<Full<Bytes>>,
            hyper::Response<hyper::body::Incoming>,
        ),
        String,
    > {
        while let Some(mut sender) = self.check_out(target.authority) {
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((sender, response)),
                Err(mut e) => match e.take_message() {
                    // Never sent: try the next connection.
                    Some(unsent) => request = unsent,
                    None => return Err(e.into_error().to_string()),
                },
            }
        }
        let mut sender = connect(target).await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        Ok((sender, response))
    }

    fn check_out(&self, authority: &str) -> Option<SendRequest<Full<Bytes>>> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        let idle = hosts.idle.get_mut(authority)?;
        while let Some(conn) = idle.pop() {
            if !conn.sender.is_closed() && conn.since.elapsed() < IDLE_TIMEOUT {
                return Some(conn.sender);
            }
        }
        None
    }

    fn check_in(&self, authority: &str, sender: SendRequest<Full<Bytes>>) {
        let now = Instant::now();
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if hosts.pruned.map_or(true, |at| now - at >= PRUNE_EVERY) {
            hosts.pruned = Some(now);
            hosts.idle.retain(|_, idle| {
                idle.retain(|c| !c.sender.is_closed() && now - c.since < IDLE_TIMEOUT);
                !idle.is_empty()
            });
        }
        let idle = match hosts.idle.get_mut(authority) {
            Some(idle) => idle,
            None => hosts.idle.entry(authority.to_string()).or_default(),
        };
        if idle.len() < MAX_IDLE_PER_HOST {
            idle.push(Idle { sender, since: now });
        }
    }
}

fn build_request(
    target: &PlainTarget<'_>,
    method: Method,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, String> {
    let uri = Uri::try_from(target.path_and_query).map_err(|e| format!("invalid url: {e}"))?;
    let host = HeaderValue::from_str(target.authority).map_err(|e| format!("invalid host: {e}"))?;
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let h = request.headers_mut();
    h.reserve(headers.len() + 1);
    h.insert(HOST, host);
    for (name, value) in headers {
        h.insert(name, value.clone());
    }
    Ok(request)
}

/// Opens a connection to `target` (TCP_NODELAY) and runs its HTTP/1.1 state machine in a
/// task of its own.
async fn connect(target: &PlainTarget<'_>) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect((target.host, target.port))
        .await
        .map_err(|e| format!("connect to {}: {e}", target.authority))?;
    // With nothing listening on a local port in the ephemeral range, a connection attempt
    // can get that same port as its source and connect to itself (TCP simultaneous open).
    if let (Ok(local), Ok(peer)) = (stream.local_addr(), stream.peer_addr()) {
        if local == peer {
            return Err(format!(
                "connect to {}: connected to itself (nothing listens there)",
                target.authority
            ));
        }
    }
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("branch connection closed: {e}");
        }
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls_are_taken_as_written() {
        let t = PlainTarget::parse("http://127.0.0.1:8082/api/busi/TransOut?gid=a&op=action")
            .expect("plain");
        assert_eq!(t.authority, "127.0.0.1:8082");
        assert_eq!((t.host, t.port), ("127.0.0.1", 8082));
        assert_eq!(t.path_and_query, "/api/busi/TransOut?gid=a&op=action");
        let t = PlainTarget::parse("http://busi.example").expect("plain");
        assert_eq!(
            (t.host, t.port, t.path_and_query),
            ("busi.example", 80, "/")
        );
        let t = PlainTarget::parse("http://busi?x=%2Fy").expect("plain");
        assert_eq!(t.path_and_query, "?x=%2Fy");
        let t = PlainTarget::parse("http://busi/a/.../b.c?x=..").expect("plain");
        assert_eq!(t.path_and_query, "/a/.../b.c?x=..");
    }

    #[test]
    fn urls_the_standard_would_rewrite_go_to_the_general_client() {
        for url in [
            "https://busi/x",
            "http://user:pw@busi/x",
            "http://busi/x#frag",
            "http://[::1]:80/x",
            "http://Busi/x",
            "http://127.1/x",
            "http://0x7f.0.0.1/x",
            "http://1.2.3.256/x",
            "http://01.2.3.4/x",
            "http://xn--bcher-kva.example/x",
            "http://busi:/x",
            "http://busi:0/x",
            "http://busi:70000/x",
            "http://busi/a/../b",
            "http://busi/a/%2E/b",
            "http://busi/a/.%2e",
            "http://busi/a b",
            "http://busi/a\\b",
            "http://busi/x?q='",
            "http://busi/x?q=%zz",
            "http://busi/caf\u{e9}",
            "http://a..b/x",
        ] {
            assert_eq!(PlainTarget::parse(url), None, "{url}");
        }
    }
}
