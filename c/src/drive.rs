//! Runs a core future whose body is a host callback (`dtmx_tcc_run`, `dtmx_xa_run`,
//! `dtmx_msg_do_and_submit`). The future is polled on the calling thread, inside the
//! runtime's context; the callback runs on the same thread between two polls, outside
//! that context, so that it may make blocking dtmx calls (`dtmx_tcc_call_branch`, another
//! transaction) as any other host code does. The contract (prepare, body, submit or
//! abort, notes) is the core's: this only decides where the body runs.

use crate::error::DtmxError;
use crate::ffi::write_error;
use dtmx_bindings::runtime::block_on;
use dtmx_bindings::Result;
use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Where the core's body asks for the host callback (with the handle it runs on) and
/// finds its result.
pub(crate) struct Body<H> {
    state: RefCell<State<H>>,
}

enum State<H> {
    Idle,
    Asked(H),
    Done(Result<()>),
}

impl<H> Body<H> {
    /// A body not asked for yet.
    pub(crate) fn new() -> Body<H> {
        Body {
            state: RefCell::new(State::Idle),
        }
    }

    /// The body the core awaits: asks for the callback on `handle`, resolves to its result.
    pub(crate) async fn run(&self, handle: H) -> Result<()> {
        *self.state.borrow_mut() = State::Asked(handle);
        poll_fn(|_| {
            let mut state = self.state.borrow_mut();
            match std::mem::replace(&mut *state, State::Idle) {
                State::Done(result) => Poll::Ready(result),
                other => {
                    *state = other;
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// The handle of a body asked for and not run yet.
    fn asked(&self) -> Option<H> {
        let mut state = self.state.borrow_mut();
        match std::mem::replace(&mut *state, State::Idle) {
            State::Asked(handle) => Some(handle),
            other => {
                *state = other;
                None
            }
        }
    }
}

/// Wakes the calling thread, parked while the runtime's threads do the I/O.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on the calling thread; whenever it awaits `body`, runs
/// `callback` with the body's handle there and hands its result back.
pub(crate) fn drive<H, T>(
    body: &Body<H>,
    future: impl Future<Output = Result<T>>,
    mut callback: impl FnMut(H) -> Result<()>,
) -> Result<T> {
    // The runtime (refused after a fork, or inside an asynchronous dtmx callback).
    let runtime = block_on(async { Ok(tokio::runtime::Handle::current()) })?;
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        let polled = {
            let _inside = runtime.enter();
            future.as_mut().poll(&mut cx)
        };
        if let Poll::Ready(result) = polled {
            return result;
        }
        match body.asked() {
            Some(handle) => *body.state.borrow_mut() = State::Done(callback(handle)),
            None => thread::park(),
        }
    }
}

/// Calls a host callback with a fresh error out-parameter; what it reported there.
pub(crate) fn reported(call: impl FnOnce(&mut DtmxError)) -> Result<()> {
    let mut err = DtmxError::empty();
    call(&mut err);
    let result = err.reported().map_or(Ok(()), Err);
    write_error(&mut err, None);
    result
}
