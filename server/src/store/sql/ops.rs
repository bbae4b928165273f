//! The writes of a SQL store, each applied inside the caller's database transaction.
//!
//! A write either happens or is refused with a store error (`NotFound`,
//! `UniqueConflict`) having changed nothing; a database error aborts the whole batch it
//! is part of (the writer then retries its writes one by one).

use super::dialect::{Dialect, Statements};
use super::rows::{interval, opt_secs, secs};
use crate::store::{BranchRow, CronTouch, StatusChange, StoreError, StoreResult, TransRow};
use dtmx::TransStatus;
use sqlx::AnyConnection;
use sqlx::Row;

/// One write.
pub enum Op {
    SaveNew {
        trans: Box<TransRow>,
        options: String,
        branches: Vec<BranchRow>,
    },
    Append {
        gid: String,
        status: TransStatus,
        branches: Vec<BranchRow>,
    },
    ChangeStatus {
        gid: String,
        old: TransStatus,
        change: StatusChange,
    },
    UpdateBranches {
        global: TransStatus,
        branches: Vec<BranchRow>,
    },
    Touch(CronTouch),
    ResetNext {
        gid: String,
        now: i64,
    },
    KvCreate {
        cat: String,
        key: String,
        value: String,
        now: i64,
    },
    KvUpdate {
        cat: String,
        key: String,
        value: String,
        version: i64,
        now: i64,
    },
    KvDelete {
        cat: String,
        key: String,
    },
    /// Writes nothing; its commit follows every earlier write of its shard.
    Flush,
}

/// What a write did: its result (an id for new transactions), or the database error that
/// aborts its batch.
pub type Applied = Result<StoreResult<i64>, sqlx::Error>;

/// Largest number of branch rows in one insert statement.
const INSERT_CHUNK: usize = 500;

impl Op {
    /// The gid (or KV key) that decides which writer shard runs this write.
    pub fn shard_key(&self) -> &str {
        match self {
            Op::SaveNew { trans, .. } => &trans.gid,
            Op::Append { gid, .. } | Op::ChangeStatus { gid, .. } | Op::ResetNext { gid, .. } => {
                gid
            }
            Op::UpdateBranches { branches, .. } => branches.first().map_or("", |b| &b.gid),
            Op::Touch(t) => &t.gid,
            Op::KvCreate { key, .. } | Op::KvUpdate { key, .. } | Op::KvDelete { key, .. } => key,
            Op::Flush => "",
        }
    }

    /// Applies the write on `conn`. `alone` is set when the write runs in a transaction of
    /// its own: a unique-key violation then means the row exists.
    pub async fn apply(&self, conn: &mut AnyConnection, st: &Statements, alone: bool) -> Applied {
        let result = self.run(conn, st).await;
        match result {
            Err(sqlx::Error::Database(e)) if alone && e.is_unique_violation() => {
                Ok(Err(StoreError::UniqueConflict))
            }
            other => other,
        }
    }

    async fn run(&self, conn: &mut AnyConnection, st: &Statements) -> Applied {
        match self {
            Op::SaveNew {
                trans,
                options,
                branches,
            } => {
                let mut saved = save_many(conn, st, &[(trans, options, branches)]).await?;
                Ok(saved.pop().unwrap_or(Err(StoreError::NotFound)))
            }
            Op::Append {
                gid,
                status,
                branches,
            } => append(conn, st, gid, *status, branches).await,
            Op::ChangeStatus { gid, old, change } => {
                write_branches(conn, st, *old, &change.branches).await?;
                change_status(conn, st, gid, *old, change).await
            }
            Op::UpdateBranches { global, branches } => {
                write_branches(conn, st, *global, branches).await?;
                Ok(Ok(0))
            }
            Op::Touch(t) => {
                write_branches(conn, st, t.status, &t.branches).await?;
                sqlx::query(&st.touch)
                    .bind(interval(t.interval))
                    .bind(secs(t.next_time))
                    .bind(secs(t.now))
                    .bind(&t.gid)
                    .bind(t.status.as_str())
                    .execute(&mut *conn)
                    .await?;
                Ok(Ok(0))
            }
            Op::ResetNext { gid, now } => {
                let done = sqlx::query(&st.reset_next)
                    .bind(secs(*now))
                    .bind(secs(*now))
                    .bind(gid)
                    .execute(&mut *conn)
                    .await?;
                Ok(changed_one(done.rows_affected()))
            }
            Op::KvCreate {
                cat,
                key,
                value,
                now,
            } => {
                let done = sqlx::query(&st.kv_create)
                    .bind(cat)
                    .bind(key)
                    .bind(value)
                    .bind(secs(*now))
                    .bind(secs(*now))
                    .execute(&mut *conn)
                    .await?;
                Ok(if done.rows_affected() == 0 {
                    Err(StoreError::UniqueConflict)
                } else {
                    Ok(0)
                })
            }
            Op::KvUpdate {
                cat,
                key,
                value,
                version,
                now,
            } => {
                let done = sqlx::query(&st.kv_update)
                    .bind(value)
                    .bind(secs(*now))
                    .bind(cat)
                    .bind(key)
                    .bind(*version)
                    .execute(&mut *conn)
                    .await?;
                Ok(changed_one(done.rows_affected()))
            }
            Op::KvDelete { cat, key } => {
                let done = sqlx::query(&st.kv_delete)
                    .bind(cat)
                    .bind(key)
                    .execute(&mut *conn)
                    .await?;
                Ok(changed_one(done.rows_affected()))
            }
            Op::Flush => Ok(Ok(0)),
        }
    }
}

fn changed_one(rows: u64) -> StoreResult<i64> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(0)
    }
}

/// A new transaction of a batch: the row, its options as JSON, its branches.
pub type NewTrans<'a> = (&'a TransRow, &'a str, &'a [BranchRow]);

/// Largest number of transactions in one insert statement.
const SAVE_CHUNK: usize = 200;

/// Inserts the new transactions of a batch with one statement per chunk (and their
/// branches with one more); the result of each, in order: its id, or `UniqueConflict`
/// when the gid exists (on MySQL a duplicate fails the statement instead, and the writer
/// retries the batch one by one).
pub async fn save_many(
    conn: &mut AnyConnection,
    st: &Statements,
    news: &[NewTrans<'_>],
) -> Result<Vec<StoreResult<i64>>, sqlx::Error> {
    let mut results = Vec::with_capacity(news.len());
    for chunk in news.chunks(SAVE_CHUNK) {
        let sql = st.insert_trans(chunk.len());
        let mut q = sqlx::query(&sql);
        for (t, options, _) in chunk {
            q = q
                .bind(&t.gid)
                .bind(t.trans_type.as_str())
                .bind(t.status.as_str())
                .bind(&t.query_prepared)
                .bind(&t.protocol)
                .bind(secs(t.create_time))
                .bind(secs(t.update_time))
                .bind(opt_secs(t.finish_time))
                .bind(opt_secs(t.rollback_time))
                .bind(*options)
                .bind(&t.custom_data)
                .bind(interval(t.next_cron_interval))
                .bind(secs(t.next_cron_time))
                .bind(&t.owner)
                .bind(&t.ext_data)
                .bind(&t.result)
                .bind(&t.rollback_reason);
        }
        let inserted = match st.dialect {
            Dialect::Postgres => q.fetch_all(&mut *conn).await?,
            Dialect::Mysql => {
                q.execute(&mut *conn).await?;
                let sql = st.dialect.sql(&format!(
                    "SELECT id, gid FROM trans_global WHERE gid IN ({})",
                    Statements::marks(chunk.len())
                ));
                let mut q = sqlx::query(&sql);
                for (t, _, _) in chunk {
                    q = q.bind(&t.gid);
                }
                q.fetch_all(&mut *conn).await?
            }
        };
        let mut ids = std::collections::HashMap::with_capacity(inserted.len());
        for row in &inserted {
            ids.insert(row.try_get::<String, _>(1)?, row.try_get::<i64, _>(0)?);
        }
        let mut branches = Vec::new();
        for (t, _, b) in chunk {
            match ids.remove(&t.gid) {
                Some(id) => {
                    branches.extend_from_slice(b);
                    results.push(Ok(id));
                }
                None => results.push(Err(StoreError::UniqueConflict)),
            }
        }
        insert_branches(conn, st, &branches).await?;
    }
    Ok(results)
}

async fn insert_branches(
    conn: &mut AnyConnection,
    st: &Statements,
    branches: &[BranchRow],
) -> Result<(), sqlx::Error> {
    for chunk in branches.chunks(INSERT_CHUNK) {
        let sql = st.insert_branches(chunk.len());
        let mut q = sqlx::query(&sql);
        for b in chunk {
            q = q
                .bind(&b.gid)
                .bind(&b.url)
                .bind(&b.bin_data[..])
                .bind(&b.branch_id)
                .bind(&b.op)
                .bind(b.status.as_str())
                .bind(secs(b.create_time))
                .bind(secs(b.update_time))
                .bind(opt_secs(b.finish_time))
                .bind(opt_secs(b.rollback_time));
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn append(
    conn: &mut AnyConnection,
    st: &Statements,
    gid: &str,
    status: TransStatus,
    branches: &[BranchRow],
) -> Applied {
    let current: Option<String> = sqlx::query_scalar(&st.lock_status)
        .bind(gid)
        .fetch_optional(&mut *conn)
        .await?;
    if current.as_deref() != Some(status.as_str()) {
        return Ok(Err(StoreError::NotFound));
    }
    let mut keys: Vec<(String, String)> = sqlx::query(&st.branch_keys)
        .bind(gid)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
    for b in branches {
        if keys
            .iter()
            .any(|(id, op)| *id == b.branch_id && *op == b.op)
        {
            return Ok(Err(StoreError::UniqueConflict));
        }
        keys.push((b.branch_id.clone(), b.op.clone()));
    }
    insert_branches(conn, st, branches).await?;
    Ok(Ok(0))
}

/// Writes branch results, each only while its transaction's status is `global`: one
/// statement per transaction.
async fn write_branches(
    conn: &mut AnyConnection,
    st: &Statements,
    global: TransStatus,
    branches: &[BranchRow],
) -> Result<(), sqlx::Error> {
    let mut rest = branches;
    while let Some(first) = rest.first() {
        let n = rest.iter().take_while(|b| b.gid == first.gid).count();
        let (run, others) = rest.split_at(n);
        rest = others;
        // The last result of a branch wins, as if written one after the other.
        let mut mine: Vec<&BranchRow> = Vec::with_capacity(run.len());
        for b in run.iter().rev() {
            if !mine
                .iter()
                .any(|m| m.branch_id == b.branch_id && m.op == b.op)
            {
                mine.push(b);
            }
        }
        let sql = st.update_branches(mine.len());
        let mut q = sqlx::query(&sql);
        for b in &mine {
            q = q.bind(&b.branch_id).bind(&b.op).bind(b.status.as_str());
        }
        for b in &mine {
            q = q.bind(&b.branch_id).bind(&b.op).bind(secs(b.update_time));
        }
        for b in &mine {
            q = q
                .bind(&b.branch_id)
                .bind(&b.op)
                .bind(opt_secs(b.finish_time));
        }
        for b in &mine {
            q = q
                .bind(&b.branch_id)
                .bind(&b.op)
                .bind(opt_secs(b.rollback_time));
        }
        q = q.bind(&first.gid);
        for b in &mine {
            q = q.bind(&b.branch_id).bind(&b.op);
        }
        q.bind(&first.gid)
            .bind(global.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn change_status(
    conn: &mut AnyConnection,
    st: &Statements,
    gid: &str,
    old: TransStatus,
    change: &StatusChange,
) -> Applied {
    let tp = st.dialect.time_param();
    let mut sql = format!("UPDATE trans_global SET status = ?, update_time = {tp}");
    match change.status {
        TransStatus::Succeed => sql.push_str(&format!(", finish_time = {tp}")),
        TransStatus::Failed => sql.push_str(&format!(", rollback_time = {tp}")),
        _ => {}
    }
    let texts = [
        ("rollback_reason", &change.rollback_reason),
        ("result", &change.result),
        ("custom_data", &change.custom_data),
    ];
    for (column, value) in texts {
        if !value.is_empty() {
            sql.push_str(&format!(", {column} = ?"));
        }
    }
    sql.push_str(" WHERE gid = ? AND status = ?");
    let sql = st.dialect.sql(&sql);
    let now = secs(change.now);
    let mut q = sqlx::query(&sql).bind(change.status.as_str()).bind(now);
    if matches!(change.status, TransStatus::Succeed | TransStatus::Failed) {
        q = q.bind(now);
    }
    for (_, value) in texts {
        if !value.is_empty() {
            q = q.bind(value.as_str());
        }
    }
    let done = q.bind(gid).bind(old.as_str()).execute(&mut *conn).await?;
    Ok(changed_one(done.rows_affected()))
}
