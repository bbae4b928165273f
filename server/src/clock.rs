//! The server's clock: wall time in Unix milliseconds, plus an offset that only the test
//! hooks move (PROTOCOL.md §10, "test hooks"), so time-based behaviour can be tested
//! without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Wall clock with a test offset.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
    /// Woken when the offset moves, so sleepers re-check what is due.
    pub moved: Notify,
}

impl Clock {
    /// Current time in Unix milliseconds, offset included.
    pub fn now_ms(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        wall + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock forward by `seconds` and wakes sleepers.
    pub fn forward(&self, seconds: i64) {
        self.offset_ms.fetch_add(seconds * 1000, Ordering::Relaxed);
        self.moved.notify_waiters();
    }
}
