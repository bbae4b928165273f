//! Retention: finished transactions (`succeed` or `failed`) created more than
//! `FinishedRetention` seconds ago are deleted with their branches, in the background, in
//! batches of `RetentionBatch`, on every store. Off (0) by default, as in DTM.
//!
//! A sweep walks the transactions from the oldest, in id order, deletes the finished ones
//! and stops at the first one created after the cutoff. Unfinished old transactions are
//! kept (and walked over again on the next sweep, which starts from the oldest again, so
//! they are deleted once they finish).

use crate::engine::Engine;
use crate::store::{Store, StoreResult};
use std::sync::Arc;
use std::time::Duration;

/// Runs a sweep every `TransCronInterval` seconds until the process ends (nothing when
/// retention is off).
pub async fn run(engine: Arc<Engine>) {
    let age = engine.config.finished_retention;
    if age <= 0 {
        return;
    }
    loop {
        let cutoff = engine.now() - age * 1000;
        match sweep(engine.store.as_ref(), cutoff, engine.config.retention_batch).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("retention deleted {n} finished transactions"),
            Err(e) => tracing::warn!("retention sweep failed: {e}"),
        }
        let interval = Duration::from_secs(engine.config.trans_cron_interval.max(1) as u64);
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = engine.clock.moved.notified() => {}
        }
    }
}

/// Deletes the finished transactions created before `cutoff` (milliseconds since the
/// epoch), examining `batch` transactions per store query; returns how many it deleted.
pub async fn sweep(store: &dyn Store, cutoff: i64, batch: i64) -> StoreResult<u64> {
    let mut after = 0;
    let mut deleted = 0;
    loop {
        let listed = store.list_after(after, batch).await?;
        let mut doomed = Vec::new();
        let mut reached_new = false;
        for t in &listed {
            if t.create_time.is_some_and(|c| c >= cutoff) {
                reached_new = true;
                break;
            }
            after = t.id;
            let gone = t.status.is_none();
            let old_and_final = t.create_time.is_some() && t.status.is_some_and(|s| s.is_final());
            if gone || old_and_final {
                doomed.push(t.gid.clone());
            }
        }
        if !doomed.is_empty() {
            deleted += store.delete_final(doomed).await?;
        }
        if reached_new || (listed.len() as i64) < batch {
            return Ok(deleted);
        }
    }
}
