//! Distributed tracing (issue 12): the W3C `traceparent` of the submitting request is
//! kept with the transaction and sent with every branch call; spans for submits, branch
//! calls and recovery passes are exported over OTLP when `Tracing.OtlpEndpoint` is set.
//! See docs/TRACING.md.

pub mod context;
pub mod export;

pub use context::TraceContext;
pub use export::{Span, SpanKind, Tracer};

tokio::task_local! {
    /// The context under which the branch calls of the running pass are made: the pass's
    /// span when spans are exported, else the transaction's stored context.
    static PASS: Option<TraceContext>;
}

/// Runs `fut` (a processing pass) with `context` as the parent of its branch calls.
pub async fn in_pass<F: std::future::Future>(context: Option<TraceContext>, fut: F) -> F::Output {
    PASS.scope(context, fut).await
}

/// The parent of branch calls made now (None outside a pass, or without a trace).
pub fn pass_context() -> Option<TraceContext> {
    PASS.try_with(Clone::clone).ok().flatten()
}
