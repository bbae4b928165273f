//! Calls branches (PROTOCOL.md §1.5, §2.5) and maps their replies to outcomes (§1.6).

use super::allowlist::Allowlist;
use super::grpc_caller::GrpcCaller;
use super::http_pool::{HttpPool, PlainTarget, Reply};
use crate::store::{BranchRow, TransRow};
use crate::trace::TraceContext;
use bytes::Bytes;
use dtmx::{Outcome, Protocol, TransType};
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE, PROXY_AUTHORIZATION,
    WWW_AUTHENTICATE,
};
use reqwest::Method;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Most bytes of a branch reply that are read (enough for the result words).
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// Most redirects followed for one call (reqwest's default).
const MAX_REDIRECTS: usize = 10;

/// One call of a branch URL.
pub struct BranchCall<'a> {
    pub url: &'a str,
    /// The payload, shared with the stored row (sent without a copy).
    pub body: Bytes,
    pub branch_id: &'a str,
    pub op: &'a str,
}

impl<'a> BranchCall<'a> {
    /// The call of a stored branch row.
    pub fn of(branch: &'a BranchRow) -> Self {
        BranchCall {
            url: &branch.url,
            body: branch.bin_data.clone(),
            branch_id: &branch.branch_id,
            op: &branch.op,
        }
    }
}

/// Calls branch services over pooled keep-alive connections (HTTP/1.1 for HTTP and
/// JSON-RPC, one HTTP/2 connection per target for gRPC).
#[derive(Clone)]
pub struct BranchCaller {
    /// The general client: TLS, proxies, and URLs the pool does not take as written.
    http: reqwest::Client,
    /// Keep-alive connections of plain `http://` calls; `None` when the environment sets a
    /// proxy, which only the general client honours.
    plain: Option<Arc<HttpPool>>,
    grpc: Arc<GrpcCaller>,
    default_timeout: Duration,
    /// Hosts branch calls may go to (`BranchHostAllowlist`; empty: any).
    allowlist: Arc<Allowlist>,
}

/// True when `url` of `trans` is called over gRPC: the transaction's protocol is not
/// `http` and the URL is not an http(s) URL (PROTOCOL.md §1.5).
pub fn is_grpc(trans: &TransRow, url: &str) -> bool {
    trans.protocol != Protocol::Http.as_str() && !is_http_url(url)
}

fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

impl BranchCaller {
    /// A caller whose calls time out after `default_timeout` unless a transaction says
    /// otherwise, and only go to hosts of `allowlist` (when it is set), redirects included.
    pub fn new(default_timeout: Duration, allowlist: Allowlist) -> Self {
        // Redirects are followed by `exchange`, for the pool and this client alike.
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1024)
            .pool_idle_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        BranchCaller {
            http,
            plain: (!proxy_in_env()).then(Arc::default),
            grpc: Arc::new(GrpcCaller::default()),
            default_timeout,
            allowlist: Arc::new(allowlist),
        }
    }

    /// Posts a JSON body to `url` (the alert webhook), following redirects as branch calls
    /// do; any final status other than 2xx is an error.
    pub async fn post_json(&self, url: &str, body: String) -> Result<(), String> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let exchange = self.exchange(url, Method::POST, headers, Bytes::from(body));
        let (status, _) = tokio::time::timeout(self.default_timeout, exchange)
            .await
            .map_err(|_| format!("no reply within {} s", self.default_timeout.as_secs_f64()))??;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("status {status}"))
        }
    }

    /// Calls `call` for transaction `trans` and returns its outcome, with the HTTP
    /// status or gRPC code when the branch answered. An empty URL succeeds without a
    /// call. `trace` is sent as `traceparent` (and `tracestate`) unless the transaction's
    /// own headers name one.
    pub async fn call(
        &self,
        trans: &TransRow,
        call: BranchCall<'_>,
        trace: Option<&TraceContext>,
    ) -> (Outcome, Option<i64>) {
        if call.url.is_empty() {
            return (Outcome::Success, None);
        }
        let grpc = is_grpc(trans, call.url);
        // Defence in depth: a transaction stored before the list was set (or by a server
        // with another list) is not called; the refusal is an error, retried with backoff
        // like an unreachable branch, so fixing the list lets it finish.
        if let Err(why) = self.allowlist.check(call.url, grpc) {
            tracing::warn!(gid = trans.gid, "{why}");
            return (Outcome::Unknown(why), None);
        }
        let trace = trace_headers(trace);
        if grpc {
            return self.call_grpc(trans, &call, &trace).await;
        }
        let json_rpc = trans.protocol == Protocol::JsonRpc.as_str() && call.url.contains("method");
        let result = if json_rpc {
            self.call_json_rpc(trans, &call, &trace).await
        } else {
            self.call_http(trans, &call, &trace).await
        };
        match result {
            Ok((outcome, status)) => (outcome, Some(status.into())),
            Err(e) => (
                Outcome::Unknown(format!("call {} failed: {e}", call.url)),
                None,
            ),
        }
    }

    async fn call_http(
        &self,
        trans: &TransRow,
        call: &BranchCall<'_>,
        trace: &[(&'static str, String)],
    ) -> Result<(Outcome, u16), String> {
        let url = with_branch_query(
            call.url,
            &[
                ("gid", &trans.gid),
                ("trans_type", trans.trans_type.as_str()),
                ("branch_id", call.branch_id),
                ("op", call.op),
            ],
        );
        let post = !call.body.is_empty() || trans.trans_type == TransType::Xa;
        let method = if post { Method::POST } else { Method::GET };
        let (status, body) = self
            .send(trans, &url, method, call.body.clone(), trace)
            .await?;
        Ok((Outcome::from_http(status, &body), status))
    }

    /// A gRPC branch call: the payload as the raw request message, the branch identity as
    /// `dtm-*` metadata (`dtm-dtm` empty), then the trace context, then legacy `ext_data`
    /// headers and `branch_headers` as metadata (PROTOCOL.md §2.4-2.5); a later key
    /// replaces an earlier one.
    async fn call_grpc(
        &self,
        trans: &TransRow,
        call: &BranchCall<'_>,
        trace: &[(&'static str, String)],
    ) -> (Outcome, Option<i64>) {
        let legacy = legacy_headers(&trans.ext_data);
        let mut metadata: Vec<(&str, &str)> = vec![
            ("dtm-gid", &trans.gid),
            ("dtm-trans_type", trans.trans_type.as_str()),
            ("dtm-branch_id", call.branch_id),
            ("dtm-op", call.op),
            ("dtm-dtm", ""),
        ];
        metadata.extend(trace.iter().map(|(k, v)| (*k, v.as_str())));
        metadata.extend(
            legacy
                .iter()
                .chain(trans.options.branch_headers.iter())
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        self.grpc
            .call(
                call.url,
                call.body.clone(),
                &metadata,
                self.timeout_of(trans),
            )
            .await
    }

    /// The branch call timeout of `trans`: its `request_timeout`, else the server's.
    fn timeout_of(&self, trans: &TransRow) -> Duration {
        match trans.options.request_timeout {
            t if t > 0 => Duration::from_secs(t as u64),
            _ => self.default_timeout,
        }
    }

    /// A JSON-RPC branch call: the payload object plus the branch's ids as `params`, the
    /// `method` query parameter of the URL as method (PROTOCOL.md §1.5-1.6).
    async fn call_json_rpc(
        &self,
        trans: &TransRow,
        call: &BranchCall<'_>,
        trace: &[(&'static str, String)],
    ) -> Result<(Outcome, u16), String> {
        let url = reqwest::Url::parse(call.url).map_err(|e| format!("invalid url: {e}"))?;
        let method = url
            .query_pairs()
            .find(|(k, _)| k == "method")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let mut params = match serde_json::from_slice::<serde_json::Value>(&call.body) {
            Ok(serde_json::Value::Object(map)) => map,
            _ if call.body.is_empty() => serde_json::Map::new(),
            _ => return Err("a json-rpc branch payload must be a JSON object".into()),
        };
        for (k, v) in [
            ("gid", trans.gid.as_str()),
            ("trans_type", trans.trans_type.as_str()),
            ("branch_id", call.branch_id),
            ("op", call.op),
        ] {
            params.insert(k.into(), v.into());
        }
        let body = serde_json::json!({
            "params": params,
            "jsonrpc": "2.0",
            "method": method,
            "id": format!("{:x}", rand::random::<u64>()),
        });
        let body = Bytes::from(body.to_string());
        let (status, body) = self
            .send(trans, call.url, Method::POST, body, trace)
            .await?;
        let outcome = match Outcome::from_http(status, &body) {
            Outcome::Success => json_rpc_outcome(&body),
            other => other,
        };
        Ok((outcome, status))
    }

    /// Sends a branch request with DTM's headers within the transaction's timeout;
    /// returns the status and the first bytes of the reply.
    async fn send(
        &self,
        trans: &TransRow,
        url: &str,
        method: Method,
        body: Bytes,
        trace: &[(&'static str, String)],
    ) -> Result<(u16, Vec<u8>), String> {
        let headers = request_headers(trans, trace)?;
        let timeout = self.timeout_of(trans);
        match tokio::time::timeout(timeout, self.exchange(url, method, headers, body)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no reply within {} s", timeout.as_secs_f64())),
        }
    }

    /// One request and the redirects it leads to, each hop sent through the pool when the
    /// pool takes its URL as written, else through the general client.
    async fn exchange(
        &self,
        url: &str,
        mut method: Method,
        mut headers: HeaderMap,
        mut body: Bytes,
    ) -> Result<(u16, Vec<u8>), String> {
        let mut url = url.to_string();
        for hop in 0..=MAX_REDIRECTS {
            let reply = match self.plain.as_ref().zip(PlainTarget::parse(&url)) {
                Some((pool, target)) => {
                    let (m, b) = (method.clone(), body.clone());
                    pool.send(&target, m, &headers, b, MAX_REPLY_BYTES).await?
                }
                None => {
                    let (m, h, b) = (method.clone(), headers.clone(), body.clone());
                    self.send_general(&url, m, h, b).await?
                }
            };
            let Some((from, next)) = redirect_target(reply.status, reply.location.as_deref(), &url)
            else {
                return Ok((reply.status, reply.body));
            };
            if hop == MAX_REDIRECTS {
                return Err(format!("{url}: too many redirects"));
            }
            if let Err(host) = self.allowlist.check_url(&next) {
                return Err(format!(
                    "redirect refused: host {host} is not in BranchHostAllowlist"
                ));
            }
            if reply.status == 303 || (matches!(reply.status, 301 | 302) && method == Method::POST)
            {
                method = Method::GET;
                body = Bytes::new();
                headers.remove(CONTENT_TYPE);
            }
            // Credentials do not follow a redirect to another host (as in reqwest and Go).
            if (next.host_str(), next.port_or_known_default())
                != (from.host_str(), from.port_or_known_default())
            {
                for name in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, WWW_AUTHENTICATE] {
                    headers.remove(name);
                }
            }
            url = next.to_string();
        }
        Err(format!("{url}: too many redirects"))
    }

    /// One request through the general client (reqwest): TLS, proxies from the
    /// environment, and URLs the pool does not take as written.
    async fn send_general(
        &self,
        url: &str,
        method: Method,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Reply, String> {
        let post = method == Method::POST;
        let mut req = self.http.request(method, url).headers(headers);
        if post {
            req = req.body(body);
        }
        let mut resp = req.send().await.map_err(|e| e.to_string())?;
        let mut reply = Reply::of(resp.status().as_u16(), resp.headers());
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            if !reply.take(&chunk, MAX_REPLY_BYTES) {
                break;
            }
        }
        Ok(reply)
    }
}

/// `url` with the branch's identity appended to its query string (before any fragment),
/// form-encoded as the URL standard does.
fn with_branch_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let (base, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let mut out = String::with_capacity(url.len() + 64);
    out.push_str(base);
    match base.find('?') {
        None => out.push('?'),
        Some(i) if i + 1 == base.len() => {}
        Some(_) => out.push('&'),
    }
    for (n, (k, v)) in pairs.iter().enumerate() {
        if n > 0 {
            out.push('&');
        }
        out.extend(url::form_urlencoded::byte_serialize(k.as_bytes()));
        out.push('=');
        out.extend(url::form_urlencoded::byte_serialize(v.as_bytes()));
    }
    out.push_str(fragment);
    out
}

/// Where a redirect reply sends the request next: its `Location` read against `url`, for
/// the statuses that redirect (301, 302, 303, 307, 308), with `url` parsed. `None` for any other reply, and
/// for a redirect without a usable `Location` (that reply is the result).
fn redirect_target(status: u16, location: Option<&str>, url: &str) -> Option<(url::Url, url::Url)> {
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let from = url::Url::parse(url).ok()?;
    let next = from.join(location?).ok()?;
    matches!(next.scheme(), "http" | "https").then_some((from, next))
}

/// DTM's headers of a branch request: content type, then the trace context, then legacy
/// `ext_data` headers, then `branch_headers`; a later value replaces an earlier one of the
/// same name (PROTOCOL.md §1.5).
fn request_headers(
    trans: &TransRow,
    trace: &[(&'static str, String)],
) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (k, v) in trace {
        if let Ok(v) = HeaderValue::from_str(v) {
            headers.insert(*k, v);
        }
    }
    let legacy = legacy_headers(&trans.ext_data);
    for (k, v) in legacy.iter().chain(trans.options.branch_headers.iter()) {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| format!("invalid header name {k:?}: {e}"))?;
        let value =
            HeaderValue::from_str(v).map_err(|e| format!("invalid value of header {k}: {e}"))?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// True when the environment names a proxy for plain-HTTP calls (the variables reqwest,
/// like Go, reads).
fn proxy_in_env() -> bool {
    ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// Maps the `error` member of a JSON-RPC reply: -32901 failure, -32902 ongoing, any other
/// error unknown, none success.
fn json_rpc_outcome(body: &[u8]) -> Outcome {
    let reply: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Outcome::Unknown(format!("invalid json-rpc reply: {e}")),
    };
    match reply.get("error") {
        None | Some(serde_json::Value::Null) => Outcome::Success,
        Some(err) => {
            let text = err.to_string();
            match err.get("code").and_then(serde_json::Value::as_i64) {
                Some(-32901) => Outcome::Failure(text),
                Some(-32902) => Outcome::Ongoing(text),
                _ => Outcome::Unknown(text),
            }
        }
    }
}

/// The `traceparent` and `tracestate` (if any) headers of `trace`.
fn trace_headers(trace: Option<&TraceContext>) -> Vec<(&'static str, String)> {
    let Some(t) = trace else { return Vec::new() };
    let mut headers = vec![("traceparent", t.traceparent())];
    if let Some(state) = &t.tracestate {
        headers.push(("tracestate", state.clone()));
    }
    headers
}

/// Posts a JSON body to `url` with `client` within `timeout`; any non-2xx status is an
/// error.
pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: String,
    timeout: Duration,
) -> Result<(), String> {
    let resp = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("status {}", resp.status()))
    }
}

/// Headers captured by DTM before August 2022 in `ext_data` (`{"headers":{...}}`).
fn legacy_headers(ext_data: &str) -> BTreeMap<String, String> {
    #[derive(serde::Deserialize)]
    struct Ext {
        #[serde(default)]
        headers: BTreeMap<String, String>,
    }
    if ext_data.is_empty() {
        return BTreeMap::new();
    }
    serde_json::from_str::<Ext>(ext_data)
        .map(|e| e.headers)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_rpc_codes() {
        assert_eq!(json_rpc_outcome(br#"{"error":null}"#), Outcome::Success);
        assert!(matches!(
            json_rpc_outcome(br#"{"error":{"code":-32901,"message":"x"}}"#),
            Outcome::Failure(_)
        ));
        assert!(matches!(
            json_rpc_outcome(br#"{"error":{"code":-32902}}"#),
            Outcome::Ongoing(_)
        ));
        assert!(matches!(
            json_rpc_outcome(br#"{"error":{"code":-32603}}"#),
            Outcome::Unknown(_)
        ));
        assert!(matches!(json_rpc_outcome(b"nope"), Outcome::Unknown(_)));
    }

    #[test]
    fn reads_legacy_headers() {
        assert!(legacy_headers("").is_empty());
        assert_eq!(
            legacy_headers(r#"{"headers":{"a":"b"}}"#)["a"],
            "b".to_string()
        );
        assert!(legacy_headers("garbage").is_empty());
        let traced = r#"{"headers":{"a":"b"},"trace":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}"#;
        assert_eq!(legacy_headers(traced).len(), 1);
        assert!(legacy_headers(r#"{"trace":{"traceparent":"x"}}"#).is_empty());
    }
}
