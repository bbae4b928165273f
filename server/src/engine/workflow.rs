//! The workflow processor (PROTOCOL.md §4.6). The client runs the workflow and records
//! its progress; the server only resumes an unfinished workflow by calling the client's
//! callback (`query_prepared`) until the client submits the final status.

use super::caller::{is_grpc, BranchCall};
use super::grpc_caller::workflow_data;
use super::{Engine, Pass};
use base64::Engine as _;
use dtmx::TransStatus;

/// Workflow extras in `custom_data`: the workflow's name and its base64 input.
#[derive(Debug, Default, serde::Deserialize)]
struct WorkflowData {
    #[serde(default)]
    name: String,
    #[serde(default)]
    data: String,
}

impl Engine {
    /// Calls the resume callback of a prepared workflow. The reply only gets logged: the
    /// next attempt comes one lease (`RetryInterval`) later, until the client submits.
    pub(super) async fn process_workflow(&self, pass: &mut Pass) {
        if pass.trans.status != TransStatus::Prepared {
            return;
        }
        let wf: WorkflowData = serde_json::from_str(&pass.trans.custom_data).unwrap_or_default();
        let input = base64::engine::general_purpose::STANDARD
            .decode(wf.data.as_bytes())
            .unwrap_or_default();
        let url = pass.trans.query_prepared.clone();
        // A gRPC callback takes the input wrapped in `workflow.WorkflowData`.
        let input = if is_grpc(&pass.trans, &url) {
            workflow_data(&input).to_vec()
        } else {
            input
        };
        let outcome = self
            .call(
                &pass.trans,
                BranchCall {
                    url: &url,
                    body: input.into(),
                    branch_id: "00",
                    op: &wf.name,
                },
            )
            .await;
        tracing::info!(gid = pass.trans.gid, "workflow resume call: {outcome:?}");
    }
}
