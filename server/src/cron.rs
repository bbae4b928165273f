//! Recovery: the cron loop that leases due transactions and runs a pass over each
//! (PROTOCOL.md §5.4). Leases are `next_cron_time` pushed one `RetryInterval` ahead, so
//! several servers on one store never pick the same transaction while a lease holds.

use crate::engine::Engine;
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

/// Transactions leased at once; their passes run concurrently.
const BATCH: usize = 256;

/// Runs the cron until the process ends.
pub async fn run(engine: Arc<Engine>) {
    loop {
        let now = engine.now();
        let lease_until = now + engine.config.retry_interval * 1000;
        let leased = match engine.store.lock_due(now, lease_until, now, BATCH).await {
            Ok(leased) => leased,
            Err(e) => {
                tracing::warn!("cron cannot lease transactions: {e}");
                Vec::new()
            }
        };
        if leased.is_empty() {
            idle(&engine).await;
            continue;
        }
        let mut passes: FuturesUnordered<_> = leased
            .into_iter()
            .map(|(trans, branches)| {
                let engine = &engine;
                async move {
                    let gid = trans.gid.clone();
                    let pass = engine.pass(trans, branches, false);
                    // A panicking pass must not stop the cron for every other
                    // transaction (PROTOCOL.md §5.4: panics are recovered).
                    match AssertUnwindSafe(engine.recover(pass)).catch_unwind().await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::debug!(gid, "cron pass: {e}"),
                        Err(_) => tracing::error!(gid, "cron pass panicked"),
                    }
                }
            })
            .collect();
        while passes.next().await.is_some() {}
    }
}

/// Sleeps `TransCronInterval − U[0,1)` seconds, or until the clock moves or a
/// transaction is made due by an API call.
async fn idle(engine: &Engine) {
    let jitter = rand::random::<f64>();
    let secs = (engine.config.trans_cron_interval as f64 - jitter).max(0.05);
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs_f64(secs)) => {}
        _ = engine.clock.moved.notified() => {}
    }
}
