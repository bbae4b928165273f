//! A scripted gRPC business service (package `busi`, service `Busi`, any method; also
//! serving `workflow.Workflow`) on tonic, and a client of dtmx's gRPC front door. Requests are taken as raw bytes, recorded with
//! their metadata, and answered with a planned status (OK unless planned otherwise).

#![allow(dead_code)]

use bytes::Bytes;
use dtmx_server::api::grpc::pb::dtmgimp::dtm_client::DtmClient;
use dtmx_server::engine::grpc_caller::RawCodec;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tonic::codegen::{http, BoxFuture, Service, StdError};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

/// The payload message of the business calls.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BusiReq {
    #[prost(int64, tag = "1")]
    pub amount: i64,
    #[prost(string, tag = "2")]
    pub user: String,
}

impl BusiReq {
    /// The protobuf encoding of a request for `amount` by `user`.
    pub fn bytes(amount: i64, user: &str) -> Vec<u8> {
        prost::Message::encode_to_vec(&BusiReq {
            amount,
            user: user.into(),
        })
    }
}

/// One planned answer: a status code and message, sent after `delay`.
#[derive(Debug, Clone)]
pub struct Answer {
    pub code: Code,
    pub message: String,
    pub delay: Duration,
}

impl Answer {
    pub fn ok() -> Answer {
        Answer::status(Code::Ok, "")
    }
    /// A business failure: `Aborted`.
    pub fn failure(msg: &str) -> Answer {
        Answer::status(Code::Aborted, msg)
    }
    /// Not finished: `FailedPrecondition`.
    pub fn ongoing() -> Answer {
        Answer::status(Code::FailedPrecondition, "ONGOING")
    }
    /// The pre-v1.10 ongoing: `Aborted` with message `ONGOING`.
    pub fn legacy_ongoing() -> Answer {
        Answer::status(Code::Aborted, "ONGOING")
    }
    /// A transient error: `Unavailable`.
    pub fn error() -> Answer {
        Answer::status(Code::Unavailable, "database is down")
    }
    pub fn status(code: Code, message: &str) -> Answer {
        Answer {
            code,
            message: message.into(),
            delay: Duration::ZERO,
        }
    }
    /// The same answer after sleeping `d`.
    pub fn after(mut self, d: Duration) -> Answer {
        self.delay = d;
        self
    }
}

/// One call the service received.
#[derive(Debug, Clone)]
pub struct GrpcCall {
    /// The method name (`TransOut` of `/busi.Busi/TransOut`).
    pub method: String,
    /// The full path.
    pub path: String,
    /// ASCII metadata, keys lower-case (last value wins).
    pub metadata: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// What was answered.
    pub code: Code,
}

impl GrpcCall {
    /// Metadata `key` ("" if absent).
    pub fn md(&self, key: &str) -> &str {
        self.metadata.get(key).map(String::as_str).unwrap_or("")
    }
    pub fn gid(&self) -> &str {
        self.md("dtm-gid")
    }
}

#[derive(Default)]
struct State {
    calls: Vec<GrpcCall>,
    plans: HashMap<(String, String), VecDeque<Answer>>,
}

/// The business service, as a tonic service named `busi.Busi`, answering every method.
#[derive(Clone, Default)]
struct BusiService {
    state: Arc<Mutex<State>>,
}

impl tonic::server::NamedService for BusiService {
    const NAME: &'static str = "busi.Busi";
}

/// The same service under the name `workflow.Workflow`, for workflow resume callbacks.
#[derive(Clone)]
struct WorkflowService(BusiService);

impl tonic::server::NamedService for WorkflowService {
    const NAME: &'static str = "workflow.Workflow";
}

impl<B> Service<http::Request<B>> for WorkflowService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        <BusiService as Service<http::Request<B>>>::poll_ready(&mut self.0, cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        self.0.call(req)
    }
}

/// The handler of one call.
struct Handler {
    state: Arc<Mutex<State>>,
    path: String,
}

impl tonic::server::UnaryService<Bytes> for Handler {
    type Response = Bytes;
    type Future = BoxFuture<tonic::Response<Bytes>, Status>;

    fn call(&mut self, req: tonic::Request<Bytes>) -> Self::Future {
        let metadata: BTreeMap<String, String> = req
            .metadata()
            .iter()
            .filter_map(|kv| match kv {
                tonic::metadata::KeyAndValueRef::Ascii(k, v) => Some((
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().into(),
                )),
                tonic::metadata::KeyAndValueRef::Binary(..) => None,
            })
            .collect();
        let method = self.path.rsplit('/').next().unwrap_or_default().to_string();
        let gid = metadata.get("dtm-gid").cloned().unwrap_or_default();
        let answer = {
            let mut st = self.state.lock().expect("busi state");
            let answer = st
                .plans
                .get_mut(&(gid, method.clone()))
                .and_then(VecDeque::pop_front)
                .unwrap_or_else(Answer::ok);
            st.calls.push(GrpcCall {
                method,
                path: self.path.clone(),
                metadata,
                body: req.into_inner().to_vec(),
                code: answer.code,
            });
            answer
        };
        Box::pin(async move {
            tokio::time::sleep(answer.delay).await;
            match answer.code {
                Code::Ok => Ok(tonic::Response::new(Bytes::new())),
                code => Err(Status::new(code, answer.message)),
            }
        })
    }
}

impl<B> Service<http::Request<B>> for BusiService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let handler = Handler {
            state: self.state.clone(),
            path: req.uri().path().to_string(),
        };
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec);
            Ok(grpc.unary(handler, req).await)
        })
    }
}

/// A running business service on 127.0.0.1.
pub struct GrpcBusi {
    pub port: u16,
    service: BusiService,
    task: tokio::task::JoinHandle<()>,
}

impl GrpcBusi {
    /// Starts the service on a free port.
    pub async fn start() -> GrpcBusi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind grpc busi");
        let port = listener.local_addr().expect("busi addr").port();
        let service = BusiService::default();
        let serving = service.clone();
        let task = tokio::spawn(async move {
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let _ = tonic::transport::Server::builder()
                .add_service(serving.clone())
                .add_service(WorkflowService(serving))
                .serve_with_incoming(incoming)
                .await;
        });
        GrpcBusi {
            port,
            service,
            task,
        }
    }

    /// The branch URL of `method`: `127.0.0.1:<port>/busi.Busi/<method>`.
    pub fn url(&self, method: &str) -> String {
        format!("127.0.0.1:{}/busi.Busi/{method}", self.port)
    }

    /// Queues answers to calls of `method` within `gid`; afterwards OK again.
    pub fn plan(&self, gid: &str, method: &str, answers: impl IntoIterator<Item = Answer>) {
        let mut st = self.service.state.lock().expect("busi state");
        st.plans
            .entry((gid.to_string(), method.to_string()))
            .or_default()
            .extend(answers);
    }

    /// Calls of `gid`, in arrival order.
    pub fn calls(&self, gid: &str) -> Vec<GrpcCall> {
        let st = self.service.state.lock().expect("busi state");
        st.calls
            .iter()
            .filter(|c| c.gid() == gid)
            .cloned()
            .collect()
    }

    /// Method names called for `gid`, in arrival order.
    pub fn methods(&self, gid: &str) -> Vec<String> {
        self.calls(gid).into_iter().map(|c| c.method).collect()
    }

    /// Waits until `gid` has seen at least `n` calls.
    pub async fn wait_calls(&self, gid: &str, n: usize, timeout: Duration) -> Vec<GrpcCall> {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.calls(gid);
            if calls.len() >= n {
                return calls;
            }
            if Instant::now() > deadline {
                panic!("{gid}: expected {n} grpc calls within {timeout:?}, got {calls:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for GrpcBusi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A client of the gRPC front door on `port`.
pub async fn dtm_client(port: u16) -> DtmClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect to the grpc front door");
    DtmClient::new(channel)
}
