//! Calls branches (PROTOCOL.md §1.5, §2.5) and maps their replies to outcomes (§1.6).

use super::allowlist::Allowlist;
use super::grpc_caller::GrpcCaller;
use crate::store::{BranchRow, TransRow};
use crate::trace::TraceContext;
use bytes::Bytes;
use dtmx::{Outcome, Protocol, TransType};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Most bytes of a branch reply that are read (enough for the result words).
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// Most redirects followed (reqwest's default) when the allowlist sets the policy.
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
    http: reqwest::Client,
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
    /// otherwise, and only go to hosts of `allowlist` (when it is set). With a list set,
    /// redirects are followed only to listed hosts.
    pub fn new(default_timeout: Duration, allowlist: Allowlist) -> Self {
        let allowlist = Arc::new(allowlist);
        let mut builder = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(1024)
            .pool_idle_timeout(Duration::from_secs(60));
        if !allowlist.is_off() {
            let list = allowlist.clone();
            builder = builder.redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error("too many redirects");
                }
                match list.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(host) => attempt.error(format!(
                        "redirect refused: host {host} is not in BranchHostAllowlist"
                    )),
                }
            }));
        }
        let http = builder.build().unwrap_or_default();
        BranchCaller {
            http,
            grpc: Arc::new(GrpcCaller::default()),
            default_timeout,
            allowlist,
        }
    }

    /// Posts a JSON body to `url` (the alert webhook); any non-2xx status is an error.
    pub async fn post_json(&self, url: &str, body: String) -> Result<(), String> {
        post_json(&self.http, url, body, self.default_timeout).await
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
        let mut url = reqwest::Url::parse(call.url).map_err(|e| format!("invalid url: {e}"))?;
        url.query_pairs_mut()
            .append_pair("gid", &trans.gid)
            .append_pair("trans_type", trans.trans_type.as_str())
            .append_pair("branch_id", call.branch_id)
            .append_pair("op", call.op);
        let post = !call.body.is_empty() || trans.trans_type == TransType::Xa;
        let req = if post {
            self.http.post(url).body(call.body.clone())
        } else {
            self.http.get(url)
        };
        let (status, body) = self.send(trans, req, trace).await?;
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
        let req = self.http.post(url).body(body.to_string());
        let (status, body) = self.send(trans, req, trace).await?;
        let outcome = match Outcome::from_http(status, &body) {
            Outcome::Success => json_rpc_outcome(&body),
            other => other,
        };
        Ok((outcome, status))
    }

    /// Sends a branch request with DTM's headers and the transaction's timeout; returns
    /// the status and the first bytes of the reply.
    async fn send(
        &self,
        trans: &TransRow,
        mut req: reqwest::RequestBuilder,
        trace: &[(&'static str, String)],
    ) -> Result<(u16, Vec<u8>), String> {
        // Content-type, then the trace context, then legacy ext_data headers, then
        // branch_headers: a later value replaces an earlier one of the same name
        // (PROTOCOL.md §1.5).
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (k, v) in trace {
            if let Ok(v) = HeaderValue::from_str(v) {
                headers.insert(*k, v);
            }
        }
        for (k, v) in legacy_headers(&trans.ext_data)
            .iter()
            .chain(trans.options.branch_headers.iter())
        {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| format!("invalid header name {k:?}: {e}"))?;
            let value = HeaderValue::from_str(v)
                .map_err(|e| format!("invalid value of header {k}: {e}"))?;
            headers.insert(name, value);
        }
        req = req.headers(headers);
        let timeout = self.timeout_of(trans);
        let mut resp = req
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            let room = MAX_REPLY_BYTES - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= MAX_REPLY_BYTES {
                break;
            }
        }
        Ok((status, body))
    }
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
