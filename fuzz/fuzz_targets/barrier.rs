//! The sub-transaction barrier's decision logic (`dtmx::barrier`), driven against a model
//! of the barrier table and of the Redis keys.
//!
//! Input: a program of branch calls in random order, repeats and interleavings: SQL
//! barrier calls (`Barrier::call`, several local transactions per request, business
//! code that commits or fails), XA phase 1 (`xa_action`) and the phase-2 rollback fence,
//! the msg check-back (`query_prepared`), Redis amount adjustments
//! (`redis_check_adjust_amount` + `decide`, the Lua script run by a model) and the Redis
//! check-back, plus misfed steps. The step machines run their statements on an in-memory
//! table with the same unique key as the real ones, inside a transaction that commits or
//! rolls back as a host's would. Invariants:
//! * the statements come in the documented order: the origin row's insert (compensations
//!   only), the op's insert, and a reason query only for a `try`/`action` whose row exists;
//! * the decision is the documented one for the table's state (a `cancel` whose `try`
//!   never committed decides `NullCompensation`, a `try` after its `cancel` `Suspended`,
//!   a repeat `Duplicate`, a repeated msg `MsgDuplicated`);
//! * business code commits at most once per branch, op and barrier id; a compensation's
//!   business runs only after its origin's committed, and an origin's never after its
//!   compensation; the msg check-back answers `SUCCESS` exactly when the msg's local
//!   transaction committed, and afterwards that transaction can no longer commit;
//! * on Redis the amount never goes below zero, and the same holds for adjustments;
//! * feeding a step the machine does not expect is an error that changes nothing.
#![no_main]

use dtmx::barrier::{
    origin_op, Barrier, BarrierCall, BarrierTable, Decision, Dialect, RedisDecision, Step,
};
use dtmx::protocol::DtmResult;
use libfuzzer_sys::fuzz_target;
use std::collections::{HashMap, HashSet};

const TRANS_TYPES: [&str; 5] = ["saga", "tcc", "xa", "msg", "workflow"];
/// Gids; `g;1` and `g\n1` name `g1` once the barrier strips them.
const GIDS: [&str; 4] = ["g1", "g2", "g;1", "g\n1"];
const BRANCH_IDS: [&str; 2] = ["01", "02"];
/// Ops of guarded calls. XA's `rollback` (whose origin is also `action`) only appears as
/// the XA fence, on gids of their own: one branch is either a saga or an XA branch, and an
/// action fenced by `rollback` and then compensated by `compensate` is not a real flow.
const OPS: [&str; 8] = [
    "try",
    "confirm",
    "cancel",
    "action",
    "compensate",
    "commit",
    "msg",
    "prepare",
];

/// Reads the fuzz input as small choices; zeros once it is used up.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.byte()) % from.len()]
    }

    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }
}

/// A barrier row's unique key: gid, branch id, op, barrier id.
type Key = (String, String, String, String);

fn key(b: &Barrier, op: &str, barrier_id: &str) -> Key {
    (
        b.gid().to_owned(),
        b.branch_id().to_owned(),
        op.to_owned(),
        barrier_id.to_owned(),
    )
}

/// The committed state: barrier rows (key → reason) and business effects.
#[derive(Default, Clone)]
struct Model {
    rows: HashMap<Key, String>,
    /// Keys whose business code committed.
    effects: HashSet<Key>,
    /// Redis: key → value.
    redis: HashMap<String, String>,
    /// Redis: barrier keys (`gid-branch-op-bid`) whose adjustment was applied.
    redis_effects: HashSet<String>,
}

/// The decision the barrier must reach on `rows` for `op` with barrier id `bid`.
fn expected(rows: &HashMap<Key, String>, b: &Barrier, op: &str, bid: &str) -> Decision {
    if let Some(origin) = origin_op(op) {
        if !rows.contains_key(&key(b, origin, bid)) {
            return Decision::NullCompensation;
        }
    }
    match rows.get(&key(b, op, bid)) {
        None => Decision::RunBusiness,
        Some(_) if op == "msg" => Decision::MsgDuplicated,
        Some(reason) if matches!(op, "try" | "action") && reason != op => Decision::Suspended,
        Some(_) => Decision::Duplicate,
    }
}

/// Runs a step machine's statements on `rows` (the open transaction) to its decision,
/// checking the statement order and that misfed steps are refused.
fn drive(
    input: &mut Input,
    rows: &mut HashMap<Key, String>,
    call: &mut BarrierCall,
    b: &Barrier,
    op: &str,
) -> Decision {
    let bid = call.barrier_id().to_owned();
    let mut expect_inserts: Vec<String> = origin_op(op).map(str::to_owned).into_iter().collect();
    expect_inserts.push(op.to_owned());
    let mut inserts = expect_inserts.iter();
    let mut queried = false;
    loop {
        let step = call.step().clone();
        if input.flag() {
            let before = call.step().clone();
            let misfed = match step {
                Step::Execute(_) => call.feed_reason(Some(op)).is_err(),
                Step::QueryReason(_) => call.feed_affected(1).is_err(),
                Step::Done(_) => call.feed_affected(0).is_err() && call.feed_reason(None).is_err(),
            };
            assert!(misfed, "a misfed step must be refused");
            assert_eq!(*call.step(), before, "a refused feed changes nothing");
        }
        match step {
            Step::Execute(st) => {
                assert!(!queried, "no insert after the reason query");
                let p = &st.params;
                assert_eq!(p.len(), 6, "insert parameters: {p:?}");
                let want = inserts.next().expect("more inserts than documented");
                assert_eq!(
                    (&p[1], &p[2], &p[3], &p[4], &p[5]),
                    (
                        &b.gid().to_owned(),
                        &b.branch_id().to_owned(),
                        want,
                        &bid,
                        &op.to_owned()
                    )
                );
                let k = (p[1].clone(), p[2].clone(), p[3].clone(), p[4].clone());
                let affected = if rows.contains_key(&k) {
                    0
                } else {
                    rows.insert(k, p[5].clone());
                    1
                };
                call.feed_affected(affected)
                    .expect("affected rows at Execute");
            }
            Step::QueryReason(st) => {
                assert!(inserts.next().is_none(), "query before the op's insert");
                assert!(matches!(op, "try" | "action"), "query for {op}");
                queried = true;
                let p = &st.params;
                assert_eq!(p.len(), 4, "query parameters: {p:?}");
                let reason = rows
                    .get(&(p[0].clone(), p[1].clone(), p[2].clone(), p[3].clone()))
                    .cloned();
                call.feed_reason(reason.as_deref())
                    .expect("a reason at QueryReason");
            }
            Step::Done(d) => {
                assert!(inserts.next().is_none(), "decided before the op's insert");
                assert_eq!(call.decision(), Some(d));
                return d;
            }
        }
    }
}

/// One guarded local transaction: decision, business code, commit or rollback.
fn local_transaction(input: &mut Input, model: &mut Model, b: &mut Barrier, table: &BarrierTable) {
    let op = b.op().to_owned();
    let mut call = b.call_machine(table);
    let bid = call.barrier_id().to_owned();
    let want = expected(&model.rows, b, &op, &bid);
    let mut rows = model.rows.clone();
    let decision = drive(input, &mut rows, &mut call, b, &op);
    assert_eq!(decision, want, "{op} {bid} on {:?}", model.rows.keys());
    let business_ok = input.byte() % 4 != 0;
    let commit = match decision {
        Decision::RunBusiness => business_ok,
        Decision::MsgDuplicated => false,
        d => {
            assert!(d.commits_without_business());
            true
        }
    };
    if !commit {
        return;
    }
    model.rows = rows;
    if decision.runs_business() {
        let k = key(b, &op, &bid);
        if let Some(origin) = origin_op(&op) {
            assert!(
                model.effects.contains(&key(b, origin, &bid)),
                "{op} compensates a {origin} that never committed"
            );
        }
        if let Some(comp) = OPS
            .iter()
            .find(|c| origin_op(c) == Some(op.as_str()) && model.effects.contains(&key(b, c, &bid)))
        {
            panic!("{op} runs after its compensation {comp}");
        }
        assert!(model.effects.insert(k), "{op} {bid} committed twice");
    }
}

/// XA phase 1 (`xa_action`) or, with `fence`, the phase-2 rollback fence.
fn xa(input: &mut Input, model: &mut Model, b: &Barrier, table: &BarrierTable, fence: bool) {
    if fence {
        let st = b.xa_rollback_fence(table);
        let p = &st.params;
        assert_eq!(p[3..], ["action", "01", "rollback"]);
        let k = (p[1].clone(), p[2].clone(), p[3].clone(), p[4].clone());
        model.rows.entry(k).or_insert_with(|| p[5].clone());
        return;
    }
    let mut call = b.xa_action_machine(table);
    assert_eq!(call.barrier_id(), "01");
    let want = expected(&model.rows, b, "action", "01");
    let mut rows = model.rows.clone();
    let decision = drive(input, &mut rows, &mut call, b, "action");
    assert_eq!(decision, want);
    if decision == Decision::RunBusiness && input.flag() {
        model.rows = rows;
        assert!(
            model.effects.insert(key(b, "action", "01")),
            "XA action twice"
        );
    } else if decision.commits_without_business() {
        model.rows = rows;
    }
}

/// The msg check-back on the table.
fn check_back(model: &mut Model, b: &Barrier, table: &BarrierTable) {
    let mut q = b.query_prepared_machine(table);
    let msg_key = (b.gid().to_owned(), "00".into(), "msg".into(), "01".into());
    let Step::Execute(st) = q.step().clone() else {
        panic!("the check-back starts with its insert")
    };
    let k = (
        st.params[1].clone(),
        st.params[2].clone(),
        st.params[3].clone(),
        st.params[4].clone(),
    );
    assert_eq!(k, msg_key);
    assert_eq!(st.params[5], "rollback");
    let affected = match model.rows.entry(k) {
        std::collections::hash_map::Entry::Occupied(_) => 0,
        std::collections::hash_map::Entry::Vacant(v) => {
            v.insert(st.params[5].clone());
            1
        }
    };
    q.feed_affected(affected).expect("insert then query");
    let Step::QueryReason(st) = q.step().clone() else {
        panic!("the check-back queries the reason")
    };
    let reason = model
        .rows
        .get(&(
            st.params[0].clone(),
            st.params[1].clone(),
            st.params[2].clone(),
            st.params[3].clone(),
        ))
        .cloned();
    q.feed_reason(reason.as_deref()).expect("a reason");
    let committed = model.effects.contains(&msg_key);
    let want = if committed {
        DtmResult::Success
    } else {
        DtmResult::Failure
    };
    assert_eq!(q.result(), Some(want), "check-back of {}", b.gid());
}

/// One Redis adjustment with the next barrier id, the script run on the model.
fn redis_adjust(input: &mut Input, model: &mut Model, b: &mut Barrier) {
    let amount_key = input.pick(&["acct-1", "acct-2", ""]);
    let amount = i64::from(input.byte() as i8);
    let expire = u64::from(input.byte() % 3);
    let calls = b.calls();
    let Ok(call) = b.redis_check_adjust_amount_call(amount_key, amount, expire) else {
        assert!(amount_key.is_empty() || expire == 0);
        assert_eq!(b.calls(), calls, "a refused call uses no barrier id");
        return;
    };
    let bid = format!("{:02}", b.calls());
    let op = b.op().to_owned();
    let barrier_key = |op: &str| format!("{}-{}-{op}-{bid}", b.gid(), b.branch_id());
    let keys = call.keys();
    assert_eq!(keys[0], amount_key);
    assert_eq!(keys[1], barrier_key(&op));
    let origin = dtmx::barrier::redis::redis_origin_op(&op);
    assert_eq!(keys.get(2).cloned(), origin.map(barrier_key));
    assert_eq!(
        call.args(),
        [amount.to_string(), op.clone(), expire.to_string()]
    );
    // CHECK_ADJUST_AMOUNT_SCRIPT on the model.
    let r = &mut model.redis;
    let reply = match r.get(&keys[0]).cloned() {
        None => "FAILURE",
        Some(balance) => match r.get(&keys[1]) {
            Some(done) if *done == op => "DUPLICATE",
            Some(_) => "SUSPENDED",
            None if keys.len() > 2 && !r.contains_key(&keys[2]) => {
                r.insert(keys[1].clone(), op.clone());
                r.insert(keys[2].clone(), "rollback".into());
                "NULL_COMPENSATION"
            }
            None => {
                let balance: i64 = balance.parse().expect("an amount");
                if balance + amount < 0 {
                    "FAILURE"
                } else {
                    r.insert(keys[1].clone(), op.clone());
                    r.insert(keys[0].clone(), (balance + amount).to_string());
                    "SUCCESS"
                }
            }
        },
    };
    if reply == "SUCCESS" {
        if let Some(origin) = origin {
            assert!(
                model.redis_effects.contains(&barrier_key(origin)),
                "{op} compensates an adjustment that never ran"
            );
        }
        assert!(model.redis_effects.insert(keys[1].clone()), "applied twice");
    }
    // A reply the barrier does not know (a changed script, a proxy) must be an error.
    let reply = if input.byte() == 0xff {
        "garbage"
    } else {
        reply
    };
    match call.decide(Some(reply)) {
        Ok(RedisDecision::Applied) => assert_eq!(reply, "SUCCESS"),
        Ok(d) => {
            assert_ne!(op, "msg", "msg {d} is the error Duplicated");
            assert_eq!(d.as_str().to_ascii_uppercase(), reply);
        }
        Err(e) => assert!(
            matches!(reply, "FAILURE" | "garbage") || (op == "msg" && reply != "SUCCESS"),
            "{reply} → {e}"
        ),
    }
    let balance = model
        .redis
        .get(amount_key)
        .map(|v| v.parse::<i64>().expect("an amount"));
    assert!(balance.unwrap_or(0) >= 0, "negative balance");
}

/// The msg check-back on Redis.
fn redis_check_back(input: &mut Input, model: &mut Model, b: &Barrier) {
    let expire = u64::from(input.byte() % 3);
    let Ok(q) = b.redis_query_prepared_call(expire) else {
        assert_eq!(expire, 0);
        return;
    };
    let k = format!("{}-00-msg-01", b.gid());
    assert_eq!(q.keys(), [k.clone()]);
    let v = model
        .redis
        .entry(k.clone())
        .or_insert_with(|| "rollback".into())
        .clone();
    let reply = if v == "rollback" {
        "FAILURE"
    } else {
        "SUCCESS"
    };
    let result = q.decide(Some(reply)).expect("a known reply");
    assert_eq!(
        result == DtmResult::Success,
        model.redis_effects.contains(&k)
    );
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let dialect = input.pick(&[Dialect::Mysql, Dialect::Postgres, Dialect::Sqlite]);
    let table = if input.flag() {
        BarrierTable::new(dialect)
    } else {
        let name = [
            "dtm_barrier.barrier",
            "b",
            "x.y.z",
            "bad name",
            "a;drop",
            "",
        ];
        match BarrierTable::with_name(dialect, input.pick(&name)) {
            Ok(t) => {
                assert!(t
                    .name()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.".contains(c)));
                t
            }
            Err(_) => BarrierTable::new(dialect),
        }
    };
    let mut model = Model::default();
    for (k, v) in [("acct-1", "100"), ("acct-2", "0")] {
        model.redis.insert(k.into(), v.into());
    }
    while !input.0.is_empty() {
        let command = input.byte();
        let trans_type = input.pick(&TRANS_TYPES);
        let gid = input.pick(&GIDS);
        let mut op = input.pick(&OPS);
        let branch_id = if op == "msg" {
            "00"
        } else {
            input.pick(&BRANCH_IDS)
        };
        if command % 8 == 7 {
            op = "";
        }
        let Ok(mut b) = Barrier::new(trans_type, gid, branch_id, op) else {
            assert!(op.is_empty());
            continue;
        };
        match command % 8 {
            0..=2 => {
                for _ in 0..=input.byte() % 2 {
                    local_transaction(&mut input, &mut model, &mut b, &table);
                }
            }
            3 => {
                let fence = input.flag();
                let b = Barrier::new("xa", &format!("xa-{gid}"), branch_id, "action")
                    .expect("a valid XA barrier");
                xa(&mut input, &mut model, &b, &table, fence)
            }
            4 => check_back(&mut model, &b, &table),
            5 => {
                for _ in 0..=input.byte() % 2 {
                    redis_adjust(&mut input, &mut model, &mut b);
                }
            }
            _ => redis_check_back(&mut input, &mut model, &b),
        }
    }
});
