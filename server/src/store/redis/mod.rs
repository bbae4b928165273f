//! The Redis store, on DTM's key layout (PROTOCOL.md §6.5), so a DTM deployment's Redis
//! data is readable by dtmx and the other way round.
//!
//! Keys, with `P` the prefix `Store.RedisPrefix` (default `{a}`, a hash tag):
//!
//! | key | type | content |
//! |---|---|---|
//! | `P_g_<gid>` | string | the transaction's JSON (`json`), TTL `DataExpire`, then `FinishedDataExpire` once final |
//! | `P_b_<gid>` | list | one branch JSON per element, insertion order, same TTL |
//! | `P_s_<gid>` | string | the status, the compare-and-set register, same TTL |
//! | `P_u` | sorted set | unfinished gids scored by `next_cron_time`, Unix seconds with a millisecond fraction (DTM's unit) |
//! | `P_kv_<cat>_<key>` | string | a KV row's JSON |
//!
//! dtmx adds, for what DTM does with `SCAN` (which cannot list newest first):
//!
//! | `P_id` | string | counter giving each new transaction and KV row an id (DTM writes 0) |
//! | `P_l` | sorted set | gids scored by id: the admin listing, newest first |
//! | `P_lc` | string | cursor of the sweep that drops expired gids from `P_l`, two per new transaction |
//! | `P_kvs_<cat>` | sorted set | KV keys of a category scored by id; DTM's rows are adopted at start-up |
//!
//! Every mutation is one Lua script (`scripts`), run with `EVALSHA`. Leases re-score due
//! gids of `P_u` to the lease's end inside one script, so servers sharing one Redis never
//! lease a gid twice at the same time; gids whose document expired are dropped from `P_u`.
//! Transactions written by DTM have id 0 and are absent from the listing (`all`), but
//! everything else (query, cron, branches) works on them.
//!
//! Durability: dtmx acknowledges a write once Redis acknowledged it (`writer` pipelines
//! many writes per round trip). What survives a crash is Redis's persistence setting:
//! `appendonly yes` + `appendfsync always` loses nothing acknowledged (Redis fsyncs the
//! AOF before answering, one fsync per event-loop pass, so it also group-commits);
//! `appendfsync everysec` (Redis's default with AOF) survives a Redis process crash but
//! may lose the last second or two on a power loss or kernel crash; `appendfsync no`
//! leaves the flush to the OS (up to about 30 s); RDB snapshots alone lose everything
//! since the last snapshot, and no persistence loses everything on restart. Use
//! `appendfsync always` for DTM's guarantees. Only a single Redis node is supported (a
//! comma list of hosts, DTM's cluster mode, is not).

mod json;
mod scripts;
mod writer;

use super::{
    BranchRow, CronTouch, KvRow, Leased, Listed, ScanQuery, StatusChange, Store, StoreError,
    StoreResult, TransRow, WriteAck,
};
use crate::config::StoreConfig;
use ::redis::aio::ConnectionManager;
use ::redis::{AsyncCommands, Cmd, Script, Value};
use async_trait::async_trait;
use dtmx::TransStatus;
use scripts::Scripts;
use std::sync::Arc;
use std::time::Duration;
use writer::Writer;

/// Writer shards: pipelines of different transactions in flight at once.
const WRITER_SHARDS: usize = 4;

/// How long a command may wait for Redis's answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Transactions read per round trip while filtering the listing.
const SCAN_CHUNK: i64 = 200;

/// A store on Redis.
pub struct RedisStore {
    conn: ConnectionManager,
    keys: Keys,
    scripts: Arc<Scripts>,
    writer: Writer,
    data_expire: i64,
    finished_expire: i64,
}

/// The key names under one prefix.
#[derive(Clone)]
struct Keys(String);

impl Keys {
    fn g(&self, gid: &str) -> String {
        format!("{}_g_{gid}", self.0)
    }
    fn b(&self, gid: &str) -> String {
        format!("{}_b_{gid}", self.0)
    }
    fn s(&self, gid: &str) -> String {
        format!("{}_s_{gid}", self.0)
    }
    fn u(&self) -> String {
        format!("{}_u", self.0)
    }
    fn id(&self) -> String {
        format!("{}_id", self.0)
    }
    fn l(&self) -> String {
        format!("{}_l", self.0)
    }
    fn lc(&self) -> String {
        format!("{}_lc", self.0)
    }
    fn kv(&self, cat: &str, key: &str) -> String {
        format!("{}_kv_{cat}_{key}", self.0)
    }
    fn kvs(&self, cat: &str) -> String {
        format!("{}_kvs_{cat}", self.0)
    }

    /// A `SCAN MATCH` pattern for the keys under the prefix that start with `rest`.
    fn pattern(&self, rest: &str) -> String {
        let mut p = String::new();
        for c in self.0.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                p.push('\\');
            }
            p.push(c);
        }
        format!("{p}_{rest}*")
    }
}

/// A Redis error as a store error.
fn db_err(e: ::redis::RedisError) -> StoreError {
    StoreError::Db(format!("redis: {e}"))
}

/// A script's reply as a result: DTM's refusal strings become store errors.
fn outcome(reply: Value) -> StoreResult<Value> {
    match &reply {
        Value::BulkString(b) if b == b"NOT_FOUND" => Err(StoreError::NotFound),
        Value::BulkString(b) if b == b"UNIQUE_CONFLICT" => Err(StoreError::UniqueConflict),
        Value::ServerError(e) => Err(StoreError::Db(format!(
            "redis: {} {}",
            e.code(),
            e.details().unwrap_or_default()
        ))),
        _ => Ok(reply),
    }
}

/// Loads every script into Redis's script cache.
async fn load_scripts(conn: &mut ConnectionManager, scripts: &Scripts) -> StoreResult<()> {
    for script in scripts.all() {
        script
            .prepare_invoke()
            .load_async(conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

/// An `EVALSHA` call of `script` on `keys`; arguments follow.
fn eval(script: &Script, keys: &[String]) -> Cmd {
    let mut cmd = ::redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(keys.len()).arg(keys);
    cmd
}

/// Adds the six arguments of each branch result (see `scripts`).
fn branch_args(cmd: &mut Cmd, branches: &[BranchRow]) {
    for b in branches {
        cmd.arg(&b.branch_id)
            .arg(&b.op)
            .arg(b.status.as_str())
            .arg(json::time(b.update_time))
            .arg(b.finish_time.map(json::time).unwrap_or_default())
            .arg(b.rollback_time.map(json::time).unwrap_or_default());
    }
}

fn bytes(v: &Value) -> StoreResult<&[u8]> {
    match v {
        Value::BulkString(b) => Ok(b),
        other => Err(StoreError::Db(format!(
            "redis: expected a string, got {other:?}"
        ))),
    }
}

fn int(v: &Value) -> StoreResult<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(StoreError::Db(format!(
            "redis: expected an integer, got {other:?}"
        ))),
    }
}

fn parse_position(position: &str) -> StoreResult<String> {
    if position.is_empty() {
        return Ok("+inf".into());
    }
    let id: i64 = position
        .parse()
        .map_err(|_| StoreError::Db(format!("invalid position {position:?}")))?;
    Ok(format!("({id}"))
}

fn client(config: &StoreConfig) -> StoreResult<::redis::Client> {
    let port = u16::try_from(config.port)
        .map_err(|_| StoreError::Db(format!("bad Store.Port {}", config.port)))?;
    let info = ::redis::ConnectionInfo {
        addr: ::redis::ConnectionAddr::Tcp(config.host.clone(), port),
        redis: ::redis::RedisConnectionInfo {
            db: 0,
            username: Some(config.user.clone()).filter(|u| !u.is_empty()),
            password: Some(config.password.clone()).filter(|p| !p.is_empty()),
            protocol: ::redis::ProtocolVersion::RESP2,
        },
    };
    ::redis::Client::open(info).map_err(db_err)
}

async fn connect(config: &StoreConfig) -> StoreResult<ConnectionManager> {
    let settings = ::redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(RESPONSE_TIMEOUT)
        .set_number_of_retries(1);
    ConnectionManager::new_with_config(client(config)?, settings)
        .await
        .map_err(db_err)
}

impl RedisStore {
    /// Connects to Redis (waiting until it answers, as DTM does), loads the scripts,
    /// indexes KV rows written by DTM and starts the writers.
    pub async fn open(config: &StoreConfig) -> StoreResult<RedisStore> {
        let scripts = Arc::new(Scripts::new());
        let keys = Keys(config.redis_prefix.clone());
        let mut attempt = 0u32;
        let conn = loop {
            let ready = async {
                let mut conn = connect(config).await?;
                load_scripts(&mut conn, &scripts).await?;
                adopt_kv(&mut conn, &keys, &scripts).await?;
                Ok::<_, StoreError>(conn)
            };
            match ready.await {
                Ok(conn) => break conn,
                Err(e) => {
                    attempt += 1;
                    tracing::warn!("store not ready ({e}); retrying in 3 s");
                    if attempt == 1 {
                        tracing::warn!("dtmx waits for Redis at {}:{}", config.host, config.port);
                    }
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
            }
        };
        let writer = Writer::start(conn.clone(), scripts.clone(), WRITER_SHARDS);
        Ok(RedisStore {
            conn,
            keys,
            scripts,
            writer,
            data_expire: config.data_expire.max(1),
            finished_expire: config.finished_data_expire.max(1),
        })
    }

    /// Deletes every key under the prefix (DTM's `-r` runs FLUSHALL; other data may live
    /// in the same Redis).
    pub async fn reset(config: &StoreConfig) -> StoreResult<()> {
        let mut conn = connect(config).await?;
        let keys = Keys(config.redis_prefix.clone());
        let pattern = keys.pattern("");
        let mut cursor: u64 = 0;
        loop {
            let (next, found): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(db_err)?;
            if !found.is_empty() {
                let _: () = conn.del(found).await.map_err(db_err)?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Transaction documents of `gids`, `None` where expired.
    async fn docs(&self, gids: &[String]) -> StoreResult<Vec<Option<Vec<u8>>>> {
        if gids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = gids.iter().map(|g| self.keys.g(g)).collect();
        ::redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut self.conn())
            .await
            .map_err(db_err)
    }

    /// KV rows of `cat` for index entries `(key, id)`, skipping deleted ones.
    async fn kv_rows(&self, cat: &str, entries: Vec<(String, f64)>) -> StoreResult<Vec<KvRow>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = entries.iter().map(|(k, _)| self.keys.kv(cat, k)).collect();
        let docs: Vec<Option<Vec<u8>>> = ::redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut self.conn())
            .await
            .map_err(db_err)?;
        entries
            .iter()
            .zip(docs)
            .filter_map(|((_, id), doc)| doc.map(|d| json::kv(*id as i64, &d)))
            .collect()
    }

    fn cron_keys(&self, gid: &str) -> [String; 4] {
        [
            self.keys.g(gid),
            self.keys.b(gid),
            self.keys.s(gid),
            self.keys.u(),
        ]
    }

    fn update_call(&self, global: TransStatus, gid: &str, branches: &[BranchRow]) -> Cmd {
        let mut cmd = eval(
            &self.scripts.update_branches,
            &[self.keys.b(gid), self.keys.s(gid)],
        );
        cmd.arg(global.as_str());
        branch_args(&mut cmd, branches);
        cmd
    }
}

/// Gives the KV rows DTM wrote (which have no `P_kvs_<cat>` index entry) an id, so that
/// `kv_find` and `kv_scan` see them.
async fn adopt_kv(conn: &mut ConnectionManager, keys: &Keys, scripts: &Scripts) -> StoreResult<()> {
    let pattern = keys.pattern("kv_");
    let mut cursor: u64 = 0;
    loop {
        let (next, found): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .map_err(db_err)?;
        if !found.is_empty() {
            let docs: Vec<Option<Vec<u8>>> = ::redis::cmd("MGET")
                .arg(&found)
                .query_async(conn)
                .await
                .map_err(db_err)?;
            for doc in docs.into_iter().flatten() {
                let Ok(row) = json::kv(0, &doc) else { continue };
                let _: i64 = scripts
                    .kv_adopt
                    .key(keys.kvs(&row.cat))
                    .key(keys.id())
                    .arg(&row.k)
                    .invoke_async(conn)
                    .await
                    .map_err(db_err)?;
            }
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn save_new(&self, trans: TransRow, branches: Vec<BranchRow>) -> StoreResult<i64> {
        let gid = &trans.gid;
        let finished = matches!(trans.status, TransStatus::Succeed | TransStatus::Failed);
        let ttl = if finished {
            self.finished_expire
        } else {
            self.data_expire
        };
        let k = &self.keys;
        let mut cmd = eval(
            &self.scripts.save_new,
            &[k.g(gid), k.b(gid), k.s(gid), k.u(), k.id(), k.l(), k.lc()],
        );
        cmd.arg(&k.0)
            .arg(ttl)
            .arg(json::trans_tail(&trans)?)
            .arg(gid)
            .arg(trans.status.as_str())
            .arg(if finished {
                String::new()
            } else {
                json::score(trans.next_cron_time)
            });
        for b in &branches {
            cmd.arg(json::branch_doc(b));
        }
        int(&self.writer.write(gid, vec![cmd]).await?)
    }

    async fn find_trans(&self, gid: &str) -> StoreResult<Option<TransRow>> {
        let mut get = ::redis::cmd("GET");
        get.arg(self.keys.g(gid));
        match self.writer.write(gid, vec![get]).await? {
            Value::Nil => Ok(None),
            doc => json::trans(bytes(&doc)?).map(Some),
        }
    }

    async fn find_branches(&self, gid: &str) -> StoreResult<Vec<BranchRow>> {
        let mut lrange = ::redis::cmd("LRANGE");
        lrange.arg(self.keys.b(gid)).arg(0).arg(-1);
        match self.writer.write(gid, vec![lrange]).await? {
            Value::Array(docs) => docs
                .iter()
                .enumerate()
                .map(|(i, d)| json::branch(gid, i, bytes(d)?))
                .collect(),
            other => Err(StoreError::Db(format!(
                "redis: expected a list, got {other:?}"
            ))),
        }
    }

    async fn scan(&self, q: ScanQuery) -> StoreResult<(Vec<TransRow>, String)> {
        let mut below = parse_position(&q.position)?;
        let mut found = Vec::new();
        let chunk = q.limit.clamp(1, SCAN_CHUNK);
        'pages: while (found.len() as i64) < q.limit {
            let entries: Vec<(String, f64)> = ::redis::cmd("ZREVRANGEBYSCORE")
                .arg(self.keys.l())
                .arg(&below)
                .arg("-inf")
                .arg("WITHSCORES")
                .arg("LIMIT")
                .arg(0)
                .arg(chunk)
                .query_async(&mut self.conn())
                .await
                .map_err(db_err)?;
            let gids: Vec<String> = entries.iter().map(|(g, _)| g.clone()).collect();
            let docs = self.docs(&gids).await?;
            for ((_, id), doc) in entries.iter().zip(docs) {
                below = format!("({}", *id as i64);
                let Some(doc) = doc else { continue };
                let mut t = json::trans(&doc)?;
                t.id = *id as i64;
                let keep = (q.status.is_empty() || t.status.as_str() == q.status)
                    && (q.trans_type.is_empty() || t.trans_type.as_str() == q.trans_type)
                    && q.create_time_start.map_or(true, |s| t.create_time >= s)
                    && q.create_time_end.map_or(true, |e| t.create_time <= e);
                if keep {
                    found.push(t);
                    if found.len() as i64 == q.limit {
                        break 'pages;
                    }
                }
            }
            if (entries.len() as i64) < chunk {
                break;
            }
        }
        let next = super::next_position(&found, q.limit, |t| t.id);
        Ok((found, next))
    }

    async fn append_branches(
        &self,
        gid: &str,
        status: TransStatus,
        branches: Vec<BranchRow>,
    ) -> StoreResult<()> {
        let mut cmd = eval(&self.scripts.append, &[self.keys.b(gid), self.keys.s(gid)]);
        cmd.arg(self.data_expire).arg(status.as_str());
        for b in &branches {
            cmd.arg(&b.branch_id).arg(&b.op).arg(json::branch_doc(b));
        }
        self.writer.write(gid, vec![cmd]).await.map(drop)
    }

    async fn change_status(
        &self,
        gid: &str,
        old: TransStatus,
        change: StatusChange,
        _durable: bool,
    ) -> StoreResult<()> {
        let mut cmd = eval(&self.scripts.change_status, &self.cron_keys(gid));
        cmd.arg(self.data_expire)
            .arg(self.finished_expire)
            .arg(old.as_str())
            .arg(change.status.as_str())
            .arg(gid)
            .arg(json::time(change.now))
            .arg(&change.rollback_reason)
            .arg(&change.result)
            .arg(&change.custom_data);
        branch_args(&mut cmd, &change.branches);
        self.writer.write(gid, vec![cmd]).await.map(drop)
    }

    fn update_branches(&self, global: TransStatus, branches: Vec<BranchRow>) -> WriteAck {
        let mut calls = Vec::new();
        let mut rest = branches.as_slice();
        while let Some(first) = rest.first() {
            let n = rest.iter().take_while(|b| b.gid == first.gid).count();
            calls.push(self.update_call(global, &first.gid, &rest[..n]));
            rest = &rest[n..];
        }
        let key = branches.first().map_or("", |b| b.gid.as_str());
        let rx = self.writer.submit(key, calls);
        Box::pin(async move {
            rx.await
                .map_err(|_| StoreError::Db("the store writer stopped".into()))?
                .map(drop)
        })
    }

    fn touch_cron(&self, touch: CronTouch) {
        let mut cmd = eval(&self.scripts.touch, &self.cron_keys(&touch.gid));
        cmd.arg(touch.status.as_str())
            .arg(touch.interval)
            .arg(json::time(touch.next_time))
            .arg(json::score(touch.next_time))
            .arg(json::time(touch.now))
            .arg(&touch.gid);
        branch_args(&mut cmd, &touch.branches);
        self.writer.write_lazy("touch_cron", &touch.gid, vec![cmd]);
    }

    async fn lock_due(
        &self,
        due_before: i64,
        lease_until: i64,
        now: i64,
        limit: usize,
    ) -> StoreResult<Vec<Leased>> {
        let owner = format!("{:016x}", rand::random::<u64>());
        let reply: Value = self
            .scripts
            .lock_due
            .key(self.keys.u())
            .arg(&self.keys.0)
            .arg(json::score(due_before))
            .arg(json::score(lease_until))
            .arg(json::time(lease_until))
            .arg(json::time(now))
            .arg(owner)
            .arg(limit)
            .invoke_async(&mut self.conn())
            .await
            .map_err(db_err)?;
        let Value::Array(items) = reply else {
            return Err(StoreError::Db(format!("redis: unexpected lease {reply:?}")));
        };
        items
            .iter()
            .map(|item| match item {
                Value::Array(pair) if pair.len() == 2 => {
                    let trans = json::trans(bytes(&pair[0])?)?;
                    let branches = match &pair[1] {
                        Value::Array(docs) => docs
                            .iter()
                            .enumerate()
                            .map(|(i, d)| json::branch(&trans.gid, i, bytes(d)?))
                            .collect::<StoreResult<Vec<_>>>()?,
                        _ => Vec::new(),
                    };
                    Ok((trans, branches))
                }
                other => Err(StoreError::Db(format!("redis: unexpected lease {other:?}"))),
            })
            .collect()
    }

    async fn reset_cron_time(&self, after: i64, now: i64, limit: i64) -> StoreResult<(i64, bool)> {
        let (done, more): (i64, i64) = self
            .scripts
            .reset_cron
            .key(self.keys.u())
            .arg(&self.keys.0)
            .arg(json::score(after))
            .arg(json::score(now))
            .arg(json::time(now))
            .arg(limit.max(0))
            .invoke_async(&mut self.conn())
            .await
            .map_err(db_err)?;
        Ok((done, more == 1))
    }

    async fn reset_next_cron_time(&self, gid: &str, now: i64) -> StoreResult<()> {
        let mut cmd = eval(
            &self.scripts.reset_next,
            &[self.keys.g(gid), self.keys.s(gid), self.keys.u()],
        );
        cmd.arg(json::time(now)).arg(json::score(now)).arg(gid);
        self.writer.write(gid, vec![cmd]).await.map(drop)
    }

    async fn flush(&self) -> StoreResult<()> {
        self.writer.flush().await
    }

    async fn kv_find(&self, cat: &str, key: &str) -> StoreResult<Vec<KvRow>> {
        let entries: Vec<(String, f64)> = if key.is_empty() {
            ::redis::cmd("ZRANGE")
                .arg(self.keys.kvs(cat))
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut self.conn())
                .await
                .map_err(db_err)?
        } else {
            let id: Option<f64> = self
                .conn()
                .zscore(self.keys.kvs(cat), key)
                .await
                .map_err(db_err)?;
            vec![(key.to_string(), id.unwrap_or_default())]
        };
        self.kv_rows(cat, entries).await
    }

    async fn kv_scan(
        &self,
        cat: &str,
        position: &str,
        limit: i64,
    ) -> StoreResult<(Vec<KvRow>, String)> {
        let entries: Vec<(String, f64)> = ::redis::cmd("ZREVRANGEBYSCORE")
            .arg(self.keys.kvs(cat))
            .arg(parse_position(position)?)
            .arg("-inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit.max(0))
            .query_async(&mut self.conn())
            .await
            .map_err(db_err)?;
        let next = super::next_position(&entries, limit, |(_, id)| *id as i64);
        Ok((self.kv_rows(cat, entries).await?, next))
    }

    async fn kv_create(&self, cat: &str, key: &str, value: &str, now: i64) -> StoreResult<()> {
        let mut cmd = eval(
            &self.scripts.kv_create,
            &[self.keys.kv(cat, key), self.keys.kvs(cat), self.keys.id()],
        );
        cmd.arg(key).arg(json::kv_tail(cat, key, value, now));
        self.writer.write(key, vec![cmd]).await.map(drop)
    }

    async fn kv_update(
        &self,
        cat: &str,
        key: &str,
        value: &str,
        version: i64,
        now: i64,
    ) -> StoreResult<()> {
        let mut cmd = eval(&self.scripts.kv_update, &[self.keys.kv(cat, key)]);
        cmd.arg(version).arg(value).arg(json::time(now));
        self.writer.write(key, vec![cmd]).await.map(drop)
    }

    async fn kv_delete(&self, cat: &str, key: &str) -> StoreResult<()> {
        let mut cmd = eval(
            &self.scripts.kv_delete,
            &[self.keys.kv(cat, key), self.keys.kvs(cat)],
        );
        cmd.arg(key);
        self.writer.write(key, vec![cmd]).await.map(drop)
    }

    async fn list_after(&self, after: i64, limit: i64) -> StoreResult<Vec<Listed>> {
        let entries: Vec<(String, f64)> = ::redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.l())
            .arg(format!("({after}"))
            .arg("+inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut self.conn())
            .await
            .map_err(db_err)?;
        let gids: Vec<String> = entries.iter().map(|(g, _)| g.clone()).collect();
        let docs = self.docs(&gids).await?;
        entries
            .into_iter()
            .zip(docs)
            .map(|((gid, id), doc)| {
                let (status, create_time) = match doc {
                    Some(doc) => {
                        let t = json::trans(&doc)?;
                        (Some(t.status), Some(t.create_time))
                    }
                    None => (None, None),
                };
                Ok(Listed {
                    id: id as i64,
                    gid,
                    status,
                    create_time,
                })
            })
            .collect()
    }

    async fn delete_final(&self, gids: Vec<String>) -> StoreResult<u64> {
        let mut deleted = 0;
        for gid in &gids {
            let keys = [
                self.keys.g(gid),
                self.keys.b(gid),
                self.keys.s(gid),
                self.keys.l(),
            ];
            let mut cmd = eval(&self.scripts.delete_final, &keys);
            cmd.arg(gid);
            if let Value::Int(n) = outcome(self.writer.write(gid, vec![cmd]).await?)? {
                deleted += n as u64;
            }
        }
        Ok(deleted)
    }
}
