//! The embedded store: one SQLite database file in WAL mode.
//!
//! A transaction is one row of `trans_global`; its branches live in that row's
//! `branches` column (see `codec`), so a saga costs one insert and one update.
//!
//! All writes go through one writer thread that drains every pending write into a single
//! SQLite transaction (group commit). A batch that holds a durable write commits with
//! `synchronous=FULL` (the WAL is fsynced, which also persists every earlier lazy batch);
//! a batch of lazy writes only commits with `synchronous=NORMAL` (no fsync). Reads use a
//! small pool of read-only connections, which WAL lets run beside the writer.

use super::codec;
use super::{
    BranchRow, CronTouch, KvRow, Leased, Listed, ScanQuery, StatusChange, Store, StoreError,
    StoreResult, TransRow, WriteAck,
};
use async_trait::async_trait;
use dtmx::{TransOptions, TransStatus, TransType};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS trans_global (
  id INTEGER PRIMARY KEY,
  gid TEXT NOT NULL UNIQUE,
  trans_type TEXT NOT NULL,
  status TEXT NOT NULL,
  query_prepared TEXT NOT NULL DEFAULT '',
  protocol TEXT NOT NULL DEFAULT '',
  create_time INTEGER,
  update_time INTEGER,
  finish_time INTEGER,
  rollback_time INTEGER,
  options TEXT NOT NULL DEFAULT '',
  custom_data TEXT NOT NULL DEFAULT '',
  next_cron_interval INTEGER,
  next_cron_time INTEGER,
  owner TEXT NOT NULL DEFAULT '',
  ext_data TEXT NOT NULL DEFAULT '',
  result TEXT NOT NULL DEFAULT '',
  rollback_reason TEXT NOT NULL DEFAULT '',
  branches BLOB NOT NULL DEFAULT x''
);
CREATE INDEX IF NOT EXISTS trans_global_due ON trans_global(next_cron_time)
  WHERE status IN ('prepared','aborting','submitted');
CREATE TABLE IF NOT EXISTS kv (
  id INTEGER PRIMARY KEY,
  cat TEXT NOT NULL,
  k TEXT NOT NULL,
  v TEXT,
  version INTEGER DEFAULT 1,
  create_time INTEGER,
  update_time INTEGER,
  UNIQUE (cat, k)
);
";

const TRANS_COLUMNS: &str = "id, gid, trans_type, status, query_prepared, protocol, create_time, \
    update_time, finish_time, rollback_time, options, custom_data, next_cron_interval, \
    next_cron_time, owner, ext_data, result, rollback_reason";

const KV_COLUMNS: &str = "id, cat, k, v, version, create_time, update_time";

const UNFINISHED: &str = "status IN ('prepared','aborting','submitted')";

/// Largest number of writes committed together.
const MAX_BATCH: usize = 4096;

type Done = Box<dyn FnOnce(StoreResult<()>) + Send>;

/// A write: runs on the writer connection inside the batch transaction (or is told the
/// batch could not start) and returns what to do once the batch commit has succeeded or
/// failed.
struct Job {
    durable: bool,
    run: Run,
}

type Run = Box<dyn FnOnce(StoreResult<&Connection>) -> Done + Send>;

/// The embedded SQLite store.
pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    readers: Arc<Vec<Mutex<Connection>>>,
    path: PathBuf,
}

fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

fn open(path: &Path, flags: OpenFlags) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(path, flags).map_err(db_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(db_err)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and starts the writer thread.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Db(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = open(path, OpenFlags::default())?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        if conn
            .prepare("SELECT branches FROM trans_global LIMIT 0")
            .is_err()
        {
            return Err(StoreError::Db(format!(
                "{} was created by an earlier dtmx build; move it away or reset it with `dtmx -r`",
                path.display()
            )));
        }
        let readers = (0..4)
            .map(|_| {
                let c = open(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                Ok(Mutex::new(c))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("dtmx-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Db(format!("cannot start writer: {e}")))?;
        Ok(SqliteStore {
            writer: tx,
            readers: Arc::new(readers),
            path: path.to_path_buf(),
        })
    }

    /// Deletes every transaction, branch and KV row (DTM's `-r`).
    pub fn reset(path: &Path) -> StoreResult<()> {
        let conn = open(path, OpenFlags::default())?;
        conn.execute_batch(
            "DROP TABLE IF EXISTS trans_global; DROP TABLE IF EXISTS trans_branch_op; \
             DROP TABLE IF EXISTS kv;",
        )
        .map_err(db_err)?;
        conn.execute_batch(SCHEMA).map_err(db_err)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a write; the returned future resolves after its batch commits.
    async fn write<R, F>(&self, durable: bool, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.submit(durable, move |conn| {
            let result = conn.and_then(f);
            Box::new(move |commit: StoreResult<()>| {
                let _ = tx.send(commit.and(result));
            })
        })?;
        rx.await
            .map_err(|_| StoreError::Db("the store writer stopped".into()))?
    }

    /// Queues a write nobody waits for; failures are logged.
    fn write_lazy<F>(&self, what: &'static str, f: F)
    where
        F: FnOnce(&Connection) -> StoreResult<()> + Send + 'static,
    {
        let queued = self.submit(false, move |conn| {
            let result = conn.and_then(f);
            Box::new(move |commit: StoreResult<()>| {
                if let Err(e) = commit.and(result) {
                    tracing::warn!("lazy write {what} failed: {e}");
                }
            })
        });
        if let Err(e) = queued {
            tracing::error!("lazy write {what} not queued: {e}");
        }
    }

    fn submit<F>(&self, durable: bool, run: F) -> StoreResult<()>
    where
        F: FnOnce(StoreResult<&Connection>) -> Done + Send + 'static,
    {
        self.writer
            .send(Job {
                durable,
                run: Box::new(run),
            })
            .map_err(|_| StoreError::Db("the store writer stopped".into()))
    }

    /// Runs a read on a pooled read-only connection off the async threads.
    async fn read<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let guard = readers
                .iter()
                .find_map(|m| m.try_lock().ok())
                .map(Ok)
                .unwrap_or_else(|| readers[0].lock())
                .map_err(|_| StoreError::Db("reader pool poisoned".into()))?;
            f(&guard)
        })
        .await
        .map_err(|e| StoreError::Db(format!("read task failed: {e}")))?
    }
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Job>) {
    let mut synchronous_full = true;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let durable = batch.iter().any(|j| j.durable);
        if durable != synchronous_full {
            let level = if durable { "FULL" } else { "NORMAL" };
            if let Err(e) = conn.pragma_update(None, "synchronous", level) {
                fail_batch(batch, db_err(e));
                continue;
            }
            synchronous_full = durable;
        }
        if let Err(e) = run_cached(&conn, "BEGIN IMMEDIATE") {
            fail_batch(batch, db_err(e));
            continue;
        }
        let Some(dones) = run_batch(&conn, batch) else {
            continue;
        };
        let commit = run_cached(&conn, "COMMIT").map_err(db_err);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for done in dones {
            done(commit.clone());
        }
    }
}

/// Runs a statement without parameters from the connection's statement cache (no parsing
/// per batch).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// Runs the jobs of a batch inside the open transaction; their completions, or `None`
/// when one of them panicked: then the whole batch is rolled back and failed, and the
/// writer goes on with the next one instead of dying with the thread.
fn run_batch(conn: &Connection, batch: Vec<Job>) -> Option<Vec<Done>> {
    let mut dones = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    for job in jobs.by_ref() {
        let run = job.run;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || run(Ok(conn)))) {
            Ok(done) => dones.push(done),
            Err(_) => {
                let _ = conn.execute_batch("ROLLBACK");
                let err =
                    StoreError::Db("a store write panicked; its batch was rolled back".into());
                tracing::error!("{err}");
                for done in dones {
                    done(Err(err.clone()));
                }
                fail_batch(jobs.collect(), err);
                return None;
            }
        }
    }
    Some(dones)
}

fn fail_batch(batch: Vec<Job>, err: StoreError) {
    tracing::error!("store batch failed: {err}");
    for job in batch {
        (job.run)(Err(err.clone()))(Err(err.clone()));
    }
}

fn parse_status(text: String) -> rusqlite::Result<TransStatus> {
    TransStatus::parse(&text).ok_or_else(|| bad_column(format!("unknown status {text:?}")))
}

fn bad_column(msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, msg.into())
}

fn trans_from_row(row: &Row) -> rusqlite::Result<TransRow> {
    let trans_type: String = row.get(2)?;
    let options: String = row.get(10)?;
    Ok(TransRow {
        id: row.get(0)?,
        gid: row.get(1)?,
        trans_type: TransType::parse(&trans_type)
            .ok_or_else(|| bad_column(format!("unknown trans type {trans_type:?}")))?,
        status: parse_status(row.get(3)?)?,
        query_prepared: row.get(4)?,
        protocol: row.get(5)?,
        create_time: row.get::<_, Option<i64>>(6)?.unwrap_or_default(),
        update_time: row.get::<_, Option<i64>>(7)?.unwrap_or_default(),
        finish_time: row.get(8)?,
        rollback_time: row.get(9)?,
        options: if options.is_empty() {
            TransOptions::default()
        } else {
            serde_json::from_str(&options).map_err(|e| bad_column(e.to_string()))?
        },
        custom_data: row.get(11)?,
        next_cron_interval: row.get::<_, Option<i64>>(12)?.unwrap_or_default(),
        next_cron_time: row.get::<_, Option<i64>>(13)?.unwrap_or_default(),
        owner: row.get(14)?,
        ext_data: row.get(15)?,
        result: row.get(16)?,
        rollback_reason: row.get(17)?,
    })
}

fn kv_from_row(row: &Row) -> rusqlite::Result<KvRow> {
    Ok(KvRow {
        id: row.get(0)?,
        cat: row.get(1)?,
        k: row.get(2)?,
        v: row.get::<_, Option<String>>(3)?.unwrap_or_default(),
        version: row.get::<_, Option<i64>>(4)?.unwrap_or(1),
        create_time: row.get::<_, Option<i64>>(5)?.unwrap_or_default(),
        update_time: row.get::<_, Option<i64>>(6)?.unwrap_or_default(),
    })
}

fn changed_one(n: usize) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

fn find_trans(conn: &Connection, gid: &str) -> StoreResult<Option<TransRow>> {
    conn.prepare_cached(&format!(
        "SELECT {TRANS_COLUMNS} FROM trans_global WHERE gid = ?1"
    ))
    .map_err(db_err)?
    .query_row([gid], trans_from_row)
    .optional()
    .map_err(db_err)
}

fn find_branches(conn: &Connection, gid: &str) -> StoreResult<Vec<BranchRow>> {
    let blob: Option<Vec<u8>> = conn
        .prepare_cached("SELECT branches FROM trans_global WHERE gid = ?1")
        .map_err(db_err)?
        .query_row([gid], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    codec::decode(gid, &blob.unwrap_or_default())
}

/// The stored branches of `gid` with `updates` merged in, encoded; `None` when the
/// transaction is gone or its status is no longer `global` (the updates then do not apply).
fn merged_branches(
    conn: &Connection,
    gid: &str,
    global: TransStatus,
    updates: &[BranchRow],
) -> StoreResult<Option<Vec<u8>>> {
    if updates.is_empty() {
        return Ok(None);
    }
    let stored: Option<(String, Vec<u8>)> = conn
        .prepare_cached("SELECT status, branches FROM trans_global WHERE gid = ?1")
        .map_err(db_err)?
        .query_row([gid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(db_err)?;
    match stored {
        Some((status, blob)) if status == global.as_str() => {
            let mut branches = codec::decode(gid, &blob)?;
            codec::merge(&mut branches, updates);
            Ok(Some(codec::encode(&branches)))
        }
        _ => Ok(None),
    }
}

/// Writes branch results of transaction `gid`, only while its status is `global`.
fn write_branches(
    conn: &Connection,
    gid: &str,
    global: TransStatus,
    updates: &[BranchRow],
) -> StoreResult<()> {
    if let Some(blob) = merged_branches(conn, gid, global, updates)? {
        conn.prepare_cached("UPDATE trans_global SET branches = ?1 WHERE gid = ?2")
            .map_err(db_err)?
            .execute(params![blob, gid])
            .map_err(db_err)?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn save_new(&self, trans: TransRow, branches: Vec<BranchRow>) -> StoreResult<i64> {
        let options = serde_json::to_string(&trans.options)
            .map_err(|e| StoreError::Db(format!("cannot encode options: {e}")))?;
        let blob = codec::encode(&branches);
        self.write(true, move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO trans_global (gid, trans_type, status, query_prepared, \
                         protocol, create_time, update_time, finish_time, rollback_time, \
                         options, custom_data, next_cron_interval, next_cron_time, owner, \
                         ext_data, result, rollback_reason, branches) VALUES (?1, ?2, ?3, ?4, \
                         ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) \
                         ON CONFLICT (gid) DO NOTHING",
                )
                .map_err(db_err)?
                .execute(params![
                    trans.gid,
                    trans.trans_type.as_str(),
                    trans.status.as_str(),
                    trans.query_prepared,
                    trans.protocol,
                    trans.create_time,
                    trans.update_time,
                    trans.finish_time,
                    trans.rollback_time,
                    options,
                    trans.custom_data,
                    trans.next_cron_interval,
                    trans.next_cron_time,
                    trans.owner,
                    trans.ext_data,
                    trans.result,
                    trans.rollback_reason,
                    blob
                ])
                .map_err(db_err)?;
            if inserted == 0 {
                return Err(StoreError::UniqueConflict);
            }
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    async fn find_trans(&self, gid: &str) -> StoreResult<Option<TransRow>> {
        let gid = gid.to_string();
        self.read(move |conn| find_trans(conn, &gid)).await
    }

    async fn find_branches(&self, gid: &str) -> StoreResult<Vec<BranchRow>> {
        let gid = gid.to_string();
        self.read(move |conn| find_branches(conn, &gid)).await
    }

    async fn scan(&self, q: ScanQuery) -> StoreResult<(Vec<TransRow>, String)> {
        self.read(move |conn| {
            let mut sql = format!("SELECT {TRANS_COLUMNS} FROM trans_global WHERE 1=1");
            let mut args: Vec<rusqlite::types::Value> = Vec::new();
            if !q.position.is_empty() {
                let pos: i64 = q
                    .position
                    .parse()
                    .map_err(|_| StoreError::Db(format!("invalid position {:?}", q.position)))?;
                sql.push_str(" AND id < ?");
                args.push(pos.into());
            }
            if !q.status.is_empty() {
                sql.push_str(" AND status = ?");
                args.push(q.status.clone().into());
            }
            if !q.trans_type.is_empty() {
                sql.push_str(" AND trans_type = ?");
                args.push(q.trans_type.clone().into());
            }
            if let Some(start) = q.create_time_start {
                sql.push_str(" AND create_time >= ?");
                args.push(start.into());
            }
            if let Some(end) = q.create_time_end {
                sql.push_str(" AND create_time <= ?");
                args.push(end.into());
            }
            sql.push_str(" ORDER BY id DESC LIMIT ?");
            args.push(q.limit.into());
            let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
            let rows: Vec<TransRow> = stmt
                .query_map(rusqlite::params_from_iter(args), trans_from_row)
                .map_err(db_err)?
                .collect::<Result<_, _>>()
                .map_err(db_err)?;
            let next = super::next_position(&rows, q.limit, |t| t.id);
            Ok((rows, next))
        })
        .await
    }

    async fn append_branches(
        &self,
        gid: &str,
        status: TransStatus,
        branches: Vec<BranchRow>,
    ) -> StoreResult<()> {
        let gid = gid.to_string();
        self.write(true, move |conn| {
            let stored: Option<(String, Vec<u8>)> = conn
                .prepare_cached("SELECT status, branches FROM trans_global WHERE gid = ?1")
                .map_err(db_err)?
                .query_row([&gid], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(db_err)?;
            let Some((current, blob)) = stored.filter(|(s, _)| s == status.as_str()) else {
                return Err(StoreError::NotFound);
            };
            let mut rows = codec::decode(&gid, &blob)?;
            for b in branches {
                if rows
                    .iter()
                    .any(|r| r.branch_id == b.branch_id && r.op == b.op)
                {
                    return Err(StoreError::UniqueConflict);
                }
                rows.push(b);
            }
            conn.prepare_cached(
                "UPDATE trans_global SET branches = ?1 WHERE gid = ?2 AND status = ?3",
            )
            .map_err(db_err)?
            .execute(params![codec::encode(&rows), gid, current])
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn change_status(
        &self,
        gid: &str,
        old: TransStatus,
        change: StatusChange,
        durable: bool,
    ) -> StoreResult<()> {
        let gid = gid.to_string();
        self.write(durable, move |conn| {
            let blob = merged_branches(conn, &gid, old, &change.branches)?;
            let now = change.now;
            let (finish, rollback) = match change.status {
                TransStatus::Succeed => (Some(now), None),
                TransStatus::Failed => (None, Some(now)),
                _ => (None, None),
            };
            let n = conn
                .prepare_cached(
                    "UPDATE trans_global SET status = ?1, update_time = ?2, \
                     finish_time = COALESCE(?3, finish_time), \
                     rollback_time = COALESCE(?4, rollback_time), \
                     rollback_reason = CASE WHEN ?5 = '' THEN rollback_reason ELSE ?5 END, \
                     result = CASE WHEN ?6 = '' THEN result ELSE ?6 END, \
                     custom_data = CASE WHEN ?9 = '' THEN custom_data ELSE ?9 END, \
                     branches = COALESCE(?10, branches) \
                     WHERE gid = ?7 AND status = ?8",
                )
                .map_err(db_err)?
                .execute(params![
                    change.status.as_str(),
                    now,
                    finish,
                    rollback,
                    change.rollback_reason,
                    change.result,
                    gid,
                    old.as_str(),
                    change.custom_data,
                    blob
                ])
                .map_err(db_err)?;
            if n == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }

    fn update_branches(&self, global: TransStatus, branches: Vec<BranchRow>) -> WriteAck {
        let (tx, rx) = oneshot::channel();
        let queued = self.submit(false, move |conn| {
            let result = conn.and_then(|conn| {
                let mut gids: Vec<&str> = branches.iter().map(|b| b.gid.as_str()).collect();
                gids.dedup();
                for gid in gids {
                    let mine: Vec<BranchRow> =
                        branches.iter().filter(|b| b.gid == gid).cloned().collect();
                    write_branches(conn, gid, global, &mine)?;
                }
                Ok(())
            });
            Box::new(move |commit: StoreResult<()>| {
                let _ = tx.send(commit.and(result));
            })
        });
        Box::pin(async move {
            queued?;
            rx.await
                .map_err(|_| StoreError::Db("the store writer stopped".into()))?
        })
    }

    fn touch_cron(&self, t: CronTouch) {
        self.write_lazy("touch_cron", move |conn| {
            write_branches(conn, &t.gid, t.status, &t.branches)?;
            conn.prepare_cached(
                "UPDATE trans_global SET next_cron_interval = ?1, next_cron_time = ?2, \
                 update_time = ?3 WHERE gid = ?4 AND status = ?5",
            )
            .map_err(db_err)?
            .execute(params![
                t.interval,
                t.next_time,
                t.now,
                t.gid,
                t.status.as_str()
            ])
            .map_err(db_err)?;
            Ok(())
        });
    }

    async fn lock_due(
        &self,
        due_before: i64,
        lease_until: i64,
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<Leased>> {
        self.write(false, move |conn| {
            let gids: Vec<String> = conn
                .prepare_cached(&format!(
                    "SELECT gid FROM trans_global WHERE {UNFINISHED} AND next_cron_time < ?1 \
                     ORDER BY next_cron_time LIMIT ?2"
                ))
                .map_err(db_err)?
                .query_map(params![due_before, limit as i64], |r| r.get(0))
                .map_err(db_err)?
                .collect::<Result<_, _>>()
                .map_err(db_err)?;
            let owner = format!("{:016x}", rand::random::<u64>());
            let mut leased = Vec::with_capacity(gids.len());
            for gid in gids {
                conn.prepare_cached(
                    "UPDATE trans_global SET next_cron_time = ?1, update_time = ?2, owner = ?3 \
                     WHERE gid = ?4",
                )
                .map_err(db_err)?
                .execute(params![lease_until, now, owner, gid])
                .map_err(db_err)?;
                if let Some(trans) = find_trans(conn, &gid)? {
                    let branches = find_branches(conn, &gid)?;
                    leased.push((trans, branches));
                }
            }
            Ok(leased)
        })
        .await
    }

    async fn reset_cron_time(&self, after: i64, now: i64, limit: i64) -> StoreResult<(i64, bool)> {
        self.write(false, move |conn| {
            let ids: Vec<i64> = conn
                .prepare_cached(&format!(
                    "SELECT id FROM trans_global WHERE {UNFINISHED} AND next_cron_time > ?1 \
                     LIMIT ?2"
                ))
                .map_err(db_err)?
                .query_map(params![after, limit.saturating_add(1)], |r| r.get(0))
                .map_err(db_err)?
                .collect::<Result<_, _>>()
                .map_err(db_err)?;
            let remaining = ids.len() as i64 > limit;
            let mut count = 0;
            for id in ids.into_iter().take(limit.max(0) as usize) {
                count += conn
                    .prepare_cached(
                        "UPDATE trans_global SET next_cron_time = ?1, update_time = ?1 \
                         WHERE id = ?2",
                    )
                    .map_err(db_err)?
                    .execute(params![now, id])
                    .map_err(db_err)? as i64;
            }
            Ok((count, remaining))
        })
        .await
    }

    async fn reset_next_cron_time(&self, gid: &str, now: i64) -> StoreResult<()> {
        let gid = gid.to_string();
        self.write(false, move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE trans_global SET next_cron_time = ?1, update_time = ?1 WHERE gid = ?2",
                )
                .map_err(db_err)?
                .execute(params![now, gid])
                .map_err(db_err)?;
            if n == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn flush(&self) -> StoreResult<()> {
        self.write(true, |_| Ok(())).await
    }

    async fn kv_find(&self, cat: &str, key: &str) -> StoreResult<Vec<KvRow>> {
        let (cat, key) = (cat.to_string(), key.to_string());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {KV_COLUMNS} FROM kv WHERE cat = ?1 AND (?2 = '' OR k = ?2) ORDER BY id"
                ))
                .map_err(db_err)?;
            let rows = stmt.query_map([cat, key], kv_from_row).map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })
        .await
    }

    async fn kv_scan(
        &self,
        cat: &str,
        position: &str,
        limit: i64,
    ) -> StoreResult<(Vec<KvRow>, String)> {
        let cat = cat.to_string();
        let below = if position.is_empty() {
            i64::MAX
        } else {
            position
                .parse()
                .map_err(|_| StoreError::Db(format!("invalid position {position:?}")))?
        };
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {KV_COLUMNS} FROM kv WHERE cat = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
                ))
                .map_err(db_err)?;
            let rows: Vec<KvRow> = stmt
                .query_map(params![cat, below, limit], kv_from_row)
                .map_err(db_err)?
                .collect::<Result<_, _>>()
                .map_err(db_err)?;
            let next = super::next_position(&rows, limit, |kv| kv.id);
            Ok((rows, next))
        })
        .await
    }

    async fn kv_create(&self, cat: &str, key: &str, value: &str, now: i64) -> StoreResult<()> {
        let (cat, key, value) = (cat.to_string(), key.to_string(), value.to_string());
        self.write(true, move |conn| {
            let n = conn
                .prepare_cached(
                    "INSERT INTO kv (cat, k, v, version, create_time, update_time) \
                     VALUES (?1, ?2, ?3, 1, ?4, ?4) ON CONFLICT (cat, k) DO NOTHING",
                )
                .map_err(db_err)?
                .execute(params![cat, key, value, now])
                .map_err(db_err)?;
            if n == 0 {
                Err(StoreError::UniqueConflict)
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn kv_update(
        &self,
        cat: &str,
        key: &str,
        value: &str,
        version: i64,
        now: i64,
    ) -> StoreResult<()> {
        let (cat, key, value) = (cat.to_string(), key.to_string(), value.to_string());
        self.write(true, move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE kv SET v = ?1, version = version + 1, update_time = ?2 \
                     WHERE cat = ?3 AND k = ?4 AND version = ?5",
                )
                .map_err(db_err)?
                .execute(params![value, now, cat, key, version])
                .map_err(db_err)?;
            changed_one(n)
        })
        .await
    }

    async fn kv_delete(&self, cat: &str, key: &str) -> StoreResult<()> {
        let (cat, key) = (cat.to_string(), key.to_string());
        self.write(true, move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM kv WHERE cat = ?1 AND k = ?2")
                .map_err(db_err)?
                .execute(params![cat, key])
                .map_err(db_err)?;
            changed_one(n)
        })
        .await
    }

    async fn list_after(&self, after: i64, limit: i64) -> StoreResult<Vec<Listed>> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, gid, status, create_time FROM trans_global WHERE id > ?1 \
                     ORDER BY id LIMIT ?2",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![after, limit], |r| {
                    Ok(Listed {
                        id: r.get(0)?,
                        gid: r.get(1)?,
                        status: Some(parse_status(r.get(2)?)?),
                        create_time: r.get(3)?,
                    })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
        })
        .await
    }

    async fn delete_final(&self, gids: Vec<String>) -> StoreResult<u64> {
        self.write(true, move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "DELETE FROM trans_global WHERE gid = ?1 AND status IN ('succeed','failed')",
                )
                .map_err(db_err)?;
            let mut deleted = 0;
            for gid in &gids {
                deleted += stmt.execute(params![gid]).map_err(db_err)? as u64;
            }
            Ok(deleted)
        })
        .await
    }
}
