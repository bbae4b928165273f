//! Replays every case of every `tests/vectors/barrier*.json` file (format:
//! tests/vectors/barrier.md) against the barrier core.

use dtmx::barrier::{Barrier, BarrierTable, Decision, Dialect, Statement, Step};
use dtmx::{DtmResult, ErrorKind};
use serde_json::Value;
use std::path::PathBuf;

fn vector_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("barrier") && name.ends_with(".json")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no barrier*.json in {}", dir.display());
    files
}

fn load(path: &PathBuf) -> Value {
    let text = std::fs::read_to_string(path).expect("readable vector file");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().expect("string").to_owned())
        .collect()
}

fn kind(name: &str) -> ErrorKind {
    *ErrorKind::ALL
        .iter()
        .find(|k| k.as_str() == name)
        .unwrap_or_else(|| panic!("unknown error kind {name}"))
}

fn barrier(v: &Value) -> Barrier {
    Barrier::new(
        s(v, "trans_type"),
        s(v, "gid"),
        s(v, "branch_id"),
        s(v, "op"),
    )
    .unwrap_or_else(|e| panic!("barrier {v}: {e}"))
}

fn call_index(case: &Value) -> u64 {
    case.get("call_index").and_then(Value::as_u64).unwrap_or(1)
}

/// A barrier whose next guarded call has index `call_index` of the case.
fn barrier_at(case: &Value) -> Barrier {
    let mut b = barrier(&case["barrier"]);
    for _ in 1..call_index(case) {
        b.next_barrier_id();
    }
    b
}

/// The default tables of every dialect, with the expected SQL from the `tables` section.
fn default_tables(doc: &Value) -> Vec<(BarrierTable, Value)> {
    array(doc, "tables")
        .iter()
        .filter(|t| t["table"].is_null())
        .map(|t| {
            let dialect = Dialect::parse(s(t, "dialect")).expect("dialect");
            (BarrierTable::new(dialect), t.clone())
        })
        .collect()
}

fn check_statement(name: &str, statement: &Statement, expected: &Value, sql: &Value) {
    let run = s(expected, "run");
    assert_eq!(statement.sql, s(sql, run), "{name}: sql of {run}");
    assert_eq!(
        statement.params,
        strings(&expected["params"]),
        "{name}: params of {run}"
    );
}

/// Drives a state machine through the expected steps; returns the final step's value or
/// the error of the last feed.
macro_rules! replay_steps {
    ($name:expr, $machine:expr, $case:expr, $sql:expr) => {{
        let mut outcome = None;
        for expected in array($case, "steps") {
            let step = $machine.step().clone();
            let fed = match (&step, s(expected, "run")) {
                (Step::Execute(st), "insert_ignore") => {
                    check_statement($name, st, expected, $sql);
                    let n = expected["affected"].as_u64().expect("affected");
                    $machine.feed_affected(n).map(|_| ())
                }
                (Step::QueryReason(st), "select_reason") => {
                    check_statement($name, st, expected, $sql);
                    $machine
                        .feed_reason(expected["reason"].as_str())
                        .map(|_| ())
                }
                (other, run) => panic!("{}: expected {run}, got {other:?}", $name),
            };
            if let Err(e) = fed {
                outcome = Some(Err(e));
                break;
            }
        }
        match outcome {
            Some(err) => err,
            None => match $machine.step() {
                Step::Done(v) => Ok(*v),
                other => panic!("{}: not finished after the listed steps: {other:?}", $name),
            },
        }
    }};
}

#[test]
fn dialects_and_tables() {
    for path in vector_files() {
        let doc = load(&path);
        for d in array(&doc, "dialects") {
            let dialect = Dialect::parse(s(d, "name")).expect("dialect");
            assert_eq!(dialect.as_str(), s(d, "name"));
            for alias in strings(&d["aliases"]) {
                assert_eq!(Dialect::parse(&alias).expect("alias"), dialect);
            }
        }
        for bad in array(&doc, "invalid_dialects") {
            assert!(Dialect::parse(bad.as_str().expect("string")).is_err());
        }
        for t in array(&doc, "tables") {
            let dialect = Dialect::parse(s(t, "dialect")).expect("dialect");
            let table = match t["table"].as_str() {
                None => BarrierTable::new(dialect),
                Some(name) => BarrierTable::with_name(dialect, name).expect("valid name"),
            };
            assert_eq!(table.name(), s(t, "name"));
            assert_eq!(table.insert_ignore_sql(), s(t, "insert_ignore"));
            assert_eq!(table.select_reason_sql(), s(t, "select_reason"));
            assert_eq!(table.ddl(), strings(&t["ddl"]), "ddl of {t}");
        }
        for bad in array(&doc, "invalid_table_names") {
            for dialect in Dialect::ALL {
                let err = BarrierTable::with_name(dialect, bad.as_str().expect("string"))
                    .expect_err("invalid table name");
                assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            }
        }
    }
}

#[test]
fn construction() {
    for path in vector_files() {
        let doc = load(&path);
        for case in array(&doc, "construction") {
            let name = s(case, "name");
            let pairs = |key: &str| -> Vec<(String, String)> {
                array(case, key)
                    .iter()
                    .map(|p| {
                        let p = strings(p);
                        (p[0].clone(), p[1].clone())
                    })
                    .collect()
            };
            let built = if let Some(f) = case.get("fields") {
                Barrier::new(
                    s(f, "trans_type"),
                    s(f, "gid"),
                    s(f, "branch_id"),
                    s(f, "op"),
                )
            } else if case.get("query").is_some() {
                Barrier::from_query_pairs(pairs("query"))
            } else {
                Barrier::from_grpc_metadata(pairs("grpc_metadata"))
            };
            match (built, case.get("expect")) {
                (Ok(b), Some(want)) => {
                    let got = [b.trans_type(), b.gid(), b.branch_id(), b.op()];
                    let want = ["trans_type", "gid", "branch_id", "op"].map(|k| s(want, k));
                    assert_eq!(got, want, "{name}");
                }
                (Err(e), None) => {
                    assert_eq!(e.kind(), kind(s(case, "error_kind")), "{name}");
                    assert!(e.message().starts_with(s(case, "error_prefix")), "{name}");
                }
                (got, _) => panic!("{name}: unexpected {got:?}"),
            }
        }
    }
}

#[test]
fn calls() {
    let mut replayed = 0;
    for path in vector_files() {
        let doc = load(&path);
        for (table, sql) in default_tables(&doc) {
            for case in array(&doc, "calls") {
                let name = format!("{} [{}]", s(case, "name"), table.dialect());
                let mut call = barrier_at(case).call_machine(&table);
                let got = replay_steps!(&name, call, case, &sql);
                let decision = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(decision.as_str(), s(case, "decision"), "{name}");
                let error = decision.error().map(|e| e.kind());
                let want = case.get("error_kind").and_then(Value::as_str).map(kind);
                assert_eq!(error, want, "{name}: error kind");
                replayed += 1;
            }
        }
    }
    assert!(replayed > 0);
}

#[test]
fn query_prepared() {
    for path in vector_files() {
        let doc = load(&path);
        for (table, sql) in default_tables(&doc) {
            for case in array(&doc, "query_prepared") {
                let name = format!("{} [{}]", s(case, "name"), table.dialect());
                let mut query = barrier(&case["barrier"]).query_prepared_machine(&table);
                let got: dtmx::Result<DtmResult> = replay_steps!(&name, query, case, &sql);
                match (got, case.get("result")) {
                    (Ok(r), Some(want)) => assert_eq!(r.as_str(), want, "{name}"),
                    (Err(e), None) => assert_eq!(e.kind(), kind(s(case, "error_kind")), "{name}"),
                    (got, _) => panic!("{name}: unexpected {got:?}"),
                }
            }
        }
    }
}

#[test]
fn xa() {
    for path in vector_files() {
        let doc = load(&path);
        for (table, sql) in default_tables(&doc) {
            for case in array(&doc, "xa") {
                let name = format!("{} [{}]", s(case, "name"), table.dialect());
                let b = barrier_at(case);
                match s(case, "kind") {
                    "action" => {
                        let mut call = b.xa_action_machine(&table);
                        let got: dtmx::Result<Decision> = replay_steps!(&name, call, case, &sql);
                        let decision = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                        assert_eq!(decision.as_str(), s(case, "decision"), "{name}");
                    }
                    "rollback_fence" => {
                        let fence = b.xa_rollback_fence(&table);
                        check_statement(&name, &fence, &case["statement"], &sql);
                    }
                    other => panic!("{name}: unknown xa kind {other}"),
                }
            }
        }
    }
}

#[test]
fn redis() {
    for path in vector_files() {
        let doc = load(&path);
        for case in array(&doc, "redis_check_adjust_amount") {
            let name = s(case, "name");
            let mut b = barrier_at(case);
            let amount = case["amount"].as_i64().expect("amount");
            let expire = case["expire"].as_u64().expect("expire");
            let got = b
                .redis_check_adjust_amount_call(s(case, "key"), amount, expire)
                .and_then(|call| {
                    assert!(call.script().contains("INCRBY"), "{name}");
                    assert_eq!(call.keys(), strings(&case["keys"]), "{name}: keys");
                    assert_eq!(call.args(), strings(&case["args"]), "{name}: args");
                    call.decide(case["reply"].as_str())
                });
            match (got, case.get("decision")) {
                (Ok(d), Some(want)) => assert_eq!(d.as_str(), want, "{name}"),
                (Err(e), None) => assert_eq!(e.kind(), kind(s(case, "error_kind")), "{name}"),
                (got, _) => panic!("{name}: unexpected {got:?}"),
            }
        }
        for case in array(&doc, "redis_query_prepared") {
            let name = s(case, "name");
            let b = barrier(&case["barrier"]);
            let expire = case["expire"].as_u64().expect("expire");
            let got = b.redis_query_prepared_call(expire).and_then(|q| {
                assert_eq!(q.keys(), strings(&case["keys"]), "{name}: keys");
                assert_eq!(q.args(), strings(&case["args"]), "{name}: args");
                q.decide(case["reply"].as_str())
            });
            match (got, case.get("result")) {
                (Ok(r), Some(want)) => assert_eq!(r.as_str(), want, "{name}"),
                (Err(e), None) => assert_eq!(e.kind(), kind(s(case, "error_kind")), "{name}"),
                (got, _) => panic!("{name}: unexpected {got:?}"),
            }
        }
    }
}
