//! The verifier: every saga reached the expected final status (asked through
//! `/query`, so any DTM-compatible server can be checked) and the branch service saw
//! exactly the calls that status implies.

use crate::client::{call_retrying, Conn, Endpoint};
use crate::counts::{self, Calls};
use crate::wire::{prefix_of, TransKind};
use hyper::Method;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The final status every saga of a run must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// `succeed`: every action called once, no compensation.
    Succeed,
    /// `failed`: the action of step `step` (1-based) answered FAILURE, so actions
    /// 1..=step ran once and so did their compensations.
    Failed { step: usize },
}

impl Expect {
    /// The DTM status name.
    pub fn status(self) -> &'static str {
        match self {
            Expect::Succeed => "succeed",
            Expect::Failed { .. } => "failed",
        }
    }
}

/// How branch call counts are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountCheck {
    /// Each expected (branch, op) called exactly once, nothing else.
    Exact,
    /// Each expected (branch, op) called at least once, nothing else (retries allowed:
    /// crash runs, ONGOING answers).
    AtLeastOnce,
    /// Not checked.
    Skip,
}

/// What a run's sagas must look like.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub kind: TransKind,
    pub branches: usize,
    pub expect: Expect,
    pub counts: CountCheck,
}

impl Spec {
    /// The (branch, op) pairs the branch service must see for one saga.
    pub fn expected_calls(&self) -> Vec<(u16, u8)> {
        let (action, compensate) = (counts::op_code("action"), counts::op_code("compensate"));
        let mut out = Vec::new();
        match self.expect {
            Expect::Succeed => {
                for b in 1..=self.branches as u16 {
                    out.push((b, action));
                }
            }
            Expect::Failed { step } => {
                for b in 1..=step.min(self.branches) as u16 {
                    out.push((b, action));
                    if self.kind == TransKind::Saga {
                        out.push((b, compensate));
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// The `branch/op` key of the last call of a saga (every saga has one once final).
    pub fn last_call(&self) -> String {
        match self.expect {
            Expect::Succeed => counts::key(self.branches as u16, counts::op_code("action")),
            Expect::Failed { .. } => counts::key(1, counts::op_code("compensate")),
        }
    }

    /// Checks one saga's calls.
    pub fn check_calls(&self, calls: &[Calls]) -> Result<(), String> {
        if self.counts == CountCheck::Skip {
            return Ok(());
        }
        let want = self.expected_calls();
        let got: Vec<(u16, u8)> = calls.iter().map(|c| (c.branch, c.op)).collect();
        let exact = self.counts == CountCheck::Exact;
        if got != want || (exact && calls.iter().any(|c| c.count != 1)) {
            let show = |v: Vec<String>| v.join(",");
            return Err(format!(
                "calls [{}], expected [{}]{}",
                show(
                    calls
                        .iter()
                        .map(|c| format!("{}x{}", counts::key(c.branch, c.op), c.count))
                        .collect()
                ),
                show(want.iter().map(|(b, o)| counts::key(*b, *o)).collect()),
                if exact { " once each" } else { "" }
            ));
        }
        Ok(())
    }
}

/// The outcome of a verification.
#[derive(Debug, Default)]
pub struct Report {
    pub checked: usize,
    /// (gid, what is wrong), at most [`Report::KEEP`] kept.
    pub problems: Vec<(String, String)>,
    pub wrong_status: usize,
    pub wrong_calls: usize,
    /// Branch calls beyond the first of each (gid, branch, op): retries.
    pub extra_calls: u64,
    pub seconds: f64,
}

impl Report {
    const KEEP: usize = 5;

    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.wrong_status == 0 && self.wrong_calls == 0
    }

    fn problem(&mut self, gid: &str, what: String) {
        if self.problems.len() < Self::KEEP {
            self.problems.push((gid.to_string(), what));
        }
    }

    /// One line, plus examples when something is wrong.
    pub fn text(&self) -> String {
        let mut s = format!(
            "verified {} sagas in {:.1} s: {} with a wrong or unfinished status, {} with wrong branch calls",
            self.checked, self.seconds, self.wrong_status, self.wrong_calls
        );
        for (gid, what) in &self.problems {
            s.push_str(&format!("\n  {gid}: {what}"));
        }
        s
    }
}

/// Whether `status` is final.
pub fn is_final(status: &str) -> bool {
    status == "succeed" || status == "failed"
}

/// Whether asking again cannot change the answer soon: final, or unknown to the server.
fn settled(status: &str) -> bool {
    is_final(status) || status.is_empty()
}

/// Queries the status of every gid with `parallel` connections; gids that are not final
/// are asked again until `deadline` from now. A gid the server does not know maps to ""
/// (and is not asked again: a submit that was acknowledged is always found).
pub async fn statuses(
    dtm: &Arc<Endpoint>,
    gids: &[String],
    parallel: usize,
    deadline: Duration,
) -> HashMap<String, String> {
    let start = Instant::now();
    let mut result: HashMap<String, String> = HashMap::with_capacity(gids.len());
    let mut todo: Vec<String> = gids.to_vec();
    loop {
        let round = query_round(dtm, Arc::new(todo), parallel).await;
        todo = Vec::new();
        for (gid, status) in round {
            if !settled(&status) {
                todo.push(gid.clone());
            }
            result.insert(gid, status);
        }
        if todo.is_empty() || start.elapsed() >= deadline {
            return result;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn query_round(
    dtm: &Arc<Endpoint>,
    gids: Arc<Vec<String>>,
    parallel: usize,
) -> Vec<(String, String)> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..parallel.clamp(1, gids.len().max(1)) {
        let (dtm, gids, next) = (dtm.clone(), gids.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(dtm.clone());
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(gid) = gids.get(i) else { break };
                out.push((gid.clone(), query_status(&mut conn, &dtm, gid).await));
            }
            out
        }));
    }
    let mut all = Vec::with_capacity(gids.len());
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    all
}

/// The status of one gid ("" if unknown, `error: ...` if the server could not be asked).
pub async fn query_status(conn: &mut Conn, dtm: &Endpoint, gid: &str) -> String {
    let path = dtm.path(&format!("/query?gid={gid}"));
    let mut last = String::new();
    for _ in 0..5 {
        match conn.get(&path, Duration::from_secs(10)).await {
            Ok(r) if r.status == 200 => {
                let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                return v["transaction"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            }
            Ok(r) => last = format!("error: HTTP {} {}", r.status, r.text()),
            Err(e) => last = format!("error: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

/// Fetches the branch service's counts for every run prefix among `gids`.
pub async fn fetch_counts(
    busi: &Arc<Endpoint>,
    gids: &[String],
) -> Result<HashMap<String, Vec<Calls>>, String> {
    let prefixes: BTreeSet<&str> = gids.iter().map(|g| prefix_of(g)).collect();
    let mut all = HashMap::new();
    for prefix in prefixes {
        let reply = call_retrying(
            busi,
            Method::GET,
            &format!("/counts?prefix={prefix}"),
            None,
            Duration::from_secs(30),
        )
        .await?;
        if reply.status != 200 {
            return Err(format!("branch service counts: HTTP {}", reply.status));
        }
        all.extend(counts::parse_dump(&reply.text())?);
    }
    Ok(all)
}

/// The branch service's per-`branch/op` gid counts for `prefix`.
pub async fn busi_stats(busi: &Arc<Endpoint>, prefix: &str) -> Result<serde_json::Value, String> {
    let reply = call_retrying(
        busi,
        Method::GET,
        &format!("/stats?prefix={prefix}"),
        None,
        Duration::from_secs(10),
    )
    .await?;
    serde_json::from_slice(&reply.body).map_err(|e| format!("branch service stats: {e}"))
}

/// Waits until `n` gids of run `prefix` got the call `last` (e.g. `02/action`) and
/// returns how long that took; `None` when `deadline` passed first.
pub async fn wait_last_calls(
    busi: &Arc<Endpoint>,
    prefix: &str,
    last: &str,
    n: u64,
    deadline: Duration,
) -> Result<Option<Duration>, String> {
    let start = Instant::now();
    loop {
        let stats = busi_stats(busi, prefix).await?;
        if stats["ops"][last].as_u64().unwrap_or(0) >= n {
            return Ok(Some(start.elapsed()));
        }
        if start.elapsed() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Verifies `gids`: every one reaches `spec.expect` within `deadline` and got the
/// expected branch calls.
pub async fn verify(
    dtm: &Arc<Endpoint>,
    busi: &Arc<Endpoint>,
    gids: &[String],
    spec: &Spec,
    deadline: Duration,
) -> Result<Report, String> {
    let start = Instant::now();
    let found = statuses(dtm, gids, 32, deadline).await;
    let calls = if spec.counts == CountCheck::Skip {
        HashMap::new()
    } else {
        fetch_counts(busi, gids).await?
    };
    let mut report = Report {
        checked: gids.len(),
        ..Report::default()
    };
    let want = spec.expect.status();
    for gid in gids {
        let status = found.get(gid).map(String::as_str).unwrap_or_default();
        if status != want {
            report.wrong_status += 1;
            let shown = if status.is_empty() {
                "not found"
            } else {
                status
            };
            report.problem(gid, format!("status {shown}, expected {want}"));
            continue;
        }
        let empty = Vec::new();
        let got = calls.get(gid).unwrap_or(&empty);
        report.extra_calls += got
            .iter()
            .map(|c| u64::from(c.count.saturating_sub(1)))
            .sum::<u64>();
        if let Err(e) = spec.check_calls(got) {
            report.wrong_calls += 1;
            report.problem(gid, e);
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(list: &[(u16, &str, u32)]) -> Vec<Calls> {
        let mut v: Vec<Calls> = list
            .iter()
            .map(|(b, o, c)| Calls {
                branch: *b,
                op: counts::op_code(o),
                count: *c,
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn expectations() {
        let ok = Spec {
            kind: TransKind::Saga,
            branches: 2,
            expect: Expect::Succeed,
            counts: CountCheck::Exact,
        };
        assert_eq!(ok.last_call(), "02/action");
        assert!(ok
            .check_calls(&calls(&[(1, "action", 1), (2, "action", 1)]))
            .is_ok());
        assert!(ok
            .check_calls(&calls(&[(1, "action", 2), (2, "action", 1)]))
            .is_err());
        assert!(ok.check_calls(&calls(&[(1, "action", 1)])).is_err());
        let retried = Spec {
            counts: CountCheck::AtLeastOnce,
            ..ok
        };
        assert!(retried
            .check_calls(&calls(&[(1, "action", 2), (2, "action", 1)]))
            .is_ok());
        let rollback = Spec {
            expect: Expect::Failed { step: 2 },
            ..ok
        };
        assert_eq!(rollback.last_call(), "01/compensate");
        assert!(rollback
            .check_calls(&calls(&[
                (1, "action", 1),
                (2, "action", 1),
                (2, "compensate", 1),
                (1, "compensate", 1)
            ]))
            .is_ok());
    }
}
