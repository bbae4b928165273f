//! dtmx-server: a drop-in replacement for the DTM transaction manager.
//!
//! A library first: [`Server::start`] runs the store, the engine, the cron and the HTTP
//! and gRPC front doors inside the calling process; the `dtmx` binary is a thin `main`
//! around it.

pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cron;
pub mod engine;
pub mod error;
pub mod gid;
pub mod logging;
pub mod metrics;
pub mod retention;
pub mod service;
pub mod store;
pub mod topics;
pub mod trace;

use api::http::{router, Http};
use api::json::TimeFormat;
use axum::serve::ListenerExt;
use clock::Clock;
use config::Config;
use engine::Engine;
use service::Service;
use std::net::SocketAddr;
use std::sync::Arc;

/// A running server.
pub struct Server {
    /// Address of the HTTP front door.
    pub http_addr: SocketAddr,
    /// Address of the gRPC front door.
    pub grpc_addr: SocketAddr,
    engine: Arc<Engine>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Store(#[from] store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// Pending connections the kernel queues for each listener, capped by
/// `net.core.somaxconn` (Go, and so DTM, asks for `somaxconn`; tokio's default is 1024).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` (`host:port`, the first of its addresses that binds) with address reuse and
/// a listen backlog of [`LISTEN_BACKLOG`].
async fn listen(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(LISTEN_BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address to bind")
    }))
}

impl Server {
    /// Opens the store and starts the cron, retention and the HTTP and gRPC front doors.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let config = Arc::new(config);
        let store = store::open(&config.store).await?;
        let engine = Engine::new(store, config.clone(), Arc::new(Clock::default()));
        let service = Service::new(engine.clone());
        let addr = format!("{}:{}", config.http_host, config.http_port);
        let listener = listen(&addr)
            .await
            .map_err(|source| StartError::Listen { addr, source })?;
        let http_addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.http_port.to_string(),
            source,
        })?;
        let grpc_bind = format!("{}:{}", config.http_host, config.grpc_port);
        let grpc_listener = listen(&grpc_bind)
            .await
            .map_err(|source| StartError::Listen {
                addr: grpc_bind.clone(),
                source,
            })?;
        let grpc_addr = grpc_listener
            .local_addr()
            .map_err(|source| StartError::Listen {
                addr: grpc_bind,
                source,
            })?;
        let app = router(Http {
            service: service.clone(),
            time: TimeFormat::new(&config.time_zone_offset),
        });
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let http = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("http server stopped: {e}");
            }
        });
        let grpc = tokio::spawn(api::grpc::serve(grpc_listener, service.clone()));
        let cron = tokio::spawn(cron::run(engine.clone()));
        let retention = tokio::spawn(retention::run(engine.clone()));
        tracing::info!(
            "dtmx listening on http://{http_addr}, store {}",
            store::describe(&config.store)
        );
        tracing::info!("dtmx gRPC listening on {grpc_addr}");
        if !config.branch_host_allowlist.is_off() {
            tracing::info!(
                "branch calls limited to BranchHostAllowlist: {}",
                config.branch_host_allowlist
            );
        }
        Ok(Server {
            http_addr,
            grpc_addr,
            engine,
            tasks: vec![http, grpc, cron, retention],
        })
    }

    /// Stops serving, makes every write durable and sends the spans still queued.
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        self.engine
            .tracer
            .flush(std::time::Duration::from_secs(2))
            .await;
        if let Err(e) = self.engine.store.flush().await {
            tracing::error!("final flush failed: {e}");
        }
    }
}
