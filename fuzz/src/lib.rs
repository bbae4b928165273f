//! Shared harness of the fuzz targets that drive the server in-process (docs/FUZZING.md).
//!
//! [`Harness`] is the HTTP router and the gRPC service over an embedded SQLite store in a
//! scratch directory (on `/dev/shm` when there is one, so durable commits cost no fsync),
//! driven on a current-thread tokio runtime. Branch URLs may only target `127.0.0.1:1`
//! (`BranchHostAllowlist`), where nothing listens: transactions a fuzz input submits are
//! processed, but no fuzz input ever reaches a real service. Every [`RESET_EVERY`] inputs
//! the store, the runtime and its tasks are thrown away and built afresh, so the database
//! stays small in long runs.

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::Router;
use dtmx_server::api::grpc::DtmGrpc;
use dtmx_server::api::http::{router, Http};
use dtmx_server::api::json::TimeFormat;
use dtmx_server::clock::Clock;
use dtmx_server::config::Config;
use dtmx_server::engine::Engine;
use dtmx_server::service::Service;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// Inputs run on one store before it is replaced by an empty one.
pub const RESET_EVERY: u64 = 20_000;

/// The only host:port branch URLs may target: nothing listens there.
pub const BRANCH_TARGET: &str = "127.0.0.1:1";

/// Largest request body the harness's server accepts (inputs are smaller; libFuzzer's
/// default `-max_len` is 4096).
const MAX_BODY: usize = 1 << 20;

/// The server under test: one store, its router and its gRPC service.
struct Instance {
    rt: tokio::runtime::Runtime,
    router: Router,
    grpc: DtmGrpc,
    dir: PathBuf,
}

/// The server in-process, rebuilt every [`RESET_EVERY`] inputs.
pub struct Harness {
    instance: Option<Instance>,
    runs: u64,
    builds: u64,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// A harness; the server is built on the first input.
    pub fn new() -> Self {
        remove_stale_dirs();
        Harness {
            instance: None,
            runs: 0,
            builds: 0,
        }
    }

    /// Sends one HTTP request through every layer of the router and reads the whole
    /// response. Panics on a 5xx answer other than [`documented_server_error`]: any other
    /// is a store failure or a caught panic, which no request may cause on a healthy store.
    pub fn http(&mut self, req: Request<Body>) -> (StatusCode, Vec<u8>) {
        let inst = self.instance();
        let router = inst.router.clone();
        let (status, body) = inst.rt.block_on(async move {
            let resp: Response<Body> = match router.oneshot(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("read response body");
            (status, body.to_vec())
        });
        if status.is_server_error() {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
                .unwrap_or_default();
            assert!(
                status == StatusCode::INTERNAL_SERVER_ERROR && documented_server_error(&message),
                "server error {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        (status, body)
    }

    /// Runs a call on the gRPC service (`dtmgimp.Dtm`) on the harness's runtime.
    pub fn grpc<F, Fut, T>(&mut self, call: F) -> T
    where
        F: FnOnce(DtmGrpc) -> Fut,
        Fut: Future<Output = T>,
    {
        let inst = self.instance();
        let grpc = inst.grpc.clone();
        inst.rt.block_on(call(grpc))
    }

    fn instance(&mut self) -> &mut Instance {
        self.runs += 1;
        if self.runs % RESET_EVERY == 0 {
            if let Some(old) = self.instance.take() {
                old.dispose();
            }
        }
        if self.instance.is_none() {
            self.builds += 1;
            self.instance = Some(Instance::build(self.builds));
        }
        self.instance.as_mut().expect("instance just built")
    }
}

/// True for the server errors DTM itself answers for a malformed body or a request that
/// names something missing or taken (HTTP 500, JSON-RPC -32603, gRPC `Unknown`): dtmx keeps those for
/// compatibility. Every other server error is a finding.
pub fn documented_server_error(message: &str) -> bool {
    const DTM: [&str; 14] = [
        "storage: NotFound",
        "this topic is empty",
        "invalid request body",
        "no such an url",
        "no TransGlobal with gid",
        "no trans with gid",
        "no gid specified",
        "branch ",
        "empty topic",
        "empty url",
        "this url exists",
        "no such a topic",
        "topic not found",
        "the topic was created concurrently",
    ];
    DTM.iter().any(|m| message.starts_with(m))
        && (!message.starts_with("branch ") || message.ends_with("is already registered"))
}

impl Instance {
    fn build(n: u64) -> Instance {
        let dir = scratch_root().join(format!("{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        let mut config = Config::default();
        config
            .apply_yaml(&format!(
                "BranchHostAllowlist: \"{BRANCH_TARGET}\"\nRequestTimeout: 1\nHttpMaxBodyBytes: {MAX_BODY}\n"
            ))
            .expect("harness configuration");
        config.store.path = dir.join("dtmx.db").to_string_lossy().into_owned();
        config.validate().expect("valid harness configuration");
        let config = Arc::new(config);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let (router, grpc) = rt.block_on(async {
            let store = dtmx_server::store::open(&config.store)
                .await
                .expect("open the embedded store");
            let engine = Engine::new(store, config.clone(), Arc::new(Clock::default()));
            let service = Service::new(engine);
            let grpc = DtmGrpc::new(service.clone());
            let router = router(Http {
                service,
                time: TimeFormat::new(&config.time_zone_offset),
            });
            (router, grpc)
        });
        Instance {
            rt,
            router,
            grpc,
            dir,
        }
    }

    /// Stops the runtime (dropping the tasks that hold the engine), then deletes the store.
    fn dispose(self) {
        let Instance {
            rt,
            router,
            grpc,
            dir,
        } = self;
        drop((router, grpc));
        rt.shutdown_timeout(Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Where the scratch stores live: `dtmx-fuzz` under `/dev/shm` or the temp directory.
fn scratch_root() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let base = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    base.join("dtmx-fuzz")
}

/// Deletes the scratch stores of fuzz processes that have exited (libFuzzer ends a run
/// with `exit`, so a process never deletes its last store itself).
fn remove_stale_dirs() {
    if !PathBuf::from("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(scratch_root()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().unwrap_or_default();
        if !pid.is_empty() && !PathBuf::from("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
