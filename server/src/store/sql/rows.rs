//! Decoding of SQL rows into store rows, and the time conversions.
//!
//! DTM's columns hold whole seconds; store rows hold Unix milliseconds.

use crate::store::{BranchRow, KvRow, StoreError, StoreResult, TransRow};
use dtmx::{TransOptions, TransStatus, TransType};
use sqlx::any::AnyRow;
use sqlx::Row;

/// Latest time the SQL stores hold: MariaDB's `FROM_UNIXTIME` stops at 2038-01-19, so
/// later times (a cron time pushed out by an absurd retry interval) are held at that.
const MAX_SECS: i64 = i32::MAX as i64;

/// Unix milliseconds to the seconds stored in a time column.
pub fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000).clamp(0, MAX_SECS)
}

/// A retry interval in seconds as DTM's `int` column holds it.
pub fn interval(secs: i64) -> i64 {
    secs.clamp(0, i32::MAX as i64)
}

/// Optional milliseconds to optional seconds.
pub fn opt_secs(ms: Option<i64>) -> Option<i64> {
    ms.map(secs)
}

/// A database error as a store error.
pub fn db_err(e: sqlx::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

fn get<'r, T>(row: &'r AnyRow, i: usize) -> StoreResult<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(i).map_err(db_err)
}

/// A text column; MySQL reports `TEXT` columns as blobs, which are read as UTF-8.
fn text(row: &AnyRow, i: usize) -> StoreResult<String> {
    match row.try_get::<Option<String>, _>(i) {
        Ok(text) => Ok(text.unwrap_or_default()),
        Err(_) => {
            let bytes = get::<Option<Vec<u8>>>(row, i)?.unwrap_or_default();
            String::from_utf8(bytes)
                .map_err(|_| StoreError::Db(format!("column {i} is not valid UTF-8")))
        }
    }
}

fn time(row: &AnyRow, i: usize) -> StoreResult<Option<i64>> {
    Ok(get::<Option<i64>>(row, i)?.map(|s| s * 1000))
}

fn status(text: &str) -> StoreResult<TransStatus> {
    TransStatus::parse(text).ok_or_else(|| StoreError::Db(format!("unknown status {text:?}")))
}

/// A `trans_global` row selected with `Statements::trans_columns`.
pub fn trans(row: &AnyRow) -> StoreResult<TransRow> {
    let trans_type = text(row, 2)?;
    let options = text(row, 10)?;
    Ok(TransRow {
        id: get(row, 0)?,
        gid: text(row, 1)?,
        trans_type: TransType::parse(&trans_type)
            .ok_or_else(|| StoreError::Db(format!("unknown trans type {trans_type:?}")))?,
        status: status(&text(row, 3)?)?,
        query_prepared: text(row, 4)?,
        protocol: text(row, 5)?,
        create_time: time(row, 6)?.unwrap_or_default(),
        update_time: time(row, 7)?.unwrap_or_default(),
        finish_time: time(row, 8)?,
        rollback_time: time(row, 9)?,
        options: if options.is_empty() {
            TransOptions::default()
        } else {
            serde_json::from_str(&options)
                .map_err(|e| StoreError::Db(format!("bad options column: {e}")))?
        },
        custom_data: text(row, 11)?,
        next_cron_interval: get::<Option<i64>>(row, 12)?.unwrap_or_default(),
        next_cron_time: time(row, 13)?.unwrap_or_default(),
        owner: text(row, 14)?,
        ext_data: text(row, 15)?,
        result: text(row, 16)?,
        rollback_reason: text(row, 17)?,
    })
}

/// A `trans_branch_op` row selected with `Statements::branch_columns`.
pub fn branch(row: &AnyRow) -> StoreResult<BranchRow> {
    Ok(BranchRow {
        id: get(row, 0)?,
        gid: text(row, 1)?,
        url: text(row, 2)?,
        bin_data: get::<Option<Vec<u8>>>(row, 3)?.unwrap_or_default().into(),
        branch_id: text(row, 4)?,
        op: text(row, 5)?,
        status: status(&text(row, 6)?)?,
        create_time: time(row, 7)?.unwrap_or_default(),
        update_time: time(row, 8)?.unwrap_or_default(),
        finish_time: time(row, 9)?,
        rollback_time: time(row, 10)?,
    })
}

/// A `kv` row selected with `Statements::kv_columns`.
pub fn kv(row: &AnyRow) -> StoreResult<KvRow> {
    Ok(KvRow {
        id: get(row, 0)?,
        cat: text(row, 1)?,
        k: text(row, 2)?,
        v: text(row, 3)?,
        version: get::<Option<i64>>(row, 4)?.unwrap_or(1),
        create_time: time(row, 5)?.unwrap_or_default(),
        update_time: time(row, 6)?.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_down_to_seconds() {
        assert_eq!(secs(1_999), 1);
        assert_eq!(secs(-1), 0);
        assert_eq!(secs(i64::MAX), i32::MAX as i64);
        assert_eq!(interval(i64::MAX), i32::MAX as i64);
        assert_eq!(opt_secs(Some(5_000)), Some(5));
        assert_eq!(opt_secs(None), None);
    }
}
