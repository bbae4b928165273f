//! The PostgreSQL and MySQL/MariaDB stores, on DTM's schema (PROTOCOL.md §6.2-6.4).
//!
//! A DTM deployment can point dtmx at its existing database: the tables, columns,
//! constraints and time columns are DTM's. Writes go through the group-commit writer
//! (`writer`); reads and the cron's leases use the pool directly. Leases take due rows
//! with `FOR UPDATE SKIP LOCKED`, so several servers sharing one database lease disjoint
//! transactions.

mod dialect;
mod ops;
mod rows;
mod writer;

pub use dialect::Dialect;

use super::{
    BranchRow, CronTouch, KvRow, Leased, Listed, ScanQuery, StatusChange, Store, StoreError,
    StoreResult, TransRow, WriteAck,
};
use crate::config::StoreConfig;
use async_trait::async_trait;
use dialect::{Statements, UNFINISHED};
use dtmx::TransStatus;
use ops::Op;
use rows::{db_err, secs};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;
use sqlx::{Connection, Executor};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use writer::Writer;

/// Writer shards: transactions commit in parallel on this many connections.
const WRITER_SHARDS: usize = 4;

/// Largest connection pool, whatever `Store.MaxOpenConns` says (DTM's default is 500):
/// past a few dozen, more connections only add contention in the database, and
/// PostgreSQL's default limit is 100 for all its clients.
const MAX_POOL: i64 = 64;

/// How long a request waits for a database connection before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A store on PostgreSQL or MySQL/MariaDB.
pub struct SqlStore {
    pool: AnyPool,
    st: Arc<Statements>,
    writer: Arc<Writer>,
}

/// Where and how to connect, derived from `Store.*`.
struct Target {
    dialect: Dialect,
    config: StoreConfig,
}

impl Target {
    fn url(&self, db: &str) -> StoreResult<String> {
        let scheme = match self.dialect {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        };
        let c = &self.config;
        let mut url = url::Url::parse(&format!("{scheme}://{}:{}/", c.host, c.port))
            .map_err(|e| StoreError::Db(format!("bad Store.Host {:?}: {e}", c.host)))?;
        let auth = url
            .set_username(&c.user)
            .and_then(|_| url.set_password(Some(c.password.as_str()).filter(|p| !p.is_empty())));
        auth.map_err(|_| StoreError::Db("bad Store.User or Store.Password".into()))?;
        url.set_path(db);
        Ok(url.into())
    }

    /// Creates the database (and the PostgreSQL schema) if it does not exist.
    async fn ensure_database(&self) -> StoreResult<()> {
        let c = &self.config;
        let admin = match self.dialect {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "",
        };
        let mut conn = sqlx::AnyConnection::connect(&self.url(admin)?)
            .await
            .map_err(db_err)?;
        match self.dialect {
            Dialect::Postgres => {
                let exists: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                        .bind(&c.db)
                        .fetch_optional(&mut conn)
                        .await
                        .map_err(db_err)?;
                if exists.is_none() {
                    let created = conn
                        .execute(&*format!("CREATE DATABASE \"{}\"", c.db))
                        .await;
                    // Another server may have created it in the meantime.
                    if let Err(e) = created {
                        tracing::debug!("create database: {e}");
                    }
                }
                conn.close().await.map_err(db_err)?;
                let mut conn = sqlx::AnyConnection::connect(&self.url(&c.db)?)
                    .await
                    .map_err(db_err)?;
                conn.execute(&*format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", c.schema))
                    .await
                    .map_err(db_err)?;
                conn.close().await.map_err(db_err)
            }
            Dialect::Mysql => {
                conn.execute(&*format!("CREATE DATABASE IF NOT EXISTS `{}`", c.db))
                    .await
                    .map_err(db_err)?;
                conn.close().await.map_err(db_err)
            }
        }
    }

    fn pool(&self) -> StoreResult<AnyPool> {
        let options = AnyConnectOptions::from_str(&self.url(&self.config.db)?).map_err(db_err)?;
        let setup = match self.dialect {
            Dialect::Postgres => format!("SET search_path TO \"{}\"", self.config.schema),
            Dialect::Mysql => "SET time_zone = '+00:00'".to_string(),
        };
        let max = self
            .config
            .max_open_conns
            .clamp(WRITER_SHARDS as i64 + 2, MAX_POOL) as u32;
        Ok(AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .max_lifetime(Duration::from_secs(
                self.config.conn_max_life_time.max(1) as u64 * 60,
            ))
            .after_connect(move |conn, _| {
                let setup = setup.clone();
                Box::pin(async move {
                    conn.execute(&*setup).await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options))
    }
}

/// Runs the statements of a schema file one by one.
async fn run_script(pool: &AnyPool, script: &str) -> StoreResult<()> {
    let body: String = script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for statement in body.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        pool.execute(statement).await.map_err(db_err)?;
    }
    Ok(())
}

fn check_name(what: &str, name: &str) -> StoreResult<()> {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(StoreError::Db(format!(
            "{what} {name:?} must be letters, digits and underscores"
        )))
    }
}

impl SqlStore {
    /// Connects to the database of `config` (waiting until it answers, as DTM does),
    /// creates the database and tables that are missing, and starts the writers.
    pub async fn open(dialect: Dialect, config: &StoreConfig) -> StoreResult<SqlStore> {
        check_name("Store.Db", &config.db)?;
        if dialect == Dialect::Postgres {
            check_name("Store.Schema", &config.schema)?;
        }
        sqlx::any::install_default_drivers();
        let target = Target {
            dialect,
            config: config.clone(),
        };
        let mut attempt = 0u32;
        let pool = loop {
            let ready = async {
                target.ensure_database().await?;
                let pool = target.pool()?;
                run_script(&pool, dialect.schema()).await?;
                Ok::<_, StoreError>(pool)
            };
            match ready.await {
                Ok(pool) => break pool,
                Err(e) => {
                    attempt += 1;
                    tracing::warn!("store not ready ({e}); retrying in 3 s");
                    if attempt == 1 {
                        tracing::warn!(
                            "dtmx waits for {dialect:?} at {}:{}",
                            config.host,
                            config.port
                        );
                    }
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
            }
        };
        let st = Arc::new(Statements::new(dialect));
        let writer = Arc::new(Writer::start(pool.clone(), st.clone(), WRITER_SHARDS));
        Ok(SqlStore { pool, st, writer })
    }

    /// Drops dtmx's tables and creates them anew (DTM's `-r`).
    pub async fn reset(dialect: Dialect, config: &StoreConfig) -> StoreResult<()> {
        let store = SqlStore::open(dialect, config).await?;
        let drop = match dialect {
            Dialect::Postgres => {
                "DROP TABLE IF EXISTS trans_global; DROP TABLE IF EXISTS trans_branch_op; \
                 DROP TABLE IF EXISTS kv; DROP SEQUENCE IF EXISTS trans_global_seq; \
                 DROP SEQUENCE IF EXISTS trans_branch_op_seq; DROP SEQUENCE IF EXISTS kv_seq"
            }
            Dialect::Mysql => {
                "DROP TABLE IF EXISTS trans_global; DROP TABLE IF EXISTS trans_branch_op; \
                 DROP TABLE IF EXISTS kv"
            }
        };
        run_script(&store.pool, drop).await?;
        run_script(&store.pool, dialect.schema()).await
    }

    async fn lock_due_in(
        &self,
        due_before: i64,
        lease_until: i64,
        now: i64,
        limit: usize,
    ) -> Result<Vec<Leased>, sqlx::Error> {
        let d = self.st.dialect;
        let tp = d.time_param();
        let mut tx = self.pool.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(&d.sql(&format!(
            "SELECT id FROM trans_global WHERE {UNFINISHED} AND next_cron_time < {tp} \
             ORDER BY next_cron_time, id LIMIT ? FOR UPDATE SKIP LOCKED"
        )))
        .bind(secs(due_before))
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let id_list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let owner = format!("{:016x}", rand::random::<u64>());
        sqlx::query(&d.sql(&format!(
            "UPDATE trans_global SET next_cron_time = {tp}, update_time = {tp}, owner = ? \
             WHERE id IN ({id_list})"
        )))
        .bind(secs(lease_until))
        .bind(secs(now))
        .bind(&owner)
        .execute(&mut *tx)
        .await?;
        let trans = sqlx::query(&format!(
            "SELECT {} FROM trans_global WHERE id IN ({id_list})",
            self.st.trans_columns
        ))
        .fetch_all(&mut *tx)
        .await?;
        let mut trans: Vec<TransRow> = trans
            .iter()
            .map(rows::trans)
            .collect::<StoreResult<_>>()
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        trans.sort_by_key(|t| ids.iter().position(|id| *id == t.id));
        let gids: Vec<&str> = trans.iter().map(|t| t.gid.as_str()).collect();
        let sql = d.sql(&format!(
            "SELECT {} FROM trans_branch_op WHERE gid IN ({}) ORDER BY id",
            self.st.branch_columns,
            Statements::marks(gids.len())
        ));
        let mut q = sqlx::query(&sql);
        for gid in &gids {
            q = q.bind(*gid);
        }
        let branch_rows = q.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let mut branches: Vec<BranchRow> = branch_rows
            .iter()
            .map(rows::branch)
            .collect::<StoreResult<_>>()
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        Ok(trans
            .into_iter()
            .map(|t| {
                let (mine, rest): (Vec<_>, Vec<_>) =
                    branches.drain(..).partition(|b| b.gid == t.gid);
                branches = rest;
                (t, mine)
            })
            .collect())
    }

    async fn reset_cron_in(
        &self,
        after: i64,
        now: i64,
        limit: i64,
    ) -> Result<(i64, bool), sqlx::Error> {
        let d = self.st.dialect;
        let tp = d.time_param();
        let ids: Vec<i64> = sqlx::query_scalar(&d.sql(&format!(
            "SELECT id FROM trans_global WHERE {UNFINISHED} AND next_cron_time > {tp} \
             ORDER BY id LIMIT ?"
        )))
        .bind(secs(after))
        .bind(limit.saturating_add(1))
        .fetch_all(&self.pool)
        .await?;
        let remaining = ids.len() as i64 > limit;
        let take: Vec<String> = ids
            .iter()
            .take(limit.max(0) as usize)
            .map(i64::to_string)
            .collect();
        if take.is_empty() {
            return Ok((0, remaining));
        }
        let done = sqlx::query(&d.sql(&format!(
            "UPDATE trans_global SET next_cron_time = {tp}, update_time = {tp} \
             WHERE {UNFINISHED} AND id IN ({})",
            take.join(",")
        )))
        .bind(secs(now))
        .bind(secs(now))
        .execute(&self.pool)
        .await?;
        Ok((done.rows_affected() as i64, remaining))
    }
}

impl SqlStore {
    async fn list_after_in(&self, after: i64, limit: i64) -> Result<Vec<Listed>, sqlx::Error> {
        let d = self.st.dialect;
        let rows: Vec<(i64, String, String, Option<i64>)> = sqlx::query_as(&d.sql(&format!(
            "SELECT id, gid, status, {} FROM trans_global WHERE id > ? ORDER BY id LIMIT ?",
            d.time_column("create_time")
        )))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, gid, status, created)| {
                let status = TransStatus::parse(&status).ok_or_else(|| {
                    sqlx::Error::Decode(format!("unknown status {status:?} of {gid}").into())
                })?;
                Ok(Listed {
                    id,
                    gid,
                    status: Some(status),
                    create_time: created.map(|s| s * 1000),
                })
            })
            .collect()
    }

    async fn delete_final_in(&self, gids: &[String]) -> Result<u64, sqlx::Error> {
        let d = self.st.dialect;
        let marks = vec!["?"; gids.len()].join(", ");
        let mut tx = self.pool.begin().await?;
        // Branches of final transactions only (the subquery reads the other table, which
        // MySQL allows in a DELETE).
        let branches = d.sql(&format!(
            "DELETE FROM trans_branch_op WHERE gid IN (SELECT gid FROM trans_global \
             WHERE status IN ('succeed','failed') AND gid IN ({marks}))"
        ));
        let mut q = sqlx::query(&branches);
        for g in gids {
            q = q.bind(g);
        }
        tx.execute(q).await?;
        let globals = d.sql(&format!(
            "DELETE FROM trans_global WHERE status IN ('succeed','failed') AND gid IN ({marks})"
        ));
        let mut q = sqlx::query(&globals);
        for g in gids {
            q = q.bind(g);
        }
        let deleted = tx.execute(q).await?.rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }
}

/// A bound argument of a dynamically built query.
enum Arg {
    Int(i64),
    Text(String),
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for a in args {
        q = match a {
            Arg::Int(i) => q.bind(i),
            Arg::Text(s) => q.bind(s),
        };
    }
    q
}

fn parse_position(position: &str) -> StoreResult<Option<i64>> {
    if position.is_empty() {
        return Ok(None);
    }
    position
        .parse()
        .map(Some)
        .map_err(|_| StoreError::Db(format!("invalid position {position:?}")))
}

#[async_trait]
impl Store for SqlStore {
    async fn save_new(&self, trans: TransRow, branches: Vec<BranchRow>) -> StoreResult<i64> {
        let options = serde_json::to_string(&trans.options)
            .map_err(|e| StoreError::Db(format!("cannot encode options: {e}")))?;
        let op = Op::SaveNew {
            trans: Box::new(trans),
            options,
            branches,
        };
        self.writer.write(op, true).await
    }

    async fn find_trans(&self, gid: &str) -> StoreResult<Option<TransRow>> {
        let row = sqlx::query(&self.st.find_trans)
            .bind(gid)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(rows::trans).transpose()
    }

    async fn find_branches(&self, gid: &str) -> StoreResult<Vec<BranchRow>> {
        sqlx::query(&self.st.find_branches)
            .bind(gid)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::branch)
            .collect()
    }

    async fn scan(&self, q: ScanQuery) -> StoreResult<(Vec<TransRow>, String)> {
        let d = self.st.dialect;
        let tp = d.time_param();
        let mut sql = format!(
            "SELECT {} FROM trans_global WHERE 1=1",
            self.st.trans_columns
        );
        let mut args = Vec::new();
        if let Some(pos) = parse_position(&q.position)? {
            sql.push_str(" AND id < ?");
            args.push(Arg::Int(pos));
        }
        if !q.status.is_empty() {
            sql.push_str(" AND status = ?");
            args.push(Arg::Text(q.status.clone()));
        }
        if !q.trans_type.is_empty() {
            sql.push_str(" AND trans_type = ?");
            args.push(Arg::Text(q.trans_type.clone()));
        }
        if let Some(start) = q.create_time_start {
            sql.push_str(&format!(" AND create_time >= {tp}"));
            args.push(Arg::Int(secs(start)));
        }
        if let Some(end) = q.create_time_end {
            sql.push_str(&format!(" AND create_time <= {tp}"));
            args.push(Arg::Int(secs(end)));
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        args.push(Arg::Int(q.limit));
        let sql = d.sql(&sql);
        let found: Vec<TransRow> = bind_all(sqlx::query(&sql), args)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::trans)
            .collect::<StoreResult<_>>()?;
        let next = super::next_position(&found, q.limit, |t| t.id);
        Ok((found, next))
    }

    async fn append_branches(
        &self,
        gid: &str,
        status: TransStatus,
        branches: Vec<BranchRow>,
    ) -> StoreResult<()> {
        let op = Op::Append {
            gid: gid.to_string(),
            status,
            branches,
        };
        self.writer.write(op, true).await.map(drop)
    }

    async fn change_status(
        &self,
        gid: &str,
        old: TransStatus,
        change: StatusChange,
        durable: bool,
    ) -> StoreResult<()> {
        let op = Op::ChangeStatus {
            gid: gid.to_string(),
            old,
            change,
        };
        self.writer.write(op, durable).await.map(drop)
    }

    fn update_branches(&self, global: TransStatus, branches: Vec<BranchRow>) -> WriteAck {
        if branches.is_empty() {
            // Nothing to write, but the caller waits for this pass's earlier writes, which
            // may sit on any shard.
            let writer = self.writer.clone();
            return Box::pin(async move { writer.flush(false).await });
        }
        let rx = self
            .writer
            .submit(Op::UpdateBranches { global, branches }, false);
        Box::pin(async move {
            rx.await
                .map_err(|_| StoreError::Db("the store writer stopped".into()))?
                .map(drop)
        })
    }

    fn touch_cron(&self, touch: CronTouch) {
        self.writer.write_lazy("touch_cron", Op::Touch(touch));
    }

    async fn lock_due(
        &self,
        due_before: i64,
        lease_until: i64,
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<Leased>> {
        self.lock_due_in(due_before, lease_until, now, limit)
            .await
            .map_err(db_err)
    }

    async fn reset_cron_time(&self, after: i64, now: i64, limit: i64) -> StoreResult<(i64, bool)> {
        self.reset_cron_in(after, now, limit).await.map_err(db_err)
    }

    async fn reset_next_cron_time(&self, gid: &str, now: i64) -> StoreResult<()> {
        let op = Op::ResetNext {
            gid: gid.to_string(),
            now,
        };
        self.writer.write(op, true).await.map(drop)
    }

    async fn flush(&self) -> StoreResult<()> {
        self.writer.flush(true).await
    }

    async fn kv_find(&self, cat: &str, key: &str) -> StoreResult<Vec<KvRow>> {
        let mut sql = format!("SELECT {} FROM kv WHERE cat = ?", self.st.kv_columns);
        let mut args = vec![Arg::Text(cat.to_string())];
        if !key.is_empty() {
            sql.push_str(" AND k = ?");
            args.push(Arg::Text(key.to_string()));
        }
        sql.push_str(" ORDER BY id");
        let sql = self.st.dialect.sql(&sql);
        bind_all(sqlx::query(&sql), args)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::kv)
            .collect()
    }

    async fn kv_scan(
        &self,
        cat: &str,
        position: &str,
        limit: i64,
    ) -> StoreResult<(Vec<KvRow>, String)> {
        let below = parse_position(position)?.unwrap_or(i64::MAX);
        let sql = self.st.dialect.sql(&format!(
            "SELECT {} FROM kv WHERE cat = ? AND id < ? ORDER BY id DESC LIMIT ?",
            self.st.kv_columns
        ));
        let found: Vec<KvRow> = sqlx::query(&sql)
            .bind(cat)
            .bind(below)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::kv)
            .collect::<StoreResult<_>>()?;
        let next = super::next_position(&found, limit, |kv| kv.id);
        Ok((found, next))
    }

    async fn kv_create(&self, cat: &str, key: &str, value: &str, now: i64) -> StoreResult<()> {
        let op = Op::KvCreate {
            cat: cat.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            now,
        };
        self.writer.write(op, true).await.map(drop)
    }

    async fn kv_update(
        &self,
        cat: &str,
        key: &str,
        value: &str,
        version: i64,
        now: i64,
    ) -> StoreResult<()> {
        let op = Op::KvUpdate {
            cat: cat.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            version,
            now,
        };
        self.writer.write(op, true).await.map(drop)
    }

    async fn kv_delete(&self, cat: &str, key: &str) -> StoreResult<()> {
        let op = Op::KvDelete {
            cat: cat.to_string(),
            key: key.to_string(),
        };
        self.writer.write(op, true).await.map(drop)
    }

    async fn list_after(&self, after: i64, limit: i64) -> StoreResult<Vec<Listed>> {
        self.list_after_in(after, limit).await.map_err(db_err)
    }

    async fn delete_final(&self, gids: Vec<String>) -> StoreResult<u64> {
        if gids.is_empty() {
            return Ok(0);
        }
        self.delete_final_in(&gids).await.map_err(db_err)
    }
}
