//! Harness of the end-to-end conformance suite: the real `dtmx` binary in a child process,
//! a scripted business service (the "RM") inside the test process, and a small DTM client.
//!
//! Every test starts its own server on its own store (the clock-forward hook moves the
//! whole server's time, so servers are never shared between tests).

#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::OpenOptions;
use std::path::{Path as FsPath, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------
// Ports and directories

/// A port nobody listens on right now (the kernel's pick for 127.0.0.1:0).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A fresh directory under the system temp dir.
pub fn unique_dir(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join("dtmx-e2e").join(format!(
        "{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

// ---------------------------------------------------------------------------------------
// The store under test

#[path = "../databases/mod.rs"]
pub mod databases;

/// The environment that puts a server on its own, empty store: the embedded store in its
/// directory by default, or a fresh database, schema or key prefix on the server that
/// `DTMX_TEST_STORE` names (`postgres`, `mysql` or `redis`), so the same suites run on
/// every store.
fn store_env(dir: &FsPath) -> Vec<(String, String)> {
    let store = std::env::var("DTMX_TEST_STORE").unwrap_or_default();
    let name = dir
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        })
        .unwrap_or_default();
    let config = match store.as_str() {
        "" | "sqlite" => {
            return vec![(
                "STORE_PATH".into(),
                dir.join("dtmx.db").display().to_string(),
            )]
        }
        "postgres" => databases::postgres(&name),
        "mysql" => databases::mysql(&name),
        "redis" => databases::redis(&name),
        other => panic!("DTMX_TEST_STORE={other:?}: use sqlite, postgres, mysql or redis"),
    };
    let mut env = databases::env(&config);
    if store == "postgres" {
        env.push(("STORE_DB".into(), "dtmx_e2e".into()));
    }
    env
}

// ---------------------------------------------------------------------------------------
// The server under test

/// The real `dtmx` binary, killed (SIGKILL) on drop.
pub struct Dtmx {
    child: Option<Child>,
    pub port: u16,
    /// Port of the gRPC front door.
    pub grpc_port: u16,
    pub dir: PathBuf,
    pub base: String,
    http: reqwest::Client,
    /// Extra environment of the server process (applied after the harness defaults).
    extra_env: Vec<(String, String)>,
}

/// A reply of the server: status and JSON body (a non-JSON body becomes a JSON string).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    /// The Content-Type header ("" if absent).
    pub content_type: String,
}

impl Resp {
    /// The `message` field, or "".
    pub fn message(&self) -> String {
        self.body["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Dtmx {
    /// Starts a server on a new, empty store.
    pub async fn start() -> Dtmx {
        Dtmx::start_in(unique_dir("dtmx")).await
    }

    /// Starts a server on the store in `dir` (created if absent).
    pub async fn start_in(dir: PathBuf) -> Dtmx {
        Dtmx::start_in_with_env(dir, &[]).await
    }

    /// Starts a server on a new, empty store with extra environment variables (they win
    /// over the harness defaults and are kept across restarts).
    pub async fn start_with_env(env: &[(&str, &str)]) -> Dtmx {
        Dtmx::start_in_with_env(unique_dir("dtmx"), env).await
    }

    /// Starts a server on the store in `dir` with extra environment variables.
    pub async fn start_in_with_env(dir: PathBuf, env: &[(&str, &str)]) -> Dtmx {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let mut me = Dtmx {
            child: None,
            port: 0,
            grpc_port: 0,
            dir,
            base: String::new(),
            http,
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        me.spawn().await;
        me
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.join("dtmx.db")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    async fn spawn(&mut self) {
        for _attempt in 0..5 {
            let port = free_port();
            let grpc_port = free_port();
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.log_path())
                .expect("open server log");
            let mut child = Command::new(env!("CARGO_BIN_EXE_dtmx"))
                .env("HTTP_PORT", port.to_string())
                .env("GRPC_PORT", grpc_port.to_string())
                .env("HTTP_HOST", "127.0.0.1")
                .envs(store_env(&self.dir))
                .env("DTMX_TEST_HOOKS", "1")
                .env("TRANS_CRON_INTERVAL", "1")
                .env("LOG_LEVEL", "warn")
                .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .expect("spawn dtmx");
            let base = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut up = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: most likely the port was taken meanwhile
                }
                if let Ok(r) = self.http.get(format!("{base}/api/ping")).send().await {
                    if r.status().as_u16() == 200 {
                        up = true;
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if up {
                self.child = Some(child);
                self.port = port;
                self.grpc_port = grpc_port;
                self.base = base;
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "dtmx did not start; log:\n{}",
            std::fs::read_to_string(self.log_path()).unwrap_or_default()
        );
    }

    /// `kill -9` the server.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL dtmx");
            child.wait().expect("reap dtmx");
        }
    }

    /// Kills the server (SIGKILL) if it runs and starts it again on the same store.
    pub async fn restart(&mut self) {
        self.kill9();
        self.spawn().await;
    }

    /// True while the server answers `/api/ping` with 200 pong.
    pub async fn ping(&self) -> bool {
        let r = self.get("/api/ping").await;
        r.status == 200 && r.body == json!({"msg": "pong"})
    }

    async fn reply(resp: reqwest::Response) -> Resp {
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = resp.bytes().await.expect("read reply");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Resp {
            status,
            body,
            content_type,
        }
    }

    /// GET `path` (with its query string) on the server.
    pub async fn get(&self, path: &str) -> Resp {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        Dtmx::reply(resp).await
    }

    /// POST raw bytes to `path`.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Resp {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        Dtmx::reply(resp).await
    }

    /// POST a JSON value to `path`.
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.post_raw(path, body.to_string()).await
    }

    pub async fn submit(&self, body: &Value) -> Resp {
        self.post("/api/dtmsvr/submit", body).await
    }

    pub async fn prepare(&self, body: &Value) -> Resp {
        self.post("/api/dtmsvr/prepare", body).await
    }

    pub async fn abort(&self, body: &Value) -> Resp {
        self.post("/api/dtmsvr/abort", body).await
    }

    pub async fn force_stop(&self, gid: &str) -> Resp {
        self.post("/api/dtmsvr/forceStop", &json!({ "gid": gid }))
            .await
    }

    pub async fn register_branch(&self, body: &Value) -> Resp {
        self.post("/api/dtmsvr/registerBranch", body).await
    }

    /// POST a JSON-RPC request to `/api/json-rpc`.
    pub async fn json_rpc(&self, body: &Value) -> Resp {
        self.post("/api/json-rpc", body).await
    }

    /// GET `path` with the query pairs `params` (URL-encoded).
    pub async fn get_with(&self, path: &str, params: &[(&str, &str)]) -> Resp {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), params)
            .expect("url with params");
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        Dtmx::reply(resp).await
    }

    /// DELETE `path` on the server.
    pub async fn delete(&self, path: &str) -> Resp {
        let resp = self
            .http
            .delete(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("DELETE {path}: {e}"));
        Dtmx::reply(resp).await
    }

    /// The raw `query` reply for `gid`.
    pub async fn query_resp(&self, gid: &str) -> Resp {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/dtmsvr/query", self.base),
            &[("gid", gid)],
        )
        .expect("query url");
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("query {gid}: {e}"));
        Dtmx::reply(resp).await
    }

    /// `{"transaction":..,"branches":[..]}` of `gid` (asserts a 200).
    pub async fn query(&self, gid: &str) -> Value {
        let r = self.query_resp(gid).await;
        assert_eq!(r.status, 200, "query {gid}: {:?}", r.body);
        r.body
    }

    /// Global status of `gid` ("" when absent).
    pub async fn status(&self, gid: &str) -> String {
        let q = self.query(gid).await;
        q["transaction"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Branch statuses of `gid` in storage order.
    pub async fn branch_statuses(&self, gid: &str) -> Vec<String> {
        let q = self.query(gid).await;
        statuses(&q)
    }

    /// Asserts that `gid` was never written.
    pub async fn assert_absent(&self, gid: &str) {
        let q = self.query(gid).await;
        assert_eq!(
            q,
            json!({"transaction": null, "branches": []}),
            "{gid} must not exist"
        );
    }

    /// Moves the server clock forward (test hook).
    pub async fn forward(&self, seconds: i64) {
        let r = self
            .post_raw(
                &format!("/api/dtmsvr/test/forward?seconds={seconds}"),
                Vec::new(),
            )
            .await;
        assert_eq!(r.status, 200, "forward: {:?}", r.body);
    }

    /// Polls `query` until `gid` has `status`; returns the last query reply.
    pub async fn wait_status(&self, gid: &str, status: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let q = self.query(gid).await;
            if q["transaction"]["status"] == status {
                return q;
            }
            if Instant::now() > deadline {
                panic!("{gid} did not reach {status} within {timeout:?}; last query: {q:#}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Dtmx {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!(
                "dtmx store and log kept in {} (log tail below)\n{}",
                self.dir.display(),
                tail(&self.log_path(), 4000)
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn tail(path: &FsPath, max: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..].to_string()
}

/// Branch statuses of a `query` reply in storage order.
pub fn statuses(query: &Value) -> Vec<String> {
    query["branches"]
        .as_array()
        .map(|bs| {
            bs.iter()
                .map(|b| b["status"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `(branch_id, op)` of every branch of a `query` reply in storage order.
pub fn branch_keys(query: &Value) -> Vec<(String, String)> {
    query["branches"]
        .as_array()
        .map(|bs| {
            bs.iter()
                .map(|b| {
                    (
                        b["branch_id"].as_str().unwrap_or_default().to_string(),
                        b["op"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Polls `cond` every 20 ms until it holds, or panics with `what` after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !cond().await {
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------
// The business service

/// One scripted reply of the business service.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    /// 200 `{"dtm_result":"SUCCESS"}`.
    pub fn ok() -> Reply {
        Reply {
            status: 200,
            body: r#"{"dtm_result":"SUCCESS"}"#.into(),
            delay: Duration::ZERO,
        }
    }
    /// 409 with a FAILURE body carrying `msg`.
    pub fn failure(msg: &str) -> Reply {
        Reply {
            status: 409,
            body: json!({"dtm_result": "FAILURE", "message": msg}).to_string(),
            delay: Duration::ZERO,
        }
    }
    /// 425 ONGOING.
    pub fn ongoing() -> Reply {
        Reply {
            status: 425,
            body: r#"{"dtm_result":"ONGOING"}"#.into(),
            delay: Duration::ZERO,
        }
    }
    /// 500 with a plain error text.
    pub fn error() -> Reply {
        Reply {
            status: 500,
            body: r#"{"message":"database is down"}"#.into(),
            delay: Duration::ZERO,
        }
    }
    /// The pre-v1.10 way to refuse: 200 with a FAILURE body.
    pub fn legacy_failure() -> Reply {
        Reply {
            status: 200,
            body: r#"{"dtm_result":"FAILURE"}"#.into(),
            delay: Duration::ZERO,
        }
    }
    /// `status` with an arbitrary body.
    pub fn with_body(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
    /// A JSON-RPC 2.0 success reply (HTTP 200, `"error": null`).
    pub fn rpc_ok() -> Reply {
        Reply::with_body(
            200,
            &json!({"jsonrpc": "2.0", "id": "busi", "error": null, "result": {}}).to_string(),
        )
    }
    /// A JSON-RPC 2.0 error reply (HTTP 200) with `code` and `message`.
    pub fn rpc_error(code: i64, message: &str) -> Reply {
        Reply::with_body(
            200,
            &json!({"jsonrpc": "2.0", "id": "busi", "result": null,
                    "error": {"code": code, "message": message}})
            .to_string(),
        )
    }
    /// The same reply, sent after sleeping `d`.
    pub fn after(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

/// One request the business service received.
#[derive(Debug, Clone)]
pub struct Call {
    /// The transaction: the `gid` query parameter, else `params.gid` of a JSON-RPC body,
    /// else a top-level `gid` of a JSON body (e.g. the alert webhook), else "".
    pub gid: String,
    pub method: String,
    /// Last path segment: `/api/busi/TransOut` → `TransOut`.
    pub name: String,
    /// Every query pair in order (duplicates kept).
    pub query: Vec<(String, String)>,
    /// Header names lower-cased (the last value of a repeated header).
    pub headers: BTreeMap<String, String>,
    /// Every header line in order, names lower-cased (repeats kept).
    pub raw_headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Global sequence number when the request arrived.
    pub start: u64,
    /// Global sequence number when the reply was sent (None while in progress).
    pub end: Option<u64>,
    /// What was answered.
    pub status: u16,
}

impl Call {
    /// The value of query parameter `k` ("" if absent).
    pub fn q(&self, k: &str) -> &str {
        self.query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
    pub fn gid(&self) -> &str {
        &self.gid
    }
    /// The body as JSON (Null if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// Every value of header `name` (lower-case).
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.raw_headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Default)]
struct BusiState {
    calls: Vec<Call>,
    plans: HashMap<(String, String), VecDeque<Reply>>,
    /// Reply when no plan applies (None: 200 SUCCESS).
    fallback: Option<Reply>,
}

#[derive(Clone, Default)]
struct Shared {
    state: Arc<Mutex<BusiState>>,
    seq: Arc<AtomicU64>,
}

/// A scripted business service on 127.0.0.1.
pub struct Busi {
    pub port: u16,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Busi {
    /// Starts the service on a free port.
    pub async fn start() -> Busi {
        Busi::start_on(0).await
    }

    /// Starts the service on `port` (0: any).
    pub async fn start_on(port: u16) -> Busi {
        let shared = Shared::default();
        let app = Router::new()
            .route("/api/busi/{name}", any(handle))
            .layer(DefaultBodyLimit::disable())
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("bind busi on {port}: {e}"));
        let port = listener.local_addr().expect("busi addr").port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Busi { port, shared, task }
    }

    /// URL of the endpoint `name`.
    pub fn url(&self, name: &str) -> String {
        url_on(self.port, name)
    }

    /// Queues replies for calls of `name` within transaction `gid`; afterwards the
    /// fallback (200 SUCCESS unless changed) applies again.
    pub fn plan(&self, gid: &str, name: &str, replies: impl IntoIterator<Item = Reply>) {
        let mut st = self.shared.state.lock().expect("busi state");
        st.plans
            .entry((gid.to_string(), name.to_string()))
            .or_default()
            .extend(replies);
    }

    /// Sets the reply used when no plan applies (None: 200 SUCCESS).
    pub fn set_fallback(&self, reply: Option<Reply>) {
        self.shared.state.lock().expect("busi state").fallback = reply;
    }

    /// Every call received, in arrival order.
    pub fn all_calls(&self) -> Vec<Call> {
        self.shared.state.lock().expect("busi state").calls.clone()
    }

    /// Calls of transaction `gid`, in arrival order.
    pub fn calls(&self, gid: &str) -> Vec<Call> {
        self.all_calls()
            .into_iter()
            .filter(|c| c.gid() == gid)
            .collect()
    }

    /// Endpoint names called for `gid`, in arrival order.
    pub fn names(&self, gid: &str) -> Vec<String> {
        self.calls(gid).into_iter().map(|c| c.name).collect()
    }

    /// Calls of `name` for `gid`.
    pub fn calls_of(&self, gid: &str, name: &str) -> Vec<Call> {
        self.calls(gid)
            .into_iter()
            .filter(|c| c.name == name)
            .collect()
    }

    /// Waits until `gid` has seen at least `n` completed calls.
    pub async fn wait_calls(&self, gid: &str, n: usize, timeout: Duration) -> Vec<Call> {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.calls(gid);
            if calls.iter().filter(|c| c.end.is_some()).count() >= n {
                return calls;
            }
            if Instant::now() > deadline {
                panic!("{gid}: expected {n} calls within {timeout:?}, got {calls:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Busi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The gid of a JSON body without a `gid` query parameter: `params.gid` (a JSON-RPC
/// branch call) or a top-level `gid` (the alert webhook); "" otherwise.
fn body_gid(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v["params"]["gid"]
        .as_str()
        .or_else(|| v["gid"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// URL of the business endpoint `name` on `port`.
pub fn url_on(port: u16, name: &str) -> String {
    format!("http://127.0.0.1:{port}/api/busi/{name}")
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    Path(name): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let start = shared.seq.fetch_add(1, Ordering::SeqCst);
    let raw_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let headers: BTreeMap<String, String> = raw_headers.iter().cloned().collect();
    let gid = query
        .iter()
        .find(|(k, _)| k == "gid")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| body_gid(&body));
    let (index, reply) = {
        let mut st = shared.state.lock().expect("busi state");
        let planned = st
            .plans
            .get_mut(&(gid.clone(), name.clone()))
            .and_then(VecDeque::pop_front);
        let reply = planned
            .or_else(|| st.fallback.clone())
            .unwrap_or_else(Reply::ok);
        st.calls.push(Call {
            gid,
            method: method.as_str().to_string(),
            name,
            query,
            headers,
            raw_headers,
            body: body.to_vec(),
            start,
            end: None,
            status: reply.status,
        });
        (st.calls.len() - 1, reply)
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let end = shared.seq.fetch_add(1, Ordering::SeqCst);
    shared.state.lock().expect("busi state").calls[index].end = Some(end);
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [("content-type", "application/json")],
        reply.body.clone(),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------
// Request builders

/// A saga of `(action, compensate)` endpoint names (empty name: empty URL) with one
/// payload per step; `extra` keys are merged in at the top level.
pub fn saga(
    busi: &Busi,
    gid: &str,
    steps: &[(&str, &str)],
    payloads: &[&str],
    extra: Value,
) -> Value {
    let u = |name: &str| {
        if name.is_empty() {
            String::new()
        } else {
            busi.url(name)
        }
    };
    let steps: Vec<Value> = steps
        .iter()
        .map(|(a, c)| json!({"action": u(a), "compensate": u(c)}))
        .collect();
    let mut body = json!({
        "gid": gid,
        "trans_type": "saga",
        "steps": steps,
        "payloads": payloads,
        "concurrent": false,
        "protocol": "",
    });
    merge(&mut body, extra);
    body
}

/// The classic two-step transfer saga: TransOut/TransOutRevert, TransIn/TransInRevert.
pub fn transfer(busi: &Busi, gid: &str, extra: Value) -> Value {
    saga(
        busi,
        gid,
        &[("TransOut", "TransOutRevert"), ("TransIn", "TransInRevert")],
        &[r#"{"amount":30}"#, r#"{"amount":30}"#],
        extra,
    )
}

/// A msg of endpoint names with one payload per step and `QueryPrepared` as check-back.
pub fn msg(busi: &Busi, gid: &str, steps: &[&str], payloads: &[&str], extra: Value) -> Value {
    let steps: Vec<Value> = steps
        .iter()
        .map(|a| json!({"action": busi.url(a)}))
        .collect();
    let mut body = json!({
        "gid": gid,
        "trans_type": "msg",
        "steps": steps,
        "payloads": payloads,
        "query_prepared": busi.url("QueryPrepared"),
        "concurrent": false,
        "protocol": "",
    });
    merge(&mut body, extra);
    body
}

/// Merges the keys of object `extra` into object `body`.
/// DTM's SUCCESS envelope.
pub fn success() -> Value {
    json!({"dtm_result": "SUCCESS"})
}

/// A prepare/submit/abort body of a tcc or xa global transaction as the Go SDK sends it,
/// with `extra` merged in.
pub fn global(gid: &str, trans_type: &str, extra: Value) -> Value {
    let mut body =
        json!({"gid": gid, "trans_type": trans_type, "concurrent": false, "protocol": ""});
    merge(&mut body, extra);
    body
}

pub fn merge(body: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

/// Standard waiting time for something the server does promptly.
pub const PROMPT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// A redirecting service

/// A service on 127.0.0.1 answering `/{status}/...` with that redirect status to `to`
/// (query kept), `/loop` with a 307 to itself and `/ok` with SUCCESS; it records each
/// request's target and `Authorization` header. Asked as a forward proxy (absolute-form
/// targets), it answers the same by path.
pub struct Redirector {
    pub port: u16,
    hits: Arc<Mutex<Vec<Hit>>>,
}

/// A request's target and `Authorization` header.
type Hit = (axum::http::Uri, Option<String>);

impl Redirector {
    /// Starts it; `to` is where `/{status}/...` redirects (absolute, or a path on itself).
    pub async fn start(to: String) -> Redirector {
        use axum::http::{header, Uri};
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = hits.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let (to, seen) = (to.clone(), seen.clone());
            async move {
                let auth = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                seen.lock().expect("hits").push((uri.clone(), auth));
                let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
                let (status, location) = match uri.path() {
                    "/ok" => (200, String::new()),
                    "/loop" => (307, format!("/loop{query}")),
                    p => (p[1..4].parse().unwrap_or(500), format!("{to}{query}")),
                };
                let status = StatusCode::from_u16(status).expect("status");
                (
                    status,
                    [(header::LOCATION, location)],
                    r#"{"dtm_result":"SUCCESS"}"#,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind redirector");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Redirector { port, hits }
    }

    /// Its URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// The targets of the requests to `path`, as received.
    pub fn targets(&self, path: &str) -> Vec<axum::http::Uri> {
        let hits = self.hits.lock().expect("hits");
        hits.iter()
            .filter(|(u, _)| u.path() == path)
            .map(|(u, _)| u.clone())
            .collect()
    }

    /// The `Authorization` header of the requests to `path`.
    pub fn auth_of(&self, path: &str) -> Vec<Option<String>> {
        let hits = self.hits.lock().expect("hits");
        hits.iter()
            .filter(|(u, _)| u.path() == path)
            .map(|(_, a)| a.clone())
            .collect()
    }
}
