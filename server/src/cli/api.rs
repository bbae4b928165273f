//! The client's HTTP calls to the server's API, with DTM's reply envelope unwrapped.

use reqwest::{Client, Method, RequestBuilder};
use serde_json::{json, Value};
use std::time::Duration;

/// The API under `/api/dtmsvr` of one server.
pub struct Api {
    base: String,
    http: Client,
    token: Option<String>,
}

/// `s` escaped for a path segment.
pub fn escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl Api {
    /// A client of `base` (`http://host:36789/api/dtmsvr`) sending `token` as a bearer
    /// token when given.
    pub fn new(base: &str, token: Option<String>) -> Result<Api, String> {
        let http = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Api {
            base: base.to_string(),
            http,
            token,
        })
    }

    fn url(&self, route: &str, query: &[(&str, &str)]) -> Result<url::Url, String> {
        let mut url = url::Url::parse(&format!("{}/{route}", self.base))
            .map_err(|e| format!("invalid server URL {:?}: {e}", self.base))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// `GET route?query`.
    pub async fn get(&self, route: &str, query: &[(&str, &str)]) -> Result<Value, String> {
        let url = self.url(route, query)?;
        self.send(self.http.request(Method::GET, url)).await
    }

    /// `POST route` with `{"gid": gid}` (forceStop, resetNextCronTime).
    pub async fn post(&self, route: &str, gid: &str) -> Result<Value, String> {
        let url = self.url(route, &[])?;
        self.send(self.http.post(url).json(&json!({ "gid": gid })))
            .await
    }

    /// `DELETE route`.
    pub async fn delete(&self, route: &str) -> Result<Value, String> {
        let url = self.url(route, &[])?;
        self.send(self.http.delete(url)).await
    }

    /// Sends the request; the JSON reply of a 200, else the server's message.
    async fn send(&self, request: RequestBuilder) -> Result<Value, String> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let reply = request
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {e}", self.base))?;
        let status = reply.status();
        let text = reply
            .text()
            .await
            .map_err(|e| format!("cannot read the reply of {}: {e}", self.base))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(value);
        }
        let message = value
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        Err(format!("the server answered {status}: {message}"))
    }
}
