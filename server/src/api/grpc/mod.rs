//! The gRPC front door on `GrpcPort` (PROTOCOL.md §2): DTM's `dtmgimp.Dtm` service, whose
//! calls go to the same service layer as HTTP and JSON-RPC.

mod convert;

use crate::error::DtmError;
use crate::service::Service;
use crate::trace::TraceContext;
use futures_util::FutureExt;
use pb::dtmgimp::dtm_server::{Dtm, DtmServer};
use pb::dtmgimp::{DtmBranchRequest, DtmGidReply, DtmProgressesReply, DtmRequest, DtmTopicRequest};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

/// Code generated from `proto/*.proto` (messages, server and client of DTM's gRPC API).
pub mod pb {
    /// Package `dtmgimp`: the transaction manager's API.
    pub mod dtmgimp {
        tonic::include_proto!("dtmgimp");
    }
    /// Package `workflow`: the resume callback a gRPC workflow client implements.
    pub mod workflow {
        tonic::include_proto!("workflow");
    }
}

/// The `dtmgimp.Dtm` service over the service layer.
#[derive(Clone)]
pub struct DtmGrpc {
    service: Service,
}

impl DtmGrpc {
    /// The gRPC service for `service`.
    pub fn new(service: Service) -> Self {
        DtmGrpc { service }
    }

    /// Runs one call: encodes its error as a gRPC status, counts it in the request metrics
    /// (`type="grpc"`) and turns a panic into `Internal` with the panic text, so the server
    /// keeps serving.
    async fn run<T, F>(&self, api: &str, call: F) -> Result<Response<T>, Status>
    where
        F: Future<Output = Result<T, DtmError>>,
    {
        let started = Instant::now();
        let result = match AssertUnwindSafe(call).catch_unwind().await {
            Ok(r) => r.map_err(convert::status),
            Err(panic) => {
                let text = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!("grpc {api} panicked: {text}");
                Err(Status::internal(format!("internal error: {text}")))
            }
        };
        self.service
            .engine
            .metrics
            .request("grpc", api, result.is_ok(), started.elapsed());
        result.map(Response::new)
    }
}

#[tonic::async_trait]
impl Dtm for DtmGrpc {
    async fn new_gid(&self, _: Request<()>) -> Result<Response<DtmGidReply>, Status> {
        self.run("newgid", async {
            Ok(DtmGidReply {
                gid: self.service.new_gid(),
            })
        })
        .await
    }

    async fn submit(&self, req: Request<DtmRequest>) -> Result<Response<()>, Status> {
        self.run("submit", async {
            let trace = trace_context(&req);
            let (trans, bin) = convert::trans_request(req.into_inner())?;
            self.service.submit_bin(trans, bin, trace).await
        })
        .await
    }

    async fn prepare(&self, req: Request<DtmRequest>) -> Result<Response<()>, Status> {
        self.run("prepare", async {
            let trace = trace_context(&req);
            let (trans, bin) = convert::trans_request(req.into_inner())?;
            self.service.prepare_bin(trans, bin, trace).await
        })
        .await
    }

    async fn abort(&self, req: Request<DtmRequest>) -> Result<Response<()>, Status> {
        self.run("abort", async {
            let trace = trace_context(&req);
            let (trans, _) = convert::trans_request(req.into_inner())?;
            self.service.abort(trans, trace).await
        })
        .await
    }

    async fn register_branch(
        &self,
        req: Request<DtmBranchRequest>,
    ) -> Result<Response<()>, Status> {
        self.run("registerbranch", async {
            let (fields, data) = convert::branch_fields(req.into_inner());
            self.service.register_branch_bin(fields, data).await
        })
        .await
    }

    async fn prepare_workflow(
        &self,
        req: Request<DtmRequest>,
    ) -> Result<Response<DtmProgressesReply>, Status> {
        self.run("prepareworkflow", async {
            let trace = trace_context(&req);
            let (trans, _) = convert::trans_request(req.into_inner())?;
            let (trans, branches) = self.service.prepare_workflow(trans, trace).await?;
            Ok(convert::progresses(&trans, &branches))
        })
        .await
    }

    async fn subscribe(&self, req: Request<DtmTopicRequest>) -> Result<Response<()>, Status> {
        self.run("subscribe", async {
            let t = req.into_inner();
            self.service.subscribe(&t.topic, &t.url, &t.remark).await
        })
        .await
    }

    async fn unsubscribe(&self, req: Request<DtmTopicRequest>) -> Result<Response<()>, Status> {
        self.run("unsubscribe", async {
            let t = req.into_inner();
            self.service.unsubscribe(&t.topic, &t.url).await
        })
        .await
    }

    async fn delete_topic(&self, req: Request<DtmTopicRequest>) -> Result<Response<()>, Status> {
        self.run("deletetopic", async {
            let t = req.into_inner();
            self.service.delete_topic(&t.topic).await
        })
        .await
    }
}

/// The W3C trace context of a call's `traceparent` and `tracestate` metadata; None when
/// absent or invalid.
fn trace_context<T>(req: &Request<T>) -> Option<TraceContext> {
    let values = |name| {
        req.metadata()
            .get_all(name)
            .into_iter()
            .map(|v| v.to_str().unwrap_or_default())
    };
    TraceContext::extract(values("traceparent"), values("tracestate"))
}

/// Serves the gRPC front door on `listener` until the task is dropped. Request messages
/// larger than `GrpcMaxMessageBytes` (default: `HttpMaxBodyBytes`) are refused (tonic
/// answers `OutOfRange`, naming the limit); metadata over `HttpMaxHeaderBytes` is refused
/// by HTTP/2 itself (the stream is reset).
pub async fn serve(listener: TcpListener, service: Service) {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let config = service.engine.config.clone();
    let dtm = DtmServer::new(DtmGrpc::new(service))
        .max_decoding_message_size(config.grpc_message_limit());
    let header_bytes = u32::try_from(config.http_max_header_bytes).unwrap_or(u32::MAX);
    let mut server = tonic::transport::Server::builder().http2_max_header_list_size(header_bytes);
    let result = if config.auth.is_on() {
        server
            .add_service(super::auth::GrpcAuth::new(dtm, &config.auth))
            .serve_with_incoming(incoming)
            .await
    } else {
        server.add_service(dtm).serve_with_incoming(incoming).await
    };
    if let Err(e) = result {
        tracing::error!("grpc server stopped: {e}");
    }
}
