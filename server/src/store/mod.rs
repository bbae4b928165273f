//! Storage of global transactions and their branches, behind one trait.
//!
//! Writes come in two strengths, following the durability rule of DESIGN.md §2: durable
//! writes (a new transaction, a status change a client waits for) are acknowledged only
//! after they are on disk; lazy writes (branch results, cron bookkeeping) are applied in
//! order with the others and become durable with the next durable commit. A store applies
//! all writes in submission order.

mod codec;
mod model;
pub mod redis;
pub mod sql;
pub mod sqlite;

pub use model::{BranchRow, KvRow, Listed, ScanQuery, StatusChange, TransRow};

use crate::config::{StoreConfig, StoreDriver};
use async_trait::async_trait;
use dtmx::TransStatus;
use std::path::Path;
use std::sync::Arc;

/// Errors of a store.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The row does not exist, or not with the expected status.
    #[error("storage: NotFound")]
    NotFound,
    /// A row with the same key exists.
    #[error("storage: UniqueKeyConflict")]
    UniqueConflict,
    /// The database failed; the write did not happen.
    #[error("storage error: {0}")]
    Db(String),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Resolves when a queued write has been committed.
pub type WriteAck = std::pin::Pin<Box<dyn std::future::Future<Output = StoreResult<()>> + Send>>;

/// New cron fields of a transaction, with branch results that ride along.
#[derive(Debug, Clone)]
pub struct CronTouch {
    pub gid: String,
    /// Applied only while the global status is this one.
    pub status: TransStatus,
    pub interval: i64,
    pub next_time: i64,
    pub now: i64,
    pub branches: Vec<BranchRow>,
}

/// A transaction leased by the cron, with its branches.
pub type Leased = (TransRow, Vec<BranchRow>);

/// The operations the engine and the API need from a store.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Durably inserts a new transaction with its branches and returns its id;
    /// `UniqueConflict` if the gid exists.
    async fn save_new(&self, trans: TransRow, branches: Vec<BranchRow>) -> StoreResult<i64>;

    /// The transaction with this gid, if any.
    async fn find_trans(&self, gid: &str) -> StoreResult<Option<TransRow>>;

    /// The branches of a transaction in insertion order.
    async fn find_branches(&self, gid: &str) -> StoreResult<Vec<BranchRow>>;

    /// A page of transactions, newest first, and the position of the next page.
    async fn scan(&self, query: ScanQuery) -> StoreResult<(Vec<TransRow>, String)>;

    /// Durably appends branches if the transaction has `status`; `NotFound` if not,
    /// `UniqueConflict` if a `(branch_id, op)` exists.
    async fn append_branches(
        &self,
        gid: &str,
        status: TransStatus,
        branches: Vec<BranchRow>,
    ) -> StoreResult<()>;

    /// Compare-and-set of the global status; `NotFound` if the status is not `old`.
    /// A durable change is on disk before this returns.
    async fn change_status(
        &self,
        gid: &str,
        old: TransStatus,
        change: StatusChange,
        durable: bool,
    ) -> StoreResult<()>;

    /// Queues branch results (applied only while the global status is `global`) at once;
    /// the returned acknowledgement resolves when they are committed, not necessarily
    /// durable. Dropping it leaves the write queued.
    fn update_branches(&self, global: TransStatus, branches: Vec<BranchRow>) -> WriteAck;

    /// Lazily sets the cron fields and writes branch results, only while the global status
    /// is `status`.
    fn touch_cron(&self, touch: CronTouch);

    /// Leases up to `limit` unfinished transactions due before `due_before` by moving their
    /// `next_cron_time` to `lease_until`, and returns them with their branches.
    async fn lock_due(
        &self,
        due_before: i64,
        lease_until: i64,
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<Leased>>;

    /// Pulls unfinished transactions whose `next_cron_time` is after `after` back to `now`,
    /// at most `limit`; returns how many, and whether more remain.
    async fn reset_cron_time(&self, after: i64, now: i64, limit: i64) -> StoreResult<(i64, bool)>;

    /// Sets `next_cron_time` of one transaction to `now`; `NotFound` if absent.
    async fn reset_next_cron_time(&self, gid: &str, now: i64) -> StoreResult<()>;

    /// Makes every write so far durable.
    async fn flush(&self) -> StoreResult<()>;

    /// KV rows of category `cat`: the one with key `key`, or all of them if `key` is empty.
    async fn kv_find(&self, cat: &str, key: &str) -> StoreResult<Vec<KvRow>>;

    /// A page of KV rows of `cat`, newest first, and the position of the next page.
    async fn kv_scan(
        &self,
        cat: &str,
        position: &str,
        limit: i64,
    ) -> StoreResult<(Vec<KvRow>, String)>;

    /// Durably creates a KV row with version 1; `UniqueConflict` if it exists.
    async fn kv_create(&self, cat: &str, key: &str, value: &str, now: i64) -> StoreResult<()>;

    /// Durably replaces the value of a KV row if its version is still `version`, bumping
    /// it; `NotFound` otherwise.
    async fn kv_update(
        &self,
        cat: &str,
        key: &str,
        value: &str,
        version: i64,
        now: i64,
    ) -> StoreResult<()>;

    /// Durably deletes a KV row; `NotFound` if absent.
    async fn kv_delete(&self, cat: &str, key: &str) -> StoreResult<()>;

    /// Up to `limit` transactions with an id above `after`, oldest first (retention).
    async fn list_after(&self, after: i64, limit: i64) -> StoreResult<Vec<Listed>>;

    /// Deletes the transactions of `gids` with their branches, each only if it is final
    /// (`succeed` or `failed`); returns how many were deleted.
    async fn delete_final(&self, gids: Vec<String>) -> StoreResult<u64>;
}

/// The position of the page after `rows`, a page of at most `limit` rows listed by
/// descending id: the last row's id, or "" when the page is short (the listing ends).
pub(crate) fn next_position<T>(rows: &[T], limit: i64, id: impl Fn(&T) -> i64) -> String {
    match rows.last() {
        Some(last) if rows.len() as i64 == limit => id(last).to_string(),
        _ => String::new(),
    }
}

/// Which of `shards` writer shards handles `key` (a gid or KV key), so that one
/// transaction's writes stay in order.
pub(crate) fn shard_index(key: &str, shards: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % shards.max(1) as u64) as usize
}

/// Opens the store that `config` names (waiting for a database server to answer).
pub async fn open(config: &StoreConfig) -> StoreResult<Arc<dyn Store>> {
    Ok(match &config.driver {
        StoreDriver::Sqlite => Arc::new(sqlite::SqliteStore::open(Path::new(&config.path))?),
        StoreDriver::Postgres => {
            Arc::new(sql::SqlStore::open(sql::Dialect::Postgres, config).await?)
        }
        StoreDriver::Mysql => Arc::new(sql::SqlStore::open(sql::Dialect::Mysql, config).await?),
        StoreDriver::Redis => Arc::new(redis::RedisStore::open(config).await?),
        StoreDriver::Unsupported(name) => {
            return Err(StoreError::Db(format!(
                "store driver {name:?} is not available"
            )))
        }
    })
}

/// Deletes every transaction and KV row of the store `config` names, leaving empty tables
/// (DTM's `-r`).
pub async fn reset(config: &StoreConfig) -> StoreResult<()> {
    match &config.driver {
        StoreDriver::Sqlite => sqlite::SqliteStore::reset(Path::new(&config.path)),
        StoreDriver::Postgres => sql::SqlStore::reset(sql::Dialect::Postgres, config).await,
        StoreDriver::Mysql => sql::SqlStore::reset(sql::Dialect::Mysql, config).await,
        StoreDriver::Redis => redis::RedisStore::reset(config).await,
        StoreDriver::Unsupported(name) => Err(StoreError::Db(format!(
            "store driver {name:?} is not available"
        ))),
    }
}

/// A short description of where the store is, for logs.
pub fn describe(config: &StoreConfig) -> String {
    match &config.driver {
        StoreDriver::Sqlite => format!("sqlite {}", config.path),
        StoreDriver::Redis => format!(
            "redis {}:{} prefix {}",
            config.host, config.port, config.redis_prefix
        ),
        other => format!("{other:?} {}:{}/{}", config.host, config.port, config.db).to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_page_points_past_its_last_row() {
        assert_eq!(next_position(&[9, 7], 2, |id| *id), "7");
        assert_eq!(next_position(&[9], 2, |id| *id), "", "a short page ends it");
        assert_eq!(next_position::<i64>(&[], 0, |id| *id), "");
    }

    #[test]
    fn a_key_always_goes_to_the_same_shard() {
        let shard = shard_index("gid-1", 4);
        assert!(shard < 4);
        assert_eq!(shard_index("gid-1", 4), shard);
        assert_eq!(shard_index("gid-1", 0), 0, "no shards means one");
    }
}
