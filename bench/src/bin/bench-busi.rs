//! The branch service of the benchmarks: answers every `/api/busi/*` call with 200
//! SUCCESS, over keep-alive HTTP/1.1 with TCP_NODELAY and a deep accept backlog.
//!
//! Usage: `bench-busi [PORT]` (default 8082).

use axum::routing::any;
use axum::serve::ListenerExt;
use axum::Router;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(8082);
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(([127, 0, 0, 1], port).into())?;
    let listener = socket.listen(4096)?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = Router::new().route(
        "/api/busi/{name}",
        any(|| async { r#"{"dtm_result":"SUCCESS"}"# }),
    );
    eprintln!("bench-busi on 127.0.0.1:{port}");
    axum::serve(listener, app).await
}
