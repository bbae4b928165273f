//! [`Client`]: a validated handle on one DTM server that makes the core's builders with the
//! facade's defaults (a local gid when none is given, validated options).

use crate::error::{invalid, Result};
use crate::options::Options;
use dtmx::rm::Branch;
use dtmx::tm::{Client as CoreClient, Msg, Saga, Tcc, Xa};
use dtmx::Transport;
use std::sync::Arc;

/// A DTM server and the transport to reach it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    inner: CoreClient,
}

impl Client {
    /// A client of `server` (`http(s)://host:port/api/dtmsvr`) over the reqwest transport.
    pub fn new(server: &str) -> Result<Client> {
        check_server(server)?;
        Ok(Client {
            inner: CoreClient::http(server),
        })
    }

    /// A client of `server` sending through `transport` (a host's own HTTP client).
    pub fn with_transport(server: &str, transport: Arc<dyn Transport>) -> Result<Client> {
        check_server(server)?;
        Ok(Client {
            inner: CoreClient::new(server, transport),
        })
    }

    /// The same client sending `Authorization: Bearer <token>` on every request to the
    /// server (not to branches), for servers with authentication on. The token must be
    /// non-empty, without whitespace or control characters.
    pub fn with_token(self, token: &str) -> Result<Client> {
        check_token(token)?;
        Ok(Client {
            inner: self.inner.with_token(token),
        })
    }

    /// The core client, for everything the facade does not wrap (queries, raw requests).
    pub fn dtm(&self) -> &CoreClient {
        &self.inner
    }

    /// The server URL.
    pub fn server(&self) -> &str {
        self.inner.server()
    }

    /// `gid` if given and not empty, else a new locally unique gid.
    pub fn gid_or_local(&self, gid: Option<&str>) -> String {
        match gid {
            Some(g) if !g.is_empty() => g.to_string(),
            _ => self.inner.local_gid(),
        }
    }

    /// A saga with `gid` (or a local one) and `options`.
    pub fn saga(&self, gid: Option<&str>, options: &Options) -> Result<Saga> {
        let mut t = self.inner.saga(self.gid_or_local(gid));
        options.apply(t.options_mut())?;
        Ok(t)
    }

    /// A two-phase message with `gid` (or a local one) and `options`.
    pub fn msg(&self, gid: Option<&str>, options: &Options) -> Result<Msg> {
        let mut t = self.inner.msg(self.gid_or_local(gid));
        options.apply(t.options_mut())?;
        Ok(t)
    }

    /// A TCC global transaction with `gid` (or a local one) and `options`.
    pub fn tcc(&self, gid: Option<&str>, options: &Options) -> Result<Tcc> {
        let mut t = self.inner.tcc(self.gid_or_local(gid));
        options.apply(t.options_mut())?;
        Ok(t)
    }

    /// An XA global transaction with `gid` (or a local one) and `options`.
    pub fn xa(&self, gid: Option<&str>, options: &Options) -> Result<Xa> {
        let mut t = self.inner.xa(self.gid_or_local(gid));
        options.apply(t.options_mut())?;
        Ok(t)
    }

    /// A TCC nested in the branch that `branch` (a try request's query) describes.
    pub fn tcc_from_branch(&self, branch: &Branch) -> Result<Tcc> {
        self.inner.tcc_from_branch(branch)
    }
}

fn check_server(server: &str) -> Result<()> {
    let rest = server
        .strip_prefix("http://")
        .or_else(|| server.strip_prefix("https://"))
        .ok_or_else(|| invalid(format!("server must be an http(s) URL, got {server:?}")))?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return Err(invalid(format!("server URL has no host: {server:?}")));
    }
    Ok(())
}

/// A bearer token fit for an `Authorization` header: non-empty, printable, no whitespace.
/// The server's own rules (16 characters or more of `[A-Za-z0-9-._~+/=]`) are left to the
/// server, which answers 401 for a token it does not know.
pub fn check_token(token: &str) -> Result<()> {
    if token.is_empty() {
        return Err(invalid("token must not be empty"));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "token must not contain whitespace or control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_and_defaults() {
        assert!(Client::new("http://127.0.0.1:36789/api/dtmsvr").is_ok());
        for bad in [
            "",
            "127.0.0.1:36789",
            "ftp://x",
            "http://",
            "http:///x",
            "http://a b",
        ] {
            assert!(Client::new(bad).is_err(), "{bad}");
        }
        let c = Client::new("https://dtm/api/dtmsvr/").expect("valid");
        assert_eq!(c.server(), "https://dtm/api/dtmsvr");
        assert_eq!(c.gid_or_local(Some("g1")), "g1");
        assert_eq!(c.gid_or_local(Some("")).len(), 22);
        let saga = c
            .saga(
                None,
                &Options {
                    wait_result: Some(true),
                    ..Default::default()
                },
            )
            .expect("saga");
        assert!(saga.options().wait_result);
        assert_eq!(saga.gid().len(), 22);
    }

    #[test]
    fn tokens() {
        use dtmx::ErrorKind;
        let c = Client::new("http://dtm/api/dtmsvr").expect("valid");
        let t = c
            .clone()
            .with_token("t0k3n-0123456789abcdef")
            .expect("token");
        let req = t.dtm().dtm_request("submit", vec![], 3);
        assert_eq!(
            req.header("Authorization"),
            Some("Bearer t0k3n-0123456789abcdef")
        );
        assert_eq!(
            c.dtm()
                .dtm_request("submit", vec![], 3)
                .header("Authorization"),
            None
        );
        for bad in [
            "",
            "a b",
            "tok\n",
            "tok\r\nX-Evil: 1",
            "\ttok",
            "tok\u{0}",
            "tok\u{7f}",
            "tok\u{a0}",
        ] {
            let e = c.clone().with_token(bad).expect_err(bad);
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        }
    }
}
