//! The gRPC front door (`dtmgimp.Dtm`, `dtmx_server::api::grpc`): protobuf decoding of
//! each request message with the generated `prost` types, the message conversions
//! (`trans_request`, `branch_fields`, the `Steps` JSON inside `DtmRequest`) and the service
//! calls behind them, against a live embedded store.
//!
//! Input: the first byte picks the method (modulo 8), the rest is the encoded request
//! message. A message that does not decode is skipped (tonic refuses it before the
//! service). Status `Internal` (a caught panic) or `Unknown` other than DTM's own
//! (`documented_server_error`) is a finding, as is a panic.
#![no_main]

use dtmx_fuzz::{documented_server_error, Harness};
use dtmx_server::api::grpc::pb::dtmgimp::dtm_server::Dtm;
use dtmx_server::api::grpc::pb::dtmgimp::{DtmBranchRequest, DtmRequest, DtmTopicRequest};
use libfuzzer_sys::fuzz_target;
use prost::Message;
use std::sync::Mutex;
use tonic::{Code, Request, Status};

static HARNESS: Mutex<Option<Harness>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((&method, msg)) = data.split_first() else {
        return;
    };
    let mut guard = HARNESS.lock().unwrap_or_else(|e| e.into_inner());
    let harness = guard.get_or_insert_with(Harness::new);
    let result: Result<(), Status> = match method % 8 {
        m @ 0..=3 => {
            let Ok(req) = DtmRequest::decode(msg) else {
                return;
            };
            harness.grpc(|g| async move {
                let req = Request::new(req);
                match m {
                    0 => g.submit(req).await.map(drop),
                    1 => g.prepare(req).await.map(drop),
                    2 => g.abort(req).await.map(drop),
                    _ => g.prepare_workflow(req).await.map(drop),
                }
            })
        }
        4 => {
            let Ok(req) = DtmBranchRequest::decode(msg) else {
                return;
            };
            harness.grpc(|g| async move { g.register_branch(Request::new(req)).await.map(drop) })
        }
        m => {
            let Ok(req) = DtmTopicRequest::decode(msg) else {
                return;
            };
            harness.grpc(|g| async move {
                let req = Request::new(req);
                match m {
                    5 => g.subscribe(req).await.map(drop),
                    6 => g.unsubscribe(req).await.map(drop),
                    _ => g.delete_topic(req).await.map(drop),
                }
            })
        }
    };
    if let Err(status) = result {
        let documented =
            status.code() == Code::Unknown && documented_server_error(status.message());
        assert!(
            documented || !matches!(status.code(), Code::Internal | Code::Unknown),
            "gRPC {status:?}"
        );
    }
});
