//! Rows of the store: a global transaction, a branch, and the changes made to them.

use bytes::Bytes;
use dtmx::{TransOptions, TransStatus, TransType};

/// A global transaction as stored (times are Unix milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct TransRow {
    pub id: i64,
    pub gid: String,
    pub trans_type: TransType,
    pub status: TransStatus,
    pub query_prepared: String,
    pub protocol: String,
    pub create_time: i64,
    pub update_time: i64,
    pub finish_time: Option<i64>,
    pub rollback_time: Option<i64>,
    pub options: TransOptions,
    pub custom_data: String,
    /// Current retry interval in seconds.
    pub next_cron_interval: i64,
    pub next_cron_time: i64,
    pub owner: String,
    pub ext_data: String,
    pub result: String,
    pub rollback_reason: String,
}

/// A branch operation as stored (times are Unix milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct BranchRow {
    pub id: i64,
    pub gid: String,
    pub url: String,
    pub bin_data: Bytes,
    pub branch_id: String,
    pub op: String,
    pub status: TransStatus,
    pub create_time: i64,
    pub update_time: i64,
    pub finish_time: Option<i64>,
    pub rollback_time: Option<i64>,
}

/// The columns written by a global status change.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub status: TransStatus,
    pub now: i64,
    /// Written when non-empty.
    pub rollback_reason: String,
    /// Written when non-empty.
    pub result: String,
    /// Written when non-empty (a submit that promotes a prepared msg brings its delay).
    pub custom_data: String,
    /// Branch results that ride along: written first, while the global status is still
    /// the old one.
    pub branches: Vec<BranchRow>,
}

impl StatusChange {
    /// A change to `status` at `now` with no reason or result.
    pub fn to(status: TransStatus, now: i64) -> Self {
        StatusChange {
            status,
            now,
            rollback_reason: String::new(),
            result: String::new(),
            custom_data: String::new(),
            branches: Vec::new(),
        }
    }

    /// Applies the change to an in-memory row, as the store applies it to the stored one.
    pub fn apply(&self, trans: &mut TransRow) {
        trans.status = self.status;
        trans.update_time = self.now;
        match self.status {
            TransStatus::Succeed => trans.finish_time = Some(self.now),
            TransStatus::Failed => trans.rollback_time = Some(self.now),
            _ => {}
        }
        if !self.rollback_reason.is_empty() {
            trans.rollback_reason = self.rollback_reason.clone();
        }
        if !self.result.is_empty() {
            trans.result = self.result.clone();
        }
        if !self.custom_data.is_empty() {
            trans.custom_data = self.custom_data.clone();
        }
    }
}

/// Filters and paging of the `all` listing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanQuery {
    /// Id to continue below (empty: from the newest).
    pub position: String,
    pub limit: i64,
    pub status: String,
    pub trans_type: String,
    /// Inclusive bounds on `create_time`, Unix milliseconds.
    pub create_time_start: Option<i64>,
    pub create_time_end: Option<i64>,
}

/// A row of the generic key-value table (category `topics` holds the topic subscribers).
#[derive(Debug, Clone, PartialEq)]
pub struct KvRow {
    pub id: i64,
    pub cat: String,
    pub k: String,
    pub v: String,
    /// Starts at 1 and grows by one per update (optimistic lock).
    pub version: i64,
    pub create_time: i64,
    pub update_time: i64,
}

/// What retention needs to know of a stored transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: i64,
    pub gid: String,
    /// `None`: the transaction is gone already (a Redis listing entry whose data expired).
    pub status: Option<TransStatus>,
    /// Milliseconds since the epoch; `None` when not recorded.
    pub create_time: Option<i64>,
}
