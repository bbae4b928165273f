//! store-compare: SQLite (rusqlite, bundled) vs redb under dtmx's write pattern.
//!
//! One writer thread owns the database. N producer threads each simulate an in-flight saga:
//! send the insert (1 transaction row + 4 branch rows) and wait for its durable ack, send two
//! lazy branch status updates (no ack), then the final transaction status update and wait for
//! its durable ack. The writer drains everything pending (up to 4096 items) into ONE write
//! transaction, commits it durably, then acks every item of the batch (group commit).
//!
//! Subcommands (see README.md):
//!   write  [--engines sqlite,redb,redb-quick-repair] [--producers 1,16,64,256] [--secs 10] [--warmup 1]
//!   mixed  [--engines ...] [--producers 64] [--secs 10] [--warmup 1]   (adds 1 reader thread)
//!   open   [--engines ...] [--sagas 1000000] [--batch 10000]
//!   all    (write, then mixed, then open)
//! Common: --rounds R (write/mixed: repeat, then print the median round), --dir PATH (where the database files go; removed after each run)

use crossbeam_channel::{unbounded, Receiver, Sender};
use hdrhistogram::Histogram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MAX_BATCH: usize = 4096;

// ---------------------------------------------------------------------------------------------
// Rows and the workload
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
struct Trans {
    gid: String,
    trans_type: String,
    status: String,
    query_prepared: String,
    protocol: String,
    create_time: i64,
    update_time: i64,
    finish_time: Option<i64>,
    rollback_time: Option<i64>,
    options: String,
    custom_data: String,
    next_cron_interval: i64,
    next_cron_time: i64,
    owner: String,
    ext_data: String,
    result: String,
    rollback_reason: String,
}

#[derive(Clone, Debug, PartialEq)]
struct Branch {
    gid: String,
    url: String,
    bin_data: Vec<u8>,
    branch_id: String,
    op: String,
    status: String,
    create_time: i64,
    update_time: i64,
    finish_time: Option<i64>,
    rollback_time: Option<i64>,
}

/// Branch order inside a saga; redb keys branches by (gid, index into this list).
const BRANCH_SHAPE: [(&str, &str, &str); 4] = [
    (
        "01",
        "compensate",
        "http://svc-account.internal:8081/api/busi/TransOutRevert",
    ),
    (
        "01",
        "action",
        "http://svc-account.internal:8081/api/busi/TransOut",
    ),
    (
        "02",
        "compensate",
        "http://svc-account.internal:8081/api/busi/TransInRevert",
    ),
    (
        "02",
        "action",
        "http://svc-account.internal:8081/api/busi/TransIn",
    ),
];
/// The two branches a successful saga marks "succeed" (the actions).
const UPDATED_BRANCHES: [u8; 2] = [1, 3];

const OPTIONS_JSON: &str = r#"{"timeout_to_fail":60,"retry_interval":10,"wait_result":true}"#;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 22-char base62 gid, random-looking like dtm's shortuuid gids, unique per seq
/// (splitmix64 is a bijection, and 62^22 > 2^128).
fn gid_of(seq: u64) -> String {
    const ALPHA: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut v = ((splitmix64(seq) as u128) << 64) | splitmix64(seq ^ 0x5555_AAAA_5555_AAAA) as u128;
    let mut out = [0u8; 22];
    for c in out.iter_mut().rev() {
        *c = ALPHA[(v % 62) as usize];
        v /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn make_saga(seq: u64, now: i64) -> (Trans, Vec<Branch>) {
    let gid = gid_of(seq);
    let trans = Trans {
        gid: gid.clone(),
        trans_type: "saga".into(),
        status: "submitted".into(),
        query_prepared: String::new(),
        protocol: "http".into(),
        create_time: now,
        update_time: now,
        finish_time: None,
        rollback_time: None,
        options: OPTIONS_JSON.into(),
        custom_data: String::new(),
        next_cron_interval: 10,
        next_cron_time: now + 10_000,
        owner: String::new(),
        ext_data: String::new(),
        result: String::new(),
        rollback_reason: String::new(),
    };
    let branches = BRANCH_SHAPE
        .iter()
        .map(|(bid, op, url)| Branch {
            gid: gid.clone(),
            url: (*url).into(),
            bin_data: br#"{"amount":30}"#.to_vec(),
            branch_id: (*bid).into(),
            op: (*op).into(),
            status: "prepared".into(),
            create_time: now,
            update_time: now,
            finish_time: None,
            rollback_time: None,
        })
        .collect();
    (trans, branches)
}

enum Op {
    Insert(Box<(Trans, Vec<Branch>)>),
    /// Branch status update, looked up by (gid, branch index) / (gid, branch_id, op).
    Branch {
        gid: String,
        idx: u8,
        status: &'static str,
        now: i64,
    },
    /// Transaction status update, looked up by gid.
    Trans {
        gid: String,
        status: &'static str,
        now: i64,
    },
}

struct Work {
    op: Op,
    ack: Option<Sender<()>>,
}

// ---------------------------------------------------------------------------------------------
// Compact hand-rolled encoding (redb values): LEB128 varints, length-prefixed strings.
// ---------------------------------------------------------------------------------------------

fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
fn put_i64(out: &mut Vec<u8>, v: i64) {
    put_u64(out, ((v << 1) ^ (v >> 63)) as u64)
}
fn put_opt(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put_i64(out, v)
        }
    }
}
fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u64(out, b.len() as u64);
    out.extend_from_slice(b);
}

struct Dec<'a>(&'a [u8]);
impl Dec<'_> {
    fn u64(&mut self) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = self.0[0];
            self.0 = &self.0[1..];
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
    fn i64(&mut self) -> i64 {
        let u = self.u64();
        ((u >> 1) as i64) ^ -((u & 1) as i64)
    }
    fn opt(&mut self) -> Option<i64> {
        let tag = self.0[0];
        self.0 = &self.0[1..];
        (tag == 1).then(|| self.i64())
    }
    fn bytes(&mut self) -> Vec<u8> {
        let n = self.u64() as usize;
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        b.to_vec()
    }
    fn string(&mut self) -> String {
        String::from_utf8(self.bytes()).expect("utf8")
    }
}

/// The gid is the key, so it is not repeated in the value.
fn encode_trans(t: &Trans, out: &mut Vec<u8>) {
    out.clear();
    put_bytes(out, t.trans_type.as_bytes());
    put_bytes(out, t.status.as_bytes());
    put_bytes(out, t.query_prepared.as_bytes());
    put_bytes(out, t.protocol.as_bytes());
    put_i64(out, t.create_time);
    put_i64(out, t.update_time);
    put_opt(out, t.finish_time);
    put_opt(out, t.rollback_time);
    put_bytes(out, t.options.as_bytes());
    put_bytes(out, t.custom_data.as_bytes());
    put_i64(out, t.next_cron_interval);
    put_i64(out, t.next_cron_time);
    put_bytes(out, t.owner.as_bytes());
    put_bytes(out, t.ext_data.as_bytes());
    put_bytes(out, t.result.as_bytes());
    put_bytes(out, t.rollback_reason.as_bytes());
}

fn decode_trans(gid: &str, b: &[u8]) -> Trans {
    let mut d = Dec(b);
    Trans {
        gid: gid.to_string(),
        trans_type: d.string(),
        status: d.string(),
        query_prepared: d.string(),
        protocol: d.string(),
        create_time: d.i64(),
        update_time: d.i64(),
        finish_time: d.opt(),
        rollback_time: d.opt(),
        options: d.string(),
        custom_data: d.string(),
        next_cron_interval: d.i64(),
        next_cron_time: d.i64(),
        owner: d.string(),
        ext_data: d.string(),
        result: d.string(),
        rollback_reason: d.string(),
    }
}

fn encode_branch(b: &Branch, out: &mut Vec<u8>) {
    out.clear();
    put_bytes(out, b.url.as_bytes());
    put_bytes(out, &b.bin_data);
    put_bytes(out, b.branch_id.as_bytes());
    put_bytes(out, b.op.as_bytes());
    put_bytes(out, b.status.as_bytes());
    put_i64(out, b.create_time);
    put_i64(out, b.update_time);
    put_opt(out, b.finish_time);
    put_opt(out, b.rollback_time);
}

fn decode_branch(gid: &str, b: &[u8]) -> Branch {
    let mut d = Dec(b);
    Branch {
        gid: gid.to_string(),
        url: d.string(),
        bin_data: d.bytes(),
        branch_id: d.string(),
        op: d.string(),
        status: d.string(),
        create_time: d.i64(),
        update_time: d.i64(),
        finish_time: d.opt(),
        rollback_time: d.opt(),
    }
}

// ---------------------------------------------------------------------------------------------
// Engines
// ---------------------------------------------------------------------------------------------

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Sqlite,
    Redb,
    /// redb with `set_quick_repair(true)` on every write transaction (2-phase commit plus the
    /// allocator state saved in each commit, so reopening after a crash needs no full repair).
    RedbQr,
}
impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Redb => "redb",
            Kind::RedbQr => "redb-quick-repair",
        }
    }
    fn path(self, dir: &Path) -> PathBuf {
        match self {
            Kind::Sqlite => dir.join("bench.sqlite"),
            Kind::Redb => dir.join("bench.redb"),
            Kind::RedbQr => dir.join("bench-qr.redb"),
        }
    }
}

/// The writer side: applies a batch in one write transaction and commits it durably.
trait Writer: Send {
    fn apply_batch(&mut self, ops: &[&Op]) -> Res<()>;
}

/// A point lookup: the transaction by gid plus its branches. Returns (found, branch count).
trait Reader: Send {
    fn lookup(&mut self, gid: &str) -> Res<(bool, usize)>;
}

// ---- SQLite ---------------------------------------------------------------------------------

mod sqlite {
    use super::*;
    use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

    /// dtmx's schema (server/src/store/sqlite.rs) minus the partial "due" index and kv table.
    pub const SCHEMA: &str = "
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
  rollback_reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS trans_branch_op (
  id INTEGER PRIMARY KEY,
  gid TEXT NOT NULL,
  url TEXT NOT NULL,
  bin_data BLOB,
  branch_id TEXT NOT NULL,
  op TEXT NOT NULL,
  status TEXT NOT NULL,
  finish_time INTEGER,
  rollback_time INTEGER,
  create_time INTEGER,
  update_time INTEGER,
  UNIQUE (gid, branch_id, op)
);";

    const INSERT_TRANS: &str = "INSERT INTO trans_global (gid, trans_type, status, \
        query_prepared, protocol, create_time, update_time, finish_time, rollback_time, options, \
        custom_data, next_cron_interval, next_cron_time, owner, ext_data, result, rollback_reason) \
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
    const INSERT_BRANCH: &str = "INSERT INTO trans_branch_op (gid, url, bin_data, branch_id, op, \
        status, create_time, update_time, finish_time, rollback_time) \
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    const UPDATE_BRANCH: &str = "UPDATE trans_branch_op SET status = ?1, update_time = ?2, \
        finish_time = ?3 WHERE gid = ?4 AND branch_id = ?5 AND op = ?6";
    const UPDATE_TRANS: &str = "UPDATE trans_global SET status = ?1, update_time = ?2, \
        finish_time = ?3 WHERE gid = ?4 AND status = 'submitted'";
    const FIND_TRANS: &str = "SELECT id, gid, trans_type, status, query_prepared, protocol, \
        create_time, update_time, finish_time, rollback_time, options, custom_data, \
        next_cron_interval, next_cron_time, owner, ext_data, result, rollback_reason \
        FROM trans_global WHERE gid = ?1";
    const FIND_BRANCHES: &str = "SELECT id, gid, url, bin_data, branch_id, op, status, \
        create_time, update_time, finish_time, rollback_time FROM trans_branch_op \
        WHERE gid = ?1 ORDER BY id";

    pub fn open_writer(path: &Path) -> Res<Connection> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(conn)
    }

    pub fn open_reader(path: &Path) -> Res<Connection> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(conn)
    }

    pub struct W(pub Connection);

    pub fn insert(conn: &Connection, t: &Trans, branches: &[Branch]) -> Res<()> {
        conn.prepare_cached(INSERT_TRANS)?.execute(params![
            t.gid,
            t.trans_type,
            t.status,
            t.query_prepared,
            t.protocol,
            t.create_time,
            t.update_time,
            t.finish_time,
            t.rollback_time,
            t.options,
            t.custom_data,
            t.next_cron_interval,
            t.next_cron_time,
            t.owner,
            t.ext_data,
            t.result,
            t.rollback_reason
        ])?;
        let mut stmt = conn.prepare_cached(INSERT_BRANCH)?;
        for b in branches {
            stmt.execute(params![
                b.gid,
                b.url,
                &b.bin_data[..],
                b.branch_id,
                b.op,
                b.status,
                b.create_time,
                b.update_time,
                b.finish_time,
                b.rollback_time
            ])?;
        }
        Ok(())
    }

    pub fn apply(conn: &Connection, op: &Op) -> Res<()> {
        match op {
            Op::Insert(s) => insert(conn, &s.0, &s.1)?,
            Op::Branch {
                gid,
                idx,
                status,
                now,
            } => {
                let (bid, bop, _) = BRANCH_SHAPE[*idx as usize];
                let n = conn
                    .prepare_cached(UPDATE_BRANCH)?
                    .execute(params![status, now, now, gid, bid, bop])?;
                assert_eq!(n, 1, "branch update missed");
            }
            Op::Trans { gid, status, now } => {
                let n = conn
                    .prepare_cached(UPDATE_TRANS)?
                    .execute(params![status, now, now, gid])?;
                assert_eq!(n, 1, "trans update missed");
            }
        }
        Ok(())
    }

    impl Writer for W {
        fn apply_batch(&mut self, ops: &[&Op]) -> Res<()> {
            self.0.execute_batch("BEGIN IMMEDIATE")?;
            for op in ops {
                if let Err(e) = apply(&self.0, op) {
                    let _ = self.0.execute_batch("ROLLBACK");
                    return Err(e);
                }
            }
            self.0.execute_batch("COMMIT")?;
            Ok(())
        }
    }

    pub struct R(pub Connection);

    pub fn lookup(conn: &Connection, gid: &str) -> Res<(bool, usize)> {
        let t = conn
            .prepare_cached(FIND_TRANS)?
            .query_row([gid], |r| {
                Ok(Trans {
                    gid: r.get(1)?,
                    trans_type: r.get(2)?,
                    status: r.get(3)?,
                    query_prepared: r.get(4)?,
                    protocol: r.get(5)?,
                    create_time: r.get(6)?,
                    update_time: r.get(7)?,
                    finish_time: r.get(8)?,
                    rollback_time: r.get(9)?,
                    options: r.get(10)?,
                    custom_data: r.get(11)?,
                    next_cron_interval: r.get(12)?,
                    next_cron_time: r.get(13)?,
                    owner: r.get(14)?,
                    ext_data: r.get(15)?,
                    result: r.get(16)?,
                    rollback_reason: r.get(17)?,
                })
            })
            .optional()?;
        let Some(t) = t else { return Ok((false, 0)) };
        let mut stmt = conn.prepare_cached(FIND_BRANCHES)?;
        let branches = stmt
            .query_map([gid], |r| {
                Ok(Branch {
                    gid: r.get(1)?,
                    url: r.get(2)?,
                    bin_data: r.get(3)?,
                    branch_id: r.get(4)?,
                    op: r.get(5)?,
                    status: r.get(6)?,
                    create_time: r.get(7)?,
                    update_time: r.get(8)?,
                    finish_time: r.get(9)?,
                    rollback_time: r.get(10)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        std::hint::black_box(&t);
        Ok((true, branches.len()))
    }

    impl Reader for R {
        fn lookup(&mut self, gid: &str) -> Res<(bool, usize)> {
            lookup(&self.0, gid)
        }
    }
}

// ---- redb -----------------------------------------------------------------------------------

mod redbe {
    use super::*;
    use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

    pub const TRANS: TableDefinition<&str, &[u8]> = TableDefinition::new("trans_global");
    pub const BRANCHES: TableDefinition<(&str, u8), &[u8]> =
        TableDefinition::new("trans_branch_op");

    pub fn open(path: &Path) -> Res<Database> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(TRANS)?;
        tx.open_table(BRANCHES)?;
        tx.commit()?;
        Ok(db)
    }

    pub struct W {
        pub db: Arc<Database>,
        pub buf: Vec<u8>,
        pub quick_repair: bool,
    }

    pub fn insert_saga(
        trans: &mut redb::Table<&str, &[u8]>,
        branches: &mut redb::Table<(&str, u8), &[u8]>,
        buf: &mut Vec<u8>,
        t: &Trans,
        bs: &[Branch],
    ) -> Res<()> {
        encode_trans(t, buf);
        if trans.insert(t.gid.as_str(), buf.as_slice())?.is_some() {
            return Err("duplicate gid".into());
        }
        for (i, b) in bs.iter().enumerate() {
            encode_branch(b, buf);
            branches.insert((b.gid.as_str(), i as u8), buf.as_slice())?;
        }
        Ok(())
    }

    impl Writer for W {
        fn apply_batch(&mut self, ops: &[&Op]) -> Res<()> {
            // Durability::Immediate is the default: commit() returns once fsynced.
            let mut tx = self.db.begin_write()?;
            tx.set_quick_repair(self.quick_repair);
            {
                let mut trans = tx.open_table(TRANS)?;
                let mut branches = tx.open_table(BRANCHES)?;
                for op in ops {
                    match op {
                        Op::Insert(s) => {
                            insert_saga(&mut trans, &mut branches, &mut self.buf, &s.0, &s.1)?
                        }
                        Op::Branch {
                            gid,
                            idx,
                            status,
                            now,
                        } => {
                            let key = (gid.as_str(), *idx);
                            let mut b = {
                                let g = branches.get(key)?.ok_or("branch update missed")?;
                                decode_branch(gid, g.value())
                            };
                            b.status = (*status).into();
                            b.update_time = *now;
                            b.finish_time = Some(*now);
                            encode_branch(&b, &mut self.buf);
                            branches.insert(key, self.buf.as_slice())?;
                        }
                        Op::Trans { gid, status, now } => {
                            let mut t = {
                                let g = trans.get(gid.as_str())?.ok_or("trans update missed")?;
                                decode_trans(gid, g.value())
                            };
                            assert_eq!(t.status, "submitted");
                            t.status = (*status).into();
                            t.update_time = *now;
                            t.finish_time = Some(*now);
                            encode_trans(&t, &mut self.buf);
                            trans.insert(gid.as_str(), self.buf.as_slice())?;
                        }
                    }
                }
            }
            tx.commit()?;
            Ok(())
        }
    }

    pub struct R(pub Arc<Database>);

    pub fn lookup(db: &Database, gid: &str) -> Res<(bool, usize)> {
        let tx = db.begin_read()?;
        let trans = tx.open_table(TRANS)?;
        let Some(g) = trans.get(gid)? else {
            return Ok((false, 0));
        };
        let t = decode_trans(gid, g.value());
        let branches = tx.open_table(BRANCHES)?;
        let mut bs = Vec::with_capacity(4);
        for item in branches.range((gid, 0u8)..=(gid, u8::MAX))? {
            let (_, v) = item?;
            bs.push(decode_branch(gid, v.value()));
        }
        std::hint::black_box(&t);
        Ok((true, bs.len()))
    }

    impl Reader for R {
        fn lookup(&mut self, gid: &str) -> Res<(bool, usize)> {
            lookup(&self.0, gid)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Group-commit writer loop and producers
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Stats {
    commits: AtomicU64,
    items: AtomicU64,
    sagas: AtomicU64,
    reads: AtomicU64,
    read_hits: AtomicU64,
    commit_us: AtomicU64,
    writer_cpu_ns: AtomicU64,
}

/// CPU time consumed by the calling thread, in ns (excludes time blocked in fsync).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    #[allow(unsafe_code)]
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Bytes this process passed to write()/pwrite() so far (/proc/self/io `wchar`).
fn process_wchar() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("wchar:")
                    .map(|v| v.trim().parse().unwrap_or(0))
            })
        })
        .unwrap_or(0)
}

fn writer_loop(mut w: Box<dyn Writer>, rx: Receiver<Work>, stats: Arc<Stats>) -> Box<dyn Writer> {
    let mut batch: Vec<Work> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let ops: Vec<&Op> = batch.iter().map(|w| &w.op).collect();
        let t0 = Instant::now();
        let cpu0 = thread_cpu_ns();
        w.apply_batch(&ops).expect("batch commit failed");
        stats
            .writer_cpu_ns
            .fetch_add(thread_cpu_ns() - cpu0, Ordering::Relaxed);
        stats
            .commit_us
            .fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats.items.fetch_add(batch.len() as u64, Ordering::Relaxed);
        for w in batch.drain(..) {
            if let Some(ack) = w.ack {
                let _ = ack.send(());
            }
        }
    }
    w
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram")
}

struct ProducerOut {
    saga_lat: Histogram<u64>,
    ack_lat: Histogram<u64>,
}

fn producer(
    tx: Sender<Work>,
    next_seq: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    measuring: Arc<AtomicBool>,
    stats: Arc<Stats>,
) -> ProducerOut {
    let (ack_tx, ack_rx) = crossbeam_channel::bounded::<()>(1);
    let mut out = ProducerOut {
        saga_lat: new_hist(),
        ack_lat: new_hist(),
    };
    while !stop.load(Ordering::Relaxed) {
        let seq = next_seq.fetch_add(1, Ordering::Relaxed);
        let now = now_ms();
        let saga = make_saga(seq, now);
        let gid = saga.0.gid.clone();
        let t0 = Instant::now();
        tx.send(Work {
            op: Op::Insert(Box::new(saga)),
            ack: Some(ack_tx.clone()),
        })
        .expect("writer gone");
        ack_rx.recv().expect("ack");
        let t1 = Instant::now();
        // ... the branches run here (not simulated) ...
        for idx in UPDATED_BRANCHES {
            tx.send(Work {
                op: Op::Branch {
                    gid: gid.clone(),
                    idx,
                    status: "succeed",
                    now: now_ms(),
                },
                ack: None,
            })
            .expect("writer gone");
        }
        let t2 = Instant::now();
        tx.send(Work {
            op: Op::Trans {
                gid,
                status: "succeed",
                now: now_ms(),
            },
            ack: Some(ack_tx.clone()),
        })
        .expect("writer gone");
        ack_rx.recv().expect("ack");
        let t3 = Instant::now();
        if measuring.load(Ordering::Relaxed) {
            stats.sagas.fetch_add(1, Ordering::Relaxed);
            let _ = out.ack_lat.record((t1 - t0).as_micros().max(1) as u64);
            let _ = out.ack_lat.record((t3 - t2).as_micros().max(1) as u64);
            let _ = out.saga_lat.record((t3 - t0).as_micros().max(1) as u64);
        }
    }
    out
}

fn reader_loop(
    mut r: Box<dyn Reader>,
    next_seq: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    measuring: Arc<AtomicBool>,
    stats: Arc<Stats>,
) -> Histogram<u64> {
    let mut h = new_hist();
    let mut rng = 0x1234_5678u64;
    while !stop.load(Ordering::Relaxed) {
        let hi = next_seq.load(Ordering::Relaxed);
        if hi == 0 {
            std::thread::yield_now();
            continue;
        }
        rng = splitmix64(rng);
        let gid = gid_of(rng % hi);
        let t0 = Instant::now();
        let (found, nb) = r.lookup(&gid).expect("lookup");
        let us = t0.elapsed().as_micros().max(1) as u64;
        if found {
            assert_eq!(nb, 4);
        }
        if measuring.load(Ordering::Relaxed) {
            stats.reads.fetch_add(1, Ordering::Relaxed);
            stats.read_hits.fetch_add(found as u64, Ordering::Relaxed);
            let _ = h.record(us);
        }
    }
    h
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn with_suffix(p: &Path, s: &str) -> PathBuf {
    let mut o = p.as_os_str().to_owned();
    o.push(s);
    PathBuf::from(o)
}

fn remove_db(kind: Kind, dir: &Path) {
    let p = kind.path(dir);
    for s in ["", "-wal", "-shm", ".crash", ".crash-wal"] {
        let _ = std::fs::remove_file(with_suffix(&p, s));
    }
}

fn disk_size(kind: Kind, dir: &Path) -> u64 {
    let p = kind.path(dir);
    file_size(&p) + file_size(&with_suffix(&p, "-wal"))
}

struct RunResult {
    kind: Kind,
    producers: usize,
    readers: usize,
    secs: f64,
    sagas: u64,
    commits: u64,
    items: u64,
    commit_us: u64,
    writer_cpu_ns: u64,
    wchar: u64,
    saga_lat: Histogram<u64>,
    ack_lat: Histogram<u64>,
    reads: u64,
    read_hits: u64,
    read_lat: Histogram<u64>,
    total_sagas: u64,
    bytes_open: u64,
    bytes_closed: u64,
}

fn run_write(
    kind: Kind,
    dir: &Path,
    producers: usize,
    readers: usize,
    warmup: f64,
    secs: f64,
) -> RunResult {
    remove_db(kind, dir);
    let path = kind.path(dir);
    let stats = Arc::new(Stats::default());
    let (tx, rx) = unbounded::<Work>();
    let next_seq = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let stop_readers = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));

    let mut redb_db: Option<Arc<redb::Database>> = None;
    let writer: Box<dyn Writer> = match kind {
        Kind::Sqlite => Box::new(sqlite::W(sqlite::open_writer(&path).expect("open sqlite"))),
        Kind::Redb | Kind::RedbQr => {
            let db = Arc::new(redbe::open(&path).expect("open redb"));
            redb_db = Some(db.clone());
            Box::new(redbe::W {
                db,
                buf: Vec::with_capacity(512),
                quick_repair: kind == Kind::RedbQr,
            })
        }
    };
    let wstats = stats.clone();
    let wh = std::thread::Builder::new()
        .name("writer".into())
        .spawn(move || writer_loop(writer, rx, wstats))
        .expect("spawn");

    let mut ph = Vec::new();
    for i in 0..producers {
        let (tx, ns, st, me, sts) = (
            tx.clone(),
            next_seq.clone(),
            stop.clone(),
            measuring.clone(),
            stats.clone(),
        );
        ph.push(
            std::thread::Builder::new()
                .name(format!("producer-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || producer(tx, ns, st, me, sts))
                .expect("spawn"),
        );
    }
    drop(tx);
    let mut rh = Vec::new();
    for _ in 0..readers {
        let r: Box<dyn Reader> = match kind {
            Kind::Sqlite => Box::new(sqlite::R(sqlite::open_reader(&path).expect("reader"))),
            Kind::Redb | Kind::RedbQr => Box::new(redbe::R(redb_db.clone().expect("db"))),
        };
        let (ns, st, me, sts) = (
            next_seq.clone(),
            stop_readers.clone(),
            measuring.clone(),
            stats.clone(),
        );
        rh.push(std::thread::spawn(move || reader_loop(r, ns, st, me, sts)));
    }

    std::thread::sleep(Duration::from_secs_f64(warmup));
    let c0 = stats.commits.load(Ordering::Relaxed);
    let i0 = stats.items.load(Ordering::Relaxed);
    let u0 = stats.commit_us.load(Ordering::Relaxed);
    let cpu0 = stats.writer_cpu_ns.load(Ordering::Relaxed);
    let wchar0 = process_wchar();
    measuring.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    measuring.store(false, Ordering::SeqCst);
    let elapsed = t0.elapsed().as_secs_f64();
    let c1 = stats.commits.load(Ordering::Relaxed);
    let i1 = stats.items.load(Ordering::Relaxed);
    let u1 = stats.commit_us.load(Ordering::Relaxed);
    let cpu1 = stats.writer_cpu_ns.load(Ordering::Relaxed);
    let wchar1 = process_wchar();
    stop.store(true, Ordering::SeqCst);
    stop_readers.store(true, Ordering::SeqCst);

    let mut saga_lat = new_hist();
    let mut ack_lat = new_hist();
    for h in ph {
        let o = h.join().expect("producer panicked");
        saga_lat.add(&o.saga_lat).expect("hist");
        ack_lat.add(&o.ack_lat).expect("hist");
    }
    let mut read_lat = new_hist();
    for h in rh {
        read_lat
            .add(&h.join().expect("reader panicked"))
            .expect("hist");
    }
    let writer = wh.join().expect("writer panicked");
    // Every saga started has completed (producers finish their saga before stopping).
    let total_sagas = next_seq.load(Ordering::Relaxed);
    let bytes_open = disk_size(kind, dir); // SQLite: db + WAL, still open
    drop(writer); // SQLite: close checkpoints the WAL into the db and deletes it
    drop(redb_db); // last handle: redb closes cleanly
    let bytes_closed = disk_size(kind, dir);
    remove_db(kind, dir);
    RunResult {
        kind,
        producers,
        readers,
        secs: elapsed,
        sagas: stats.sagas.load(Ordering::Relaxed),
        commits: c1 - c0,
        items: i1 - i0,
        commit_us: u1 - u0,
        writer_cpu_ns: cpu1 - cpu0,
        wchar: wchar1 - wchar0,
        saga_lat,
        ack_lat,
        reads: stats.reads.load(Ordering::Relaxed),
        read_hits: stats.read_hits.load(Ordering::Relaxed),
        read_lat,
        total_sagas,
        bytes_open,
        bytes_closed,
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn print_write_header(with_reads: bool) {
    print!(
        "| engine | N | sagas/s | commits/s | avg batch (items) | avg commit ms | writer CPU µs/saga | written KiB/saga | durable ack p50/p99 ms | saga p50/p99 ms | bytes/saga open | bytes/saga closed |"
    );
    if with_reads {
        print!(" reads/s | read p50/p99 ms | hit % |");
    }
    println!();
    print!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    if with_reads {
        print!("---|---|---|");
    }
    println!();
}

fn print_write_row(r: &RunResult) {
    print!(
        "| {} | {} | {:.0} | {:.0} | {:.1} | {} | {:.0} | {:.1} | {} / {} | {} / {} | {:.0} | {:.0} |",
        r.kind.name(),
        r.producers,
        r.sagas as f64 / r.secs,
        r.commits as f64 / r.secs,
        r.items as f64 / r.commits.max(1) as f64,
        ms(r.commit_us / r.commits.max(1)),
        // 4 work items per saga: insert, 2 branch updates, 1 transaction update
        r.writer_cpu_ns as f64 / 1000.0 / (r.items as f64 / 4.0).max(1.0),
        r.wchar as f64 / 1024.0 / (r.items as f64 / 4.0).max(1.0),
        ms(r.ack_lat.value_at_quantile(0.5)),
        ms(r.ack_lat.value_at_quantile(0.99)),
        ms(r.saga_lat.value_at_quantile(0.5)),
        ms(r.saga_lat.value_at_quantile(0.99)),
        r.bytes_open as f64 / r.total_sagas.max(1) as f64,
        r.bytes_closed as f64 / r.total_sagas.max(1) as f64,
    );
    if r.readers > 0 {
        print!(
            " {:.0} | {} / {} | {:.1} |",
            r.reads as f64 / r.secs,
            ms(r.read_lat.value_at_quantile(0.5)),
            ms(r.read_lat.value_at_quantile(0.99)),
            100.0 * r.read_hits as f64 / r.reads.max(1) as f64
        );
    }
    println!();
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

// ---------------------------------------------------------------------------------------------
// Populate + open time
// ---------------------------------------------------------------------------------------------

/// Drops the file's pages from the OS page cache (targeted, unlike drop_caches).
fn evict(p: &Path) {
    use std::os::unix::io::AsRawFd;
    if let Ok(f) = std::fs::File::open(p) {
        let _ = f.sync_all();
        // SAFETY-free: libc call on a valid fd.
        #[allow(unsafe_code)]
        unsafe {
            libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
        }
    }
}

fn populate(kind: Kind, dir: &Path, sagas: u64, batch: u64) -> f64 {
    remove_db(kind, dir);
    let path = kind.path(dir);
    let t0 = Instant::now();
    let now = now_ms();
    let mut last_report = Instant::now();
    let finish = |t: &mut Trans, bs: &mut Vec<Branch>| {
        t.status = "succeed".into();
        t.finish_time = Some(now);
        for &i in &UPDATED_BRANCHES {
            bs[i as usize].status = "succeed".into();
            bs[i as usize].finish_time = Some(now);
        }
    };
    match kind {
        Kind::Sqlite => {
            let conn = sqlite::open_writer(&path).expect("open");
            let mut seq = 0;
            while seq < sagas {
                conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
                for s in seq..(seq + batch).min(sagas) {
                    let (mut t, mut bs) = make_saga(s, now);
                    finish(&mut t, &mut bs);
                    sqlite::insert(&conn, &t, &bs).expect("insert");
                }
                conn.execute_batch("COMMIT").expect("commit");
                seq = (seq + batch).min(sagas);
                if last_report.elapsed() > Duration::from_secs(30) {
                    eprintln!(
                        "  {}: {seq} sagas, {:.0}s",
                        kind.name(),
                        t0.elapsed().as_secs_f64()
                    );
                    last_report = Instant::now();
                }
            }
        }
        Kind::Redb | Kind::RedbQr => {
            let db = redbe::open(&path).expect("open");
            let mut buf = Vec::new();
            let mut seq = 0;
            while seq < sagas {
                let mut tx = db.begin_write().expect("begin");
                tx.set_quick_repair(kind == Kind::RedbQr);
                {
                    let mut tt = tx.open_table(redbe::TRANS).expect("t");
                    let mut bt = tx.open_table(redbe::BRANCHES).expect("b");
                    for s in seq..(seq + batch).min(sagas) {
                        let (mut t, mut bs) = make_saga(s, now);
                        finish(&mut t, &mut bs);
                        redbe::insert_saga(&mut tt, &mut bt, &mut buf, &t, &bs).expect("insert");
                    }
                }
                tx.commit().expect("commit");
                seq = (seq + batch).min(sagas);
                if last_report.elapsed() > Duration::from_secs(30) {
                    eprintln!(
                        "  {}: {seq} sagas, {:.0}s",
                        kind.name(),
                        t0.elapsed().as_secs_f64()
                    );
                    last_report = Instant::now();
                }
            }
        }
    }
    t0.elapsed().as_secs_f64()
}

struct OpenTimes {
    open_ms: f64,
    first_lookup_ms: f64,
}

/// Opens the database as the dtmx writer would and does one lookup of a stored saga.
fn time_open(kind: Kind, path: &Path, sagas: u64, cold: bool) -> OpenTimes {
    if cold {
        evict(path);
        evict(&with_suffix(path, "-wal"));
    }
    let gid = gid_of(sagas / 2);
    let t0 = Instant::now();
    match kind {
        Kind::Sqlite => {
            // open_writer runs the pragmas and CREATE TABLE IF NOT EXISTS (reads the schema).
            let conn = sqlite::open_writer(path).expect("open");
            let open_ms = t0.elapsed().as_secs_f64() * 1e3;
            let t1 = Instant::now();
            let (found, n) = sqlite::lookup(&conn, &gid).expect("lookup");
            assert!(found && n == 4);
            OpenTimes {
                open_ms,
                first_lookup_ms: t1.elapsed().as_secs_f64() * 1e3,
            }
        }
        Kind::Redb | Kind::RedbQr => {
            let db = redbe::open(path).expect("open");
            let open_ms = t0.elapsed().as_secs_f64() * 1e3;
            let t1 = Instant::now();
            let (found, n) = redbe::lookup(&db, &gid).expect("lookup");
            assert!(found && n == 4);
            OpenTimes {
                open_ms,
                first_lookup_ms: t1.elapsed().as_secs_f64() * 1e3,
            }
        }
    }
}

/// Lookups per second on the populated, idle database (single thread, random gids).
fn idle_lookups(kind: Kind, path: &Path, sagas: u64, secs: f64) -> f64 {
    let mut r: Box<dyn Reader> = match kind {
        Kind::Sqlite => Box::new(sqlite::R(sqlite::open_reader(path).expect("reader"))),
        Kind::Redb | Kind::RedbQr => Box::new(redbe::R(Arc::new(redbe::open(path).expect("open")))),
    };
    let t0 = Instant::now();
    let mut n = 0u64;
    let mut rng = 42u64;
    while t0.elapsed().as_secs_f64() < secs {
        rng = splitmix64(rng);
        let (found, _) = r.lookup(&gid_of(rng % sagas)).expect("lookup");
        assert!(found);
        n += 1;
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

fn copy_crash_image(kind: Kind, path: &Path) {
    // Copy the files while the database is still open after its last commit: what a crash
    // (kill -9 / power loss after fsync) leaves behind.
    std::fs::copy(path, with_suffix(path, ".crash")).expect("copy");
    if kind == Kind::Sqlite {
        let wal = with_suffix(path, "-wal");
        if wal.exists() {
            std::fs::copy(&wal, with_suffix(path, ".crash-wal")).expect("copy wal");
        }
    }
}

fn run_open(kind: Kind, dir: &Path, sagas: u64, batch: u64) {
    let path = kind.path(dir);
    let pop_s = populate(kind, dir, sagas, batch);
    // Crash image: reopen, write one more small durable batch, copy while open.
    {
        match kind {
            Kind::Sqlite => {
                let conn = sqlite::open_writer(&path).expect("open");
                let (t, bs) = make_saga(sagas, now_ms());
                conn.execute_batch("BEGIN IMMEDIATE").expect("b");
                sqlite::insert(&conn, &t, &bs).expect("i");
                conn.execute_batch("COMMIT").expect("c");
                copy_crash_image(kind, &path);
            }
            Kind::Redb | Kind::RedbQr => {
                let db = redbe::open(&path).expect("open");
                let mut tx = db.begin_write().expect("b");
                tx.set_quick_repair(kind == Kind::RedbQr);
                {
                    let mut tt = tx.open_table(redbe::TRANS).expect("t");
                    let mut bt = tx.open_table(redbe::BRANCHES).expect("b");
                    let (t, bs) = make_saga(sagas, now_ms());
                    redbe::insert_saga(&mut tt, &mut bt, &mut Vec::new(), &t, &bs).expect("i");
                }
                tx.commit().expect("c");
                copy_crash_image(kind, &path);
            }
        }
    }
    let size = disk_size(kind, dir);
    let warm = time_open(kind, &path, sagas, false);
    let lookups = idle_lookups(kind, &path, sagas, 5.0);
    let cold = time_open(kind, &path, sagas, true);
    // Crash image: move it into place (the clean files are no longer needed).
    let crash = with_suffix(&path, ".crash");
    std::fs::rename(&crash, &path).expect("rename");
    let _ = std::fs::remove_file(with_suffix(&path, "-wal"));
    let _ = std::fs::remove_file(with_suffix(&path, "-shm"));
    if kind == Kind::Sqlite && with_suffix(&path, ".crash-wal").exists() {
        std::fs::rename(with_suffix(&path, ".crash-wal"), with_suffix(&path, "-wal")).expect("r");
    }
    let crash_t = time_open(kind, &path, sagas, true);
    println!(
        "| {} | {} | {:.1} | {:.0} | {:.0} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.0} |",
        kind.name(),
        sagas,
        pop_s,
        sagas as f64 / pop_s,
        size as f64 / sagas as f64,
        warm.open_ms,
        warm.first_lookup_ms,
        cold.open_ms,
        cold.first_lookup_ms,
        crash_t.open_ms,
        crash_t.first_lookup_ms,
        lookups,
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    remove_db(kind, dir);
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

struct Args {
    cmd: String,
    engines: Vec<Kind>,
    producers: Option<Vec<usize>>,
    secs: f64,
    warmup: f64,
    sagas: u64,
    batch: u64,
    rounds: usize,
    dir: PathBuf,
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        cmd: it.next().unwrap_or_else(|| "all".into()),
        engines: vec![Kind::Sqlite, Kind::Redb, Kind::RedbQr],
        producers: None,
        secs: 10.0,
        warmup: 1.0,
        sagas: 1_000_000,
        batch: 10_000,
        rounds: 1,
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/store-compare/data"),
    };
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--engines" => {
                a.engines = v
                    .split(',')
                    .map(|e| match e {
                        "sqlite" => Kind::Sqlite,
                        "redb" => Kind::Redb,
                        "redb-quick-repair" => Kind::RedbQr,
                        _ => panic!("unknown engine {e}"),
                    })
                    .collect()
            }
            "--producers" => {
                a.producers = Some(v.split(',').map(|n| n.parse().expect("N")).collect())
            }
            "--secs" => a.secs = v.parse().expect("secs"),
            "--warmup" => a.warmup = v.parse().expect("warmup"),
            "--sagas" => a.sagas = v.parse().expect("sagas"),
            "--batch" => a.batch = v.parse().expect("batch"),
            "--dir" => a.dir = PathBuf::from(v),
            "--rounds" => a.rounds = v.parse().expect("rounds"),
            _ => panic!("unknown flag {flag}"),
        }
    }
    a
}

fn main() {
    let a = parse_args();
    std::fs::create_dir_all(&a.dir).expect("create dir");
    let cmds: Vec<&str> = match a.cmd.as_str() {
        "all" => vec!["write", "mixed", "open"],
        c => vec![c],
    };
    for cmd in cmds {
        match cmd {
            "write" | "mixed" => {
                let readers = usize::from(cmd == "mixed");
                let default_n: &[usize] = if readers == 0 {
                    &[1, 16, 64, 256]
                } else {
                    &[64]
                };
                let ns = a.producers.as_deref().unwrap_or(default_n);
                println!(
                    "\n### {} ({}s after {}s warm-up, {} round(s))\n",
                    if readers == 0 {
                        "Durable group commit, write only"
                    } else {
                        "Writes + 1 point-lookup reader thread"
                    },
                    a.secs,
                    a.warmup,
                    a.rounds
                );
                print_write_header(readers > 0);
                let mut all: Vec<RunResult> = Vec::new();
                for round in 0..a.rounds {
                    for &n in ns {
                        // Alternate which engine goes first, to spread drift in disk speed.
                        let mut order = a.engines.clone();
                        if round % 2 == 1 {
                            order.reverse();
                        }
                        for k in order {
                            let r = run_write(k, &a.dir, n, readers, a.warmup, a.secs);
                            print_write_row(&r);
                            all.push(r);
                        }
                    }
                }
                if a.rounds > 1 {
                    println!(
                        "\nMedian round (by sagas/s) of {} for each cell:\n",
                        a.rounds
                    );
                    print_write_header(readers > 0);
                    for &n in ns {
                        for &k in &a.engines {
                            let mut rs: Vec<&RunResult> = all
                                .iter()
                                .filter(|r| r.kind == k && r.producers == n)
                                .collect();
                            rs.sort_by(|x, y| {
                                (x.sagas as f64 / x.secs).total_cmp(&(y.sagas as f64 / y.secs))
                            });
                            print_write_row(rs[rs.len() / 2]);
                        }
                    }
                }
            }
            "open" => {
                println!(
                    "\n### Populated database: {} sagas (batches of {})\n",
                    a.sagas, a.batch
                );
                println!("| engine | sagas | populate s | populate sagas/s | bytes/saga | open / first lookup ms (warm) | open / first lookup ms (cold) | open / first lookup ms (after crash, cold) | idle lookups/s |");
                println!("|---|---|---|---|---|---|---|---|---|");
                for &k in &a.engines {
                    run_open(k, &a.dir, a.sagas, a.batch);
                }
            }
            c => panic!("unknown command {c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let (mut t, bs) = make_saga(7, 1_700_000_000_000);
        t.finish_time = Some(-5);
        let mut buf = Vec::new();
        encode_trans(&t, &mut buf);
        assert_eq!(decode_trans(&t.gid, &buf), t);
        for b in &bs {
            encode_branch(b, &mut buf);
            assert_eq!(&decode_branch(&b.gid, &buf), b);
        }
        assert_eq!(gid_of(1).len(), 22);
        assert_ne!(gid_of(1), gid_of(2));
    }
}
