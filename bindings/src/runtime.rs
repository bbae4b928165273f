//! The per-process runtime behind the blocking and callback entry points (native targets).
//!
//! Created on first use and never dropped. A process forked after it started inherits a
//! runtime without its threads, so every entry point refuses to run there, with a message
//! that says what to do, instead of hanging.

use crate::error::{Error, ErrorKind, Result};
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;
use tokio::runtime::Runtime;

struct Owned {
    pid: u32,
    runtime: std::result::Result<Runtime, String>,
}

static RUNTIME: OnceLock<Owned> = OnceLock::new();

/// The runtime of this process, created on first use; an error in a child forked after
/// that, or when the runtime cannot be built.
fn runtime() -> Result<&'static Runtime> {
    let owned = RUNTIME.get_or_init(|| Owned {
        pid: std::process::id(),
        runtime: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dtmx-runtime")
            .enable_all()
            .build()
            .map_err(|e| e.to_string()),
    });
    let pid = std::process::id();
    if owned.pid != pid {
        return Err(Error::new(
            ErrorKind::Internal,
            format!(
                "dtmx cannot run in process {pid}: it was forked from process {} after dtmx \
                 started its runtime there; use dtmx only in the child (create clients after \
                 the fork, e.g. in a worker's post-fork hook) or start processes with spawn",
                owned.pid
            ),
        ));
    }
    owned
        .runtime
        .as_ref()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot start runtime: {e}")))
}

/// Runs `future` to completion on the calling thread (the blocking entry point). Refused
/// on a thread of the runtime itself, where blocking would deadlock.
pub fn block_on<T, F>(future: F) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    let rt = runtime()?;
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "blocking dtmx call inside an asynchronous dtmx callback: use the async variant",
        ));
    }
    rt.block_on(AssertUnwindSafe(future).catch_unwind())
        .unwrap_or_else(|_| Err(panicked()))
}

/// Runs `future` on the runtime and calls `done` with its result on a runtime thread (the
/// callback entry point of Promise and asyncio APIs). A panic of the future is reported
/// to `done` as an `Internal` error; `done` itself must not panic.
pub fn spawn<T, F, D>(future: F, done: D) -> Result<()>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
    D: FnOnce(Result<T>) + Send + 'static,
{
    let rt = runtime()?;
    rt.spawn(async move {
        let result = AssertUnwindSafe(future)
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(panicked()));
        done(result);
    });
    Ok(())
}

fn panicked() -> Error {
    Error::new(ErrorKind::Internal, "a dtmx task panicked")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn blocking_and_spawned() {
        assert_eq!(block_on(async { Ok(7) }).expect("runs"), 7);
        let (tx, rx) = mpsc::channel();
        spawn(async { Ok(1) }, move |r| {
            let _ = tx.send(r.map_err(|e| e.kind()));
        })
        .expect("spawned");
        assert_eq!(rx.recv().expect("done"), Ok(1));
        let (tx, rx) = mpsc::channel();
        spawn(async { block_on(async { Ok(()) }) }, move |r: Result<()>| {
            let _ = tx.send(r.map_err(|e| e.kind()));
        })
        .expect("spawned");
        assert_eq!(rx.recv().expect("done"), Err(ErrorKind::InvalidArgument));
    }

    #[test]
    fn panics_become_errors() {
        let r: Result<()> = block_on(async { panic!("boom") });
        assert_eq!(r.map_err(|e| e.kind()), Err(ErrorKind::Internal));
    }
}
