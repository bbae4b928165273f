//! DTM wire-format request bodies (saga submit, msg prepare + submit) and unique gids.

use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which global transaction the load submits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransKind {
    /// `POST submit` of a saga.
    Saga,
    /// `POST prepare` then `POST submit` of a msg.
    Msg,
}

impl TransKind {
    /// Parses `saga` or `msg`.
    pub fn parse(s: &str) -> Result<TransKind, String> {
        match s {
            "saga" => Ok(TransKind::Saga),
            "msg" => Ok(TransKind::Msg),
            _ => Err(format!("unknown transaction kind {s:?} (saga, msg)")),
        }
    }

    /// The DTM `trans_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransKind::Saga => "saga",
            TransKind::Msg => "msg",
        }
    }
}

/// The branch service path of step `i` (1-based): TransOut, TransIn, then Step3...
pub fn step_name(i: usize) -> String {
    match i {
        1 => "TransOut".into(),
        2 => "TransIn".into(),
        _ => format!("Step{i}"),
    }
}

/// A request body with the gid left out, so building one is two copies.
#[derive(Debug, Clone)]
pub struct Template {
    head: String,
    tail: String,
}

impl Template {
    const MARK: &'static str = "@@GID@@";

    fn new(body: serde_json::Value) -> Template {
        let text = body.to_string();
        let at = text.find(Self::MARK).expect("template has the gid mark");
        Template {
            head: text[..at].to_string(),
            tail: text[at + Self::MARK.len()..].to_string(),
        }
    }

    /// The body for `gid` (which must need no JSON escaping; ours never do).
    pub fn body(&self, gid: &str) -> Bytes {
        let mut s = String::with_capacity(self.head.len() + gid.len() + self.tail.len());
        s.push_str(&self.head);
        s.push_str(gid);
        s.push_str(&self.tail);
        Bytes::from(s)
    }
}

/// The bodies of one workload.
#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: TransKind,
    pub branches: usize,
    pub wait_result: bool,
    /// Body of `POST prepare` (msg only).
    pub prepare: Option<Template>,
    /// Body of `POST submit`.
    pub submit: Template,
}

impl Workload {
    /// Builds the bodies: `branches` steps on the branch service at `busi` (e.g.
    /// `http://127.0.0.1:8082/api/busi`), sequential, HTTP protocol.
    pub fn new(kind: TransKind, branches: usize, wait_result: bool, busi: &str) -> Workload {
        let busi = busi.trim_end_matches('/');
        let steps: Vec<serde_json::Value> = (1..=branches)
            .map(|i| {
                let name = step_name(i);
                match kind {
                    TransKind::Saga => serde_json::json!({
                        "action": format!("{busi}/{name}"),
                        "compensate": format!("{busi}/{name}Revert"),
                    }),
                    TransKind::Msg => serde_json::json!({"action": format!("{busi}/{name}")}),
                }
            })
            .collect();
        let payloads: Vec<String> = (0..branches)
            .map(|_| r#"{"amount":30}"#.to_string())
            .collect();
        let mut body = serde_json::json!({
            "gid": Template::MARK,
            "trans_type": kind.as_str(),
            "steps": steps,
            "payloads": payloads,
            "wait_result": wait_result,
        });
        if kind == TransKind::Saga {
            body["concurrent"] = false.into();
        }
        let prepare = (kind == TransKind::Msg).then(|| {
            body["query_prepared"] = format!("{busi}/QueryPrepared").into();
            Template::new(body.clone())
        });
        Workload {
            kind,
            branches,
            wait_result,
            prepare,
            submit: Template::new(body),
        }
    }
}

/// Unique gids `PREFIX-N`: the prefix names the run, so one run's branch calls can be
/// picked out of the branch service's counts.
#[derive(Debug)]
pub struct GidGen {
    pub prefix: String,
    next: AtomicU64,
}

impl GidGen {
    /// Gids starting with `label`, the process id and the time, so runs never collide.
    pub fn new(label: &str) -> GidGen {
        let clean: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() % 1_000_000_000_000)
            .unwrap_or_default();
        GidGen {
            prefix: format!("{clean}_{}_{nanos:x}-", std::process::id()),
            next: AtomicU64::new(0),
        }
    }

    /// The next gid and its sequence number.
    pub fn next(&self) -> (u64, String) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (n, format!("{}{n}", self.prefix))
    }
}

/// The run prefix of a gid made by [`GidGen`] (up to and including the last `-`).
pub fn prefix_of(gid: &str) -> &str {
    gid.rfind('-').map_or(gid, |i| &gid[..=i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saga_body() {
        let w = Workload::new(TransKind::Saga, 2, true, "http://b/api/busi/");
        let v: serde_json::Value = serde_json::from_slice(&w.submit.body("g-1")).expect("json");
        assert_eq!(v["gid"], "g-1");
        assert_eq!(
            v["steps"][1]["compensate"],
            "http://b/api/busi/TransInRevert"
        );
        assert_eq!(v["wait_result"], true);
        assert!(w.prepare.is_none());
    }

    #[test]
    fn msg_bodies() {
        let w = Workload::new(TransKind::Msg, 3, false, "http://b/api/busi");
        let p = w.prepare.as_ref().expect("prepare");
        let v: serde_json::Value = serde_json::from_slice(&p.body("x")).expect("json");
        assert_eq!(v["query_prepared"], "http://b/api/busi/QueryPrepared");
        assert_eq!(v["steps"][2]["action"], "http://b/api/busi/Step3");
    }

    #[test]
    fn gids() {
        let g = GidGen::new("core 64");
        let (_, a) = g.next();
        let (_, b) = g.next();
        assert_ne!(a, b);
        assert_eq!(prefix_of(&a), g.prefix);
        assert!(a.starts_with("core_64_"));
    }
}
