//! [`Client`]: the DTM server's address plus the transport, clock and sleeper every
//! builder sends through; and how the replies of dtm and of branches map to errors.

use super::gid::GidGenerator;
use super::{Msg, Saga, Tcc, Xa};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{DtmResult, TransStatus};
use crate::rm::Branch;
use crate::transport::{
    default_clock, default_sleeper, encode_query, Clock, HttpRequest, HttpResponse, Sleeper,
    Transport,
};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A handle on one DTM server: its base URL (`http://host:36789/api/dtmsvr`) and the
/// transport, clock and sleeper to reach it. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Client {
    server: String,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    sleeper: Option<Arc<dyn Sleeper>>,
    gids: Arc<GidGenerator>,
    /// `Authorization` value sent to the server (`Bearer <token>`), when set.
    authorization: Option<Arc<str>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the server at `server` (e.g. `http://localhost:36789/api/dtmsvr`; a
    /// trailing `/` is removed) sending through `transport`, with the target's default
    /// clock and sleeper.
    pub fn new(server: impl Into<String>, transport: Arc<dyn Transport>) -> Client {
        let clock = default_clock();
        let gids = Arc::new(GidGenerator::new(clock.as_ref()));
        Client {
            server: trim_server(server.into()),
            transport,
            clock,
            sleeper: default_sleeper(),
            gids,
            authorization: None,
        }
    }

    /// A client over HTTP with reqwest (feature `client`).
    #[cfg(feature = "client")]
    pub fn http(server: impl Into<String>) -> Client {
        Client::new(
            server,
            Arc::new(crate::transport::ReqwestTransport::default()),
        )
    }

    /// The same client with another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Client {
        self.clock = clock;
        self
    }

    /// The same client with another sleeper.
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Client {
        self.sleeper = Some(sleeper);
        self
    }

    /// The same client with another gid generator.
    pub fn with_gid_generator(mut self, gids: GidGenerator) -> Client {
        self.gids = Arc::new(gids);
        self
    }

    /// The same client sending `Authorization: Bearer <token>` with every request to the
    /// server (for a dtmx server with authentication on; branch calls are not affected).
    pub fn with_token(mut self, token: &str) -> Client {
        self.authorization = Some(format!("Bearer {token}").into());
        self
    }

    /// The same transport, clock and sleeper, another server (a nested TCC uses the server
    /// its parent's request names).
    pub fn with_server(&self, server: impl Into<String>) -> Client {
        let mut c = self.clone();
        c.server = trim_server(server.into());
        c
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The transport.
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// A new saga with this gid.
    pub fn saga(&self, gid: impl Into<String>) -> Saga {
        Saga::new(self.clone(), gid)
    }

    /// A new two-phase message with this gid.
    pub fn msg(&self, gid: impl Into<String>) -> Msg {
        Msg::new(self.clone(), gid)
    }

    /// A new TCC global transaction with this gid.
    pub fn tcc(&self, gid: impl Into<String>) -> Tcc {
        Tcc::new(self.clone(), gid)
    }

    /// A nested TCC inside the branch that `branch` describes (the query of a try call:
    /// `dtm`, `gid`, `branch_id`, `trans_type`): its branches are `<branch_id>01`, ...,
    /// registered with the server the request names, through this client's transport.
    pub fn tcc_from_branch(&self, branch: &Branch) -> Result<Tcc> {
        Tcc::nested(self, branch)
    }

    /// A new XA global transaction with this gid.
    pub fn xa(&self, gid: impl Into<String>) -> Xa {
        Xa::new(self.clone(), gid)
    }

    /// A `POST {server}/{operation}` of a JSON `body`.
    pub fn dtm_request(&self, operation: &str, body: Vec<u8>, timeout_secs: i64) -> HttpRequest {
        let mut req = HttpRequest::post_json(format!("{}/{operation}", self.server), body);
        req.timeout = seconds(timeout_secs);
        self.authorized(req)
    }

    /// A `GET {server}/{route}` (with its query string).
    fn dtm_get(&self, route: &str) -> HttpRequest {
        self.authorized(HttpRequest::get(format!("{}/{route}", self.server)))
    }

    /// `req` with the client's `Authorization` header, if it has a token.
    fn authorized(&self, mut req: HttpRequest) -> HttpRequest {
        if let Some(value) = &self.authorization {
            req.headers
                .push(("Authorization".into(), value.to_string()));
        }
        req
    }

    /// Sends `request` as is (no reply checking).
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse> {
        self.transport.send(request).await
    }

    /// Sends a request to dtm and checks the reply with [`check_server_reply`].
    pub async fn call_dtm(&self, request: HttpRequest) -> Result<HttpResponse> {
        let reply = self.transport.send(request).await?;
        check_server_reply(reply.status, &reply.body)?;
        Ok(reply)
    }

    /// Submits a transaction: `request` is its `POST /submit`. Without `wait_result` this
    /// is [`Client::call_dtm`]. With it, dtm's refusal (409, or 425 for a confirm that
    /// answered ONGOING) does not say whether the transaction rolled back or is still being
    /// retried, so the transaction is read back:
    /// * `failed`: an error of kind `failure` whose message is the rollback reason;
    /// * `succeed` (it finished meanwhile): success;
    /// * `submitted`, `aborting`, `prepared`: kind `unfinished` with the status, as also
    ///   when the status cannot be read (then without one, the read's error in a note).
    pub async fn submit(&self, request: HttpRequest, gid: &str, wait_result: bool) -> Result<()> {
        let refused = match self.call_dtm(request).await {
            Ok(_) => return Ok(()),
            Err(e)
                if wait_result && matches!(e.kind(), ErrorKind::Failure | ErrorKind::Ongoing) =>
            {
                e
            }
            Err(e) => return Err(e),
        };
        let trans = match self.query(gid).await {
            Ok(v) => v,
            Err(q) => {
                return Err(Error::new(
                    ErrorKind::Unfinished,
                    format!(
                        "{gid}: submit answered {:?}; its status is unknown",
                        refused.message()
                    ),
                )
                .with_note(format!("query failed: {q}")))
            }
        };
        let trans = &trans["transaction"];
        let reason = trans["rollback_reason"].as_str().unwrap_or_default();
        match TransStatus::parse(trans["status"].as_str().unwrap_or_default()) {
            Some(TransStatus::Succeed) => Ok(()),
            Some(TransStatus::Failed) => {
                let message = if reason.is_empty() {
                    refused.message()
                } else {
                    reason
                };
                Err(Error::new(ErrorKind::Failure, message).with_status(TransStatus::Failed))
            }
            Some(status) => {
                let mut message = format!(
                    "{gid} is not finished: status {}, dtm goes on with it",
                    status.as_str()
                );
                if !reason.is_empty() {
                    message.push_str(&format!(" (rollback reason: {reason})"));
                }
                Err(Error::new(ErrorKind::Unfinished, message).with_status(status))
            }
            None => Err(refused),
        }
    }

    /// Calls a branch the client calls itself (a TCC try, an XA action) and maps its reply
    /// with [`check_branch_reply`]; `None` (an empty URL) succeeds without a call.
    pub(crate) async fn call_branch(&self, request: Option<HttpRequest>) -> Result<HttpResponse> {
        let Some(request) = request else {
            return Ok(HttpResponse {
                status: 200,
                body: Vec::new(),
            });
        };
        let reply = self.transport.send(request).await?;
        check_branch_reply(reply.status, &reply.body)?;
        Ok(reply)
    }

    /// A gid from the server (`GET /newGid`).
    pub async fn new_gid(&self) -> Result<String> {
        let reply = self.transport.send(self.dtm_get("newGid")).await?;
        check_status(&reply)?;
        let v: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|e| {
            Error::new(
                ErrorKind::Server,
                format!("newGid: not JSON: {}", reply.text()),
            )
            .with_source(e)
        })?;
        match v.get("gid").and_then(|g| g.as_str()) {
            Some(gid) if !gid.is_empty() => Ok(gid.to_string()),
            _ => Err(Error::new(
                ErrorKind::Server,
                format!("newGid: no gid in {}", reply.text()),
            )),
        }
    }

    /// A locally unique gid (no request): see [`GidGenerator`].
    pub fn local_gid(&self) -> String {
        self.gids.next_gid(self.clock.now_millis())
    }

    /// The transaction and its branches as the server reports them (`GET /query?gid=`):
    /// `{"transaction": {..} or null, "branches": [..]}`.
    pub async fn query(&self, gid: &str) -> Result<serde_json::Value> {
        let route = format!("query?{}", encode_query(&[("gid", gid)]));
        let reply = self.transport.send(self.dtm_get(&route)).await?;
        check_status(&reply)?;
        serde_json::from_slice(&reply.body).map_err(|e| {
            Error::new(
                ErrorKind::Server,
                format!("query: not JSON: {}", reply.text()),
            )
            .with_source(e)
        })
    }

    /// The status of the transaction, `None` if the server does not know it.
    pub async fn query_status(&self, gid: &str) -> Result<Option<TransStatus>> {
        let v = self.query(gid).await?;
        let status = v["transaction"]["status"].as_str().unwrap_or_default();
        if status.is_empty() {
            return Ok(None);
        }
        TransStatus::parse(status).map(Some).ok_or_else(|| {
            Error::new(
                ErrorKind::Server,
                format!("query: unknown status {status:?}"),
            )
        })
    }

    /// Polls the status every `interval` until it is `succeed` or `failed`; an error of kind
    /// `timeout` when `timeout` passes first. Needs a sleeper.
    pub async fn wait_final(
        &self,
        gid: &str,
        timeout: Duration,
        interval: Duration,
    ) -> Result<TransStatus> {
        let sleeper = self.sleeper.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                "no sleeper: build the client with with_sleeper or the client feature",
            )
        })?;
        let deadline = self
            .clock
            .now_millis()
            .saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        let mut last = None;
        loop {
            last = self.query_status(gid).await?.or(last);
            if let Some(s) = last.filter(|s| s.is_final()) {
                return Ok(s);
            }
            if self.clock.now_millis() >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "{gid}: status {} after {timeout:?}",
                        last.map_or("unknown", |s| s.as_str())
                    ),
                ));
            }
            sleeper.sleep(interval).await;
        }
    }
}

fn trim_server(mut s: String) -> String {
    while s.ends_with('/') {
        s.pop();
    }
    s
}

/// For replies that carry data (newGid, query), whose text may contain any word: only the
/// status counts.
fn check_status(reply: &HttpResponse) -> Result<()> {
    if reply.status == 200 {
        return Ok(());
    }
    check_server_reply(reply.status, &reply.body)?;
    Err(Error::new(
        ErrorKind::Server,
        format!("http status {}: {}", reply.status, reply.text()),
    ))
}

pub(crate) fn seconds(secs: i64) -> Option<Duration> {
    u64::try_from(secs)
        .ok()
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
}

/// Checks a reply of the DTM server as DTM's SDKs do: 200 without `FAILURE` in the body is
/// success; otherwise an error whose message is the body: kind `failure` for 409 or a body
/// containing `FAILURE`, `ongoing` for 425 or a body containing `ONGOING`, `server` for
/// anything else.
pub fn check_server_reply(status: u16, body: &[u8]) -> Result<()> {
    let failure = contains(body, DtmResult::Failure.as_str());
    if status == 200 && !failure {
        return Ok(());
    }
    let text = String::from_utf8_lossy(body).into_owned();
    let kind = if status == 409 || failure {
        ErrorKind::Failure
    } else if status == 425 || contains(body, DtmResult::Ongoing.as_str()) {
        ErrorKind::Ongoing
    } else {
        ErrorKind::Server
    };
    let text = if text.is_empty() {
        format!("http status {status}")
    } else {
        text
    };
    Err(Error::new(kind, text))
}

/// Checks a branch's reply to a call the client makes itself (TCC try, XA action, msg
/// check-back) as DTM's SDKs do (PROTOCOL.md §1.6): 425 or `ONGOING` in the body is kind
/// `ongoing` with message `<body> ONGOING`; else 409 or `FAILURE` is kind `failure` with
/// `<body> FAILURE` (the suffix is not doubled); else a status other than 200 is kind
/// `server` with the body as message; else success.
pub fn check_branch_reply(status: u16, body: &[u8]) -> Result<()> {
    let text = String::from_utf8_lossy(body);
    if status == 425 || contains(body, DtmResult::Ongoing.as_str()) {
        Err(Error::new(
            ErrorKind::Ongoing,
            with_suffix(&text, DtmResult::Ongoing.as_str()),
        ))
    } else if status == 409 || contains(body, DtmResult::Failure.as_str()) {
        Err(Error::new(
            ErrorKind::Failure,
            with_suffix(&text, DtmResult::Failure.as_str()),
        ))
    } else if status != 200 {
        let text = if text.is_empty() {
            format!("http status {status}")
        } else {
            text.into_owned()
        };
        Err(Error::new(ErrorKind::Server, text))
    } else {
        Ok(())
    }
}

/// `"<text> <word>"`, without doubling a trailing `" <word>"`.
fn with_suffix(text: &str, word: &str) -> String {
    let base = text
        .strip_suffix(word)
        .and_then(|t| t.strip_suffix(' '))
        .unwrap_or(text);
    format!("{base} {word}")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(r: Result<()>) -> Option<ErrorKind> {
        r.err().map(|e| e.kind())
    }

    #[test]
    fn token_goes_to_the_server_only() {
        struct Unused;
        impl Transport for Unused {
            fn send(
                &self,
                _: HttpRequest,
            ) -> crate::transport::BoxFuture<'_, Result<HttpResponse>> {
                unreachable!("no request is sent")
            }
        }
        let plain = Client::new("http://dtm/api/dtmsvr", Arc::new(Unused));
        assert_eq!(
            plain
                .dtm_request("submit", vec![], 3)
                .header("Authorization"),
            None
        );
        let c = plain.with_token("t0k3n-0123456789abcdef");
        let post = c.dtm_request("submit", vec![], 3);
        assert_eq!(
            post.header("Authorization"),
            Some("Bearer t0k3n-0123456789abcdef")
        );
        let get = c.dtm_get("query?gid=g1");
        assert_eq!(get.url, "http://dtm/api/dtmsvr/query?gid=g1");
        assert_eq!(
            get.header("Authorization"),
            Some("Bearer t0k3n-0123456789abcdef")
        );
        let nested = c.with_server("http://other/api/dtmsvr");
        assert!(nested.dtm_get("newGid").header("Authorization").is_some());
    }

    #[test]
    fn dtm_replies() {
        assert_eq!(
            kind(check_server_reply(200, br#"{"dtm_result":"SUCCESS"}"#)),
            None
        );
        assert_eq!(kind(check_server_reply(200, b"ONGOING")), None);
        assert_eq!(
            kind(check_server_reply(200, br#"{"dtm_result":"FAILURE"}"#)),
            Some(ErrorKind::Failure)
        );
        assert_eq!(kind(check_server_reply(409, b"")), Some(ErrorKind::Failure));
        assert_eq!(kind(check_server_reply(425, b"")), Some(ErrorKind::Ongoing));
        assert_eq!(kind(check_server_reply(500, b"x")), Some(ErrorKind::Server));
    }

    #[test]
    fn branch_replies() {
        let e = check_branch_reply(409, b"no money").expect_err("failure");
        assert_eq!(e.message(), "no money FAILURE");
        let e = check_branch_reply(200, b"x FAILURE").expect_err("failure");
        assert_eq!(e.message(), "x FAILURE");
        assert_eq!(
            kind(check_branch_reply(409, b"ONGOING")),
            Some(ErrorKind::Ongoing)
        );
        assert_eq!(kind(check_branch_reply(200, b"")), None);
    }
}
