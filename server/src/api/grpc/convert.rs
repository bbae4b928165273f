//! Conversions between DTM's gRPC messages and the service layer's types, and the gRPC
//! status of a service error (PROTOCOL.md §2.1, §2.3).

use super::pb::dtmgimp::{
    DtmBranchRequest, DtmProgress, DtmProgressesReply, DtmRequest, DtmTransaction,
};
use crate::error::DtmError;
use crate::store::{BranchRow, TransRow};
use bytes::Bytes;
use dtmx::{Protocol, TransOptions, TransRequest};
use std::collections::BTreeMap;
use tonic::Status;

/// A `DtmRequest` as the service layer takes it: the transaction request (protocol
/// `grpc`) and the binary step payloads.
pub fn trans_request(req: DtmRequest) -> Result<(TransRequest, Vec<Bytes>), DtmError> {
    let steps = if req.steps.is_empty() {
        Vec::new()
    } else {
        let bad = |e: serde_json::Error| {
            DtmError::BadRequest(format!("Steps is not a JSON array of steps: {e}"))
        };
        let value: serde_json::Value = serde_json::from_str(&req.steps).map_err(bad)?;
        // The lenient JSON decoding of HTTP bodies (null entries, null values) applies.
        serde_json::from_value::<TransRequest>(serde_json::json!({ "steps": value }))
            .map_err(bad)?
            .steps
    };
    let o = req.trans_options.unwrap_or_default();
    let options = TransOptions {
        wait_result: o.wait_result,
        timeout_to_fail: o.timeout_to_fail,
        request_timeout: o.request_timeout,
        retry_interval: o.retry_interval,
        branch_headers: o.branch_headers.into_iter().collect(),
        concurrent: false,
        retry_limit: o.retry_limit,
        retry_count: 0,
    };
    let trans = TransRequest {
        gid: req.gid,
        trans_type: req.trans_type,
        steps,
        payloads: Vec::new(),
        custom_data: req.customed_data,
        query_prepared: req.query_prepared,
        protocol: Protocol::Grpc.as_str().into(),
        status: String::new(),
        rollback_reason: req.rollback_reason,
        req_extra: req.req_extra.into_iter().collect(),
        options,
    };
    let payloads = req.bin_payloads.into_iter().map(Bytes::from).collect();
    Ok((trans, payloads))
}

/// A `DtmBranchRequest` as the fields of `registerBranch` (its `Data` map, then `gid`,
/// `trans_type`, `branch_id`) and the branch payload (`BusiPayload`).
pub fn branch_fields(req: DtmBranchRequest) -> (BTreeMap<String, String>, Bytes) {
    let mut fields: BTreeMap<String, String> = req.data.into_iter().collect();
    fields.insert("gid".into(), req.gid);
    fields.insert("trans_type".into(), req.trans_type);
    fields.insert("branch_id".into(), req.branch_id);
    (fields, Bytes::from(req.busi_payload))
}

/// The `PrepareWorkflow` reply: the transaction (with its result, unlike DTM's) and its
/// recorded progress.
pub fn progresses(trans: &TransRow, branches: &[BranchRow]) -> DtmProgressesReply {
    DtmProgressesReply {
        transaction: Some(DtmTransaction {
            gid: trans.gid.clone(),
            status: trans.status.as_str().into(),
            rollback_reason: trans.rollback_reason.clone(),
            result: trans.result.clone(),
        }),
        progresses: branches
            .iter()
            .map(|b| DtmProgress {
                status: b.status.as_str().into(),
                bin_data: b.bin_data.to_vec(),
                branch_id: b.branch_id.clone(),
                op: b.op.clone(),
            })
            .collect(),
    }
}

/// The gRPC status of a service error: failure `Aborted`, ongoing `FailedPrecondition`,
/// invalid input or a request over a limit `InvalidArgument`, a host outside
/// `BranchHostAllowlist` `PermissionDenied`, anything else `Unknown` (DTM returns such errors raw).
pub fn status(e: DtmError) -> Status {
    match e {
        DtmError::Failure(m) => Status::aborted(m),
        DtmError::Ongoing(m) => Status::failed_precondition(m),
        DtmError::BadRequest(m) | DtmError::TooLarge(m) => Status::invalid_argument(m),
        DtmError::Forbidden(m) => Status::permission_denied(m),
        DtmError::Server(m) => Status::unknown(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::grpc::pb::dtmgimp::DtmTransOptions;

    #[test]
    fn decodes_requests() {
        let req = DtmRequest {
            gid: "g".into(),
            trans_type: "saga".into(),
            trans_options: Some(DtmTransOptions {
                wait_result: true,
                request_timeout: 5,
                ..Default::default()
            }),
            steps: r#"[{"action":"h:1/a.B/C","compensate":null}]"#.into(),
            bin_payloads: vec![vec![1, 2]],
            ..Default::default()
        };
        let (t, bin) = trans_request(req).expect("valid request");
        assert_eq!(t.protocol, "grpc");
        assert!(t.options.wait_result);
        assert_eq!(t.options.request_timeout, 5);
        assert_eq!(t.steps[0]["action"], "h:1/a.B/C");
        assert_eq!(t.steps[0]["compensate"], "");
        assert_eq!(bin, vec![Bytes::from_static(&[1, 2])]);
        let none = DtmRequest {
            steps: "null".into(),
            ..Default::default()
        };
        assert!(trans_request(none).expect("null steps").0.steps.is_empty());
        let bad = DtmRequest {
            steps: "{".into(),
            ..Default::default()
        };
        let err = trans_request(bad).expect_err("bad steps");
        assert_eq!(status(err).code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn statuses() {
        assert_eq!(status(DtmError::failure("x")).code(), tonic::Code::Aborted);
        assert_eq!(
            status(DtmError::Ongoing("x".into())).code(),
            tonic::Code::FailedPrecondition
        );
        assert_eq!(
            status(DtmError::BadRequest("x".into())).code(),
            tonic::Code::InvalidArgument
        );
    }
}
