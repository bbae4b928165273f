//! The load loops. Closed: N tasks, each on its own keep-alive connection, submit back
//! to back. Open: transactions are started at a fixed rate whatever the server does, and
//! each latency counts from the moment its send was due (no coordinated omission).
//!
//! Warm-up, then a timed window: throughput counts the transactions completed inside the
//! window, latency is recorded for those same transactions.

use crate::client::{Conn, Endpoint, Pool};
use crate::gidlog::GidLog;
use crate::procfs::Meters;
use crate::stats;
use crate::wire::{GidGen, Workload};
use bytes::Bytes;
use hdrhistogram::Histogram;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Closed or open loop.
#[derive(Debug, Clone, Copy)]
pub enum Loop {
    /// `in_flight` transactions outstanding at all times.
    Closed { in_flight: usize },
    /// `rate` transactions started per second; at most `max_in_flight` outstanding
    /// (beyond that, sends wait, and their wait counts in their latency).
    Open { rate: f64, max_in_flight: usize },
}

/// One load run.
pub struct LoadSpec {
    pub dtm: Arc<Endpoint>,
    pub workload: Arc<Workload>,
    pub mode: Loop,
    pub warmup: Duration,
    pub window: Duration,
    /// Submit exactly this many transactions, then stop (no warm-up; the window is the
    /// whole run).
    pub count: Option<u64>,
    /// Per request.
    pub timeout: Duration,
    /// A 409 FAILURE reply completes the transaction (rollback runs with `wait_result`).
    pub failure_is_ack: bool,
    pub gids: Arc<GidGen>,
    /// Every gid, written before its submit is sent.
    pub sent_log: Option<Arc<GidLog>>,
    /// Every acknowledged gid, written when the reply arrives.
    pub ack_log: Option<Arc<GidLog>>,
    /// Processes whose CPU time is measured (server, branch service, ...), and the clock
    /// ticks per second.
    pub meter_pids: Vec<Option<u32>>,
    pub clk_tck: u64,
    /// Pause after a failed request, so a dead server is not spun on.
    pub error_backoff: Duration,
}

/// What a load run did.
pub struct LoadResult {
    /// Every gid whose submit was sent (acknowledged or not).
    pub sent: Vec<String>,
    /// Every gid whose submit was acknowledged.
    pub acked: Vec<String>,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Transactions completed inside the window, and the window's length.
    pub window_done: u64,
    pub window_secs: f64,
    /// Latency of the window's transactions.
    pub hist: Histogram<u64>,
    /// CPU seconds of each of `meter_pids` over the window.
    pub cpu_window_s: Vec<Option<f64>>,
    /// Meters started when the run started (for runs that end after the load: async).
    pub cpu_run: Meters,
    /// When the run started.
    pub started: Instant,
}

struct Collect {
    sent: Vec<String>,
    acked: Vec<String>,
    errors: u64,
    first_error: Option<String>,
    window_done: u64,
    hist: Histogram<u64>,
}

impl Collect {
    fn new() -> Collect {
        Collect {
            sent: Vec::new(),
            acked: Vec::new(),
            errors: 0,
            first_error: None,
            window_done: 0,
            hist: stats::histogram(),
        }
    }

    fn merge(&mut self, other: Collect) {
        self.sent.extend(other.sent);
        self.acked.extend(other.acked);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.window_done += other.window_done;
        self.hist.add(&other.hist).expect("same histogram bounds");
    }
}

/// Precomputed request paths and the window's bounds.
struct Plan {
    spec: LoadSpec,
    prepare_path: String,
    submit_path: String,
    window_start: Instant,
    /// `None` for count runs.
    window_end: Option<Instant>,
}

impl Plan {
    fn in_window(&self, t: Instant) -> bool {
        t >= self.window_start && self.window_end.is_none_or(|end| t < end)
    }

    /// Whether sending must stop (time is up or the count is reached).
    fn next_gid(&self, now: Instant) -> Option<String> {
        if self.window_end.is_some_and(|end| now >= end) {
            return None;
        }
        let (n, gid) = self.spec.gids.next();
        if self.spec.count.is_some_and(|c| n >= c) {
            return None;
        }
        Some(gid)
    }

    async fn submit(&self, conn: &mut Conn, gid: &str) -> Result<(), String> {
        let (w, t) = (&self.spec.workload, self.spec.timeout);
        if let Some(prepare) = &w.prepare {
            let r = conn.post(&self.prepare_path, prepare.body(gid), t).await?;
            if r.status != 200 {
                return Err(format!("prepare: HTTP {} {}", r.status, r.text()));
            }
        }
        let r = conn.post(&self.submit_path, w.submit.body(gid), t).await?;
        let failure_ack =
            self.spec.failure_is_ack && r.status == 409 && contains(&r.body, b"FAILURE");
        if r.status == 200 || failure_ack {
            Ok(())
        } else {
            Err(format!("submit: HTTP {} {}", r.status, r.text()))
        }
    }

    /// Sends one transaction; `due` is when its send was due.
    async fn one(&self, conn: &mut Conn, gid: String, due: Instant) -> Sent {
        if let Some(log) = &self.spec.sent_log {
            log.add(&gid);
        }
        let result = self.submit(conn, &gid).await;
        let done = Instant::now();
        match &result {
            Ok(()) => {
                if let Some(log) = &self.spec.ack_log {
                    log.add(&gid);
                }
            }
            Err(_) => tokio::time::sleep(self.spec.error_backoff).await,
        }
        Sent {
            latency: self.in_window(done).then(|| done - due),
            gid,
            result,
        }
    }
}

/// One sent transaction.
struct Sent {
    gid: String,
    result: Result<(), String>,
    /// Set when it completed inside the window.
    latency: Option<Duration>,
}

impl Collect {
    fn add(&mut self, s: Sent) {
        match s.result {
            Ok(()) => {
                if let Some(latency) = s.latency {
                    self.window_done += 1;
                    stats::record(&mut self.hist, latency);
                }
                self.acked.push(s.gid.clone());
            }
            Err(e) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(format!("{}: {e}", s.gid));
                }
            }
        }
        self.sent.push(s.gid);
    }
}

fn contains(hay: &Bytes, needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs the load and returns what happened.
pub async fn run(spec: LoadSpec) -> LoadResult {
    let started = Instant::now();
    let counted = spec.count.is_some();
    let window_start = if counted {
        started
    } else {
        started + spec.warmup
    };
    let window_end = (!counted).then_some(window_start + spec.window);
    let cpu_run = Meters::start(&spec.meter_pids, spec.clk_tck);
    let plan = Arc::new(Plan {
        prepare_path: spec.dtm.path("/prepare"),
        submit_path: spec.dtm.path("/submit"),
        window_start,
        window_end,
        spec,
    });
    let meter = {
        let plan = plan.clone();
        tokio::spawn(async move {
            let end = plan.window_end?;
            tokio::time::sleep_until(plan.window_start.into()).await;
            let m = Meters::start(&plan.spec.meter_pids, plan.spec.clk_tck);
            tokio::time::sleep_until(end.into()).await;
            Some(m.seconds())
        })
    };
    let all = match plan.spec.mode {
        Loop::Closed { in_flight } => closed(plan.clone(), in_flight).await,
        Loop::Open {
            rate,
            max_in_flight,
        } => open(plan.clone(), rate, max_in_flight).await,
    };
    let window_secs = match plan.window_end {
        Some(end) => (end - plan.window_start).as_secs_f64(),
        None => started.elapsed().as_secs_f64(),
    };
    let cpu_window_s = if counted {
        cpu_run.seconds()
    } else {
        meter.await.ok().flatten().unwrap_or_default()
    };
    LoadResult {
        sent: all.sent,
        acked: all.acked,
        errors: all.errors,
        first_error: all.first_error,
        window_done: all.window_done,
        window_secs,
        hist: all.hist,
        cpu_window_s,
        cpu_run,
        started,
    }
}

async fn closed(plan: Arc<Plan>, in_flight: usize) -> Collect {
    let mut workers = Vec::new();
    for _ in 0..in_flight.max(1) {
        let plan = plan.clone();
        workers.push(tokio::spawn(async move {
            let mut conn = Conn::new(plan.spec.dtm.clone());
            let mut c = Collect::new();
            while let Some(gid) = plan.next_gid(Instant::now()) {
                let sent = plan.one(&mut conn, gid, Instant::now()).await;
                c.add(sent);
            }
            c
        }));
    }
    let mut all = Collect::new();
    for w in workers {
        if let Ok(c) = w.await {
            all.merge(c);
        }
    }
    all
}

async fn open(plan: Arc<Plan>, rate: f64, max_in_flight: usize) -> Collect {
    let rate = rate.max(0.001);
    let pool = Arc::new(Pool::new(plan.spec.dtm.clone()));
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let all = Arc::new(Mutex::new(Collect::new()));
    let start = Instant::now();
    let mut i: u64 = 0;
    'send: loop {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        // Start every send that is due by now (timer granularity is about 1 ms).
        let now = Instant::now();
        loop {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            if due > now {
                break;
            }
            let Some(gid) = plan.next_gid(due) else {
                break 'send;
            };
            let permit = slots.clone().acquire_owned().await.expect("semaphore open");
            let (plan, pool, all) = (plan.clone(), pool.clone(), all.clone());
            tokio::spawn(async move {
                let mut conn = pool.take();
                let sent = plan.one(&mut conn, gid, due).await;
                pool.give(conn);
                all.lock().expect("collect lock").add(sent);
                drop((plan, pool));
                drop(permit);
            });
            i += 1;
        }
    }
    // Wait for the outstanding ones.
    let _ = slots.acquire_many(max_in_flight.max(1) as u32).await;
    let mut guard = all.lock().expect("collect lock");
    std::mem::replace(&mut *guard, Collect::new())
}
