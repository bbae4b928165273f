//! Branch call counts per (gid, branch_id, op): kept by the branch service, dumped as
//! text (`gid branch_id op count` lines) and checked by the verifier.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

/// The ops DTM sends in the `op` query parameter; anything else is `other`.
pub const OPS: [&str; 9] = [
    "action",
    "compensate",
    "try",
    "confirm",
    "cancel",
    "commit",
    "rollback",
    "msg",
    "other",
];

/// The index of `op` in [`OPS`].
pub fn op_code(op: &str) -> u8 {
    OPS.iter().position(|o| *o == op).unwrap_or(OPS.len() - 1) as u8
}

/// Calls of one (branch, op) of one gid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Calls {
    /// The numeric branch id (`"01"` is 1); `u16::MAX` when not numeric.
    pub branch: u16,
    pub op: u8,
    pub count: u32,
}

/// Parses a branch id such as `01`.
pub fn branch_num(id: &str) -> u16 {
    id.parse().unwrap_or(u16::MAX)
}

/// `01/action` style key of a (branch, op).
pub fn key(branch: u16, op: u8) -> String {
    format!("{branch:02}/{}", OPS[op as usize])
}

const SHARDS: usize = 64;

/// The branch service's table, sharded so concurrent calls rarely contend.
pub struct CountTable {
    shards: Vec<Mutex<HashMap<Box<str>, Vec<Calls>>>>,
}

impl Default for CountTable {
    fn default() -> Self {
        CountTable {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl CountTable {
    fn shard(&self, gid: &str) -> &Mutex<HashMap<Box<str>, Vec<Calls>>> {
        let mut h = DefaultHasher::new();
        gid.hash(&mut h);
        &self.shards[h.finish() as usize % SHARDS]
    }

    /// Counts one call and returns how many times this (gid, branch, op) was called.
    pub fn record(&self, gid: &str, branch: u16, op: u8) -> u32 {
        let mut shard = self.shard(gid).lock().expect("count lock");
        let calls = match shard.get_mut(gid) {
            Some(c) => c,
            None => shard.entry(gid.into()).or_default(),
        };
        match calls.iter_mut().find(|c| c.branch == branch && c.op == op) {
            Some(c) => {
                c.count += 1;
                c.count
            }
            None => {
                calls.push(Calls {
                    branch,
                    op,
                    count: 1,
                });
                1
            }
        }
    }

    /// The calls of one gid, sorted.
    pub fn get(&self, gid: &str) -> Vec<Calls> {
        let mut calls = self
            .shard(gid)
            .lock()
            .expect("count lock")
            .get(gid)
            .cloned()
            .unwrap_or_default();
        calls.sort();
        calls
    }

    /// Appends `gid branch op count` lines for every gid starting with `prefix`.
    pub fn dump(&self, prefix: &str, out: &mut String) {
        use std::fmt::Write;
        for shard in &self.shards {
            let shard = shard.lock().expect("count lock");
            for (gid, calls) in shard.iter().filter(|(g, _)| g.starts_with(prefix)) {
                for c in calls {
                    let _ = writeln!(
                        out,
                        "{gid} {:02} {} {}",
                        c.branch, OPS[c.op as usize], c.count
                    );
                }
            }
        }
    }

    /// For gids starting with `prefix`: how many gids there are, how many calls they
    /// got, and per `branch/op` how many gids got at least one such call.
    pub fn stats(&self, prefix: &str) -> (u64, u64, BTreeMap<String, u64>) {
        let (mut gids, mut calls) = (0, 0);
        let mut by_key: HashMap<(u16, u8), u64> = HashMap::new();
        for shard in &self.shards {
            let shard = shard.lock().expect("count lock");
            for (_, cs) in shard.iter().filter(|(g, _)| g.starts_with(prefix)) {
                gids += 1;
                for c in cs {
                    calls += u64::from(c.count);
                    *by_key.entry((c.branch, c.op)).or_default() += 1;
                }
            }
        }
        let by_key = by_key
            .into_iter()
            .map(|((b, o), n)| (key(b, o), n))
            .collect();
        (gids, calls, by_key)
    }

    /// Forgets every count.
    pub fn clear(&self) {
        for shard in &self.shards {
            *shard.lock().expect("count lock") = HashMap::new();
        }
    }
}

/// Parses a dump into calls per gid (each list sorted).
pub fn parse_dump(text: &str) -> Result<HashMap<String, Vec<Calls>>, String> {
    let mut out: HashMap<String, Vec<Calls>> = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut it = line.split(' ');
        let (Some(gid), Some(branch), Some(op), Some(count), None) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            return Err(format!("bad count line {line:?}"));
        };
        let count = count
            .parse()
            .map_err(|_| format!("bad count line {line:?}"))?;
        out.entry(gid.to_string()).or_default().push(Calls {
            branch: branch_num(branch),
            op: op_code(op),
            count,
        });
    }
    for calls in out.values_mut() {
        calls.sort();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_dump_parse() {
        let t = CountTable::default();
        assert_eq!(t.record("r-1", 1, op_code("action")), 1);
        assert_eq!(t.record("r-1", 1, op_code("action")), 2);
        t.record("r-1", 2, op_code("compensate"));
        t.record("other-1", 1, op_code("action"));
        let mut text = String::new();
        t.dump("r-", &mut text);
        let parsed = parse_dump(&text).expect("parse");
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed["r-1"], t.get("r-1"));
        let (gids, calls, by_key) = t.stats("r-");
        assert_eq!((gids, calls), (1, 3));
        assert_eq!(by_key["01/action"], 1);
        assert_eq!(by_key["02/compensate"], 1);
        t.clear();
        assert!(t.get("r-1").is_empty());
    }
}
