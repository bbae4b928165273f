//! The crate's side of tests/vectors/api.json, the public names every dtmx package shares:
//! every name the manifest gives Rust is listed below with a use of the item (so it fails to
//! compile when the item is renamed or removed), the list must equal the manifest's, and the
//! parity table in docs/BINDINGS.md must be the one the manifest renders
//! (`DTMX_BLESS=1 cargo test -p dtmx --all-features --test api_manifest` rewrites it).
#![cfg(all(
    feature = "client",
    feature = "sqlx-postgres",
    feature = "sqlx-mysql",
    feature = "sqlx-sqlite",
    feature = "redis"
))]
// The closures below name async methods without running them.
#![allow(clippy::let_underscore_future)]

mod api_table;

use dtmx::barrier::{self, Barrier, BarrierTable, Dialect, ParamStyle};
use dtmx::rm::{self, Branch, XaLocal};
use dtmx::{tm, Client, DtmResult, Error, ErrorKind, Msg, Outcome, Saga, Tcc, Xa};
use std::collections::BTreeSet;

// Generic items are named by path: the import fails when they go away.
#[allow(unused_imports)]
use dtmx::barrier::{
    mysql::call as _, mysql::create as _, mysql::query_prepared as _, postgres::call as _,
    postgres::create as _, postgres::query_prepared as _, redis::check_adjust_amount as _,
    redis::query_prepared as _, sqlite::call as _, sqlite::create as _,
    sqlite::query_prepared as _,
};

/// Each entry uses the item it names inside a closure that is type-checked, never run.
macro_rules! names {
    ($($name:literal => $use:expr,)*) => {
        fn rust_names() -> Vec<&'static str> {
            $(let _ = $use;)*
            vec![$($name),*]
        }
    };
}

names! {
    "Client.server" => |c: &Client| { let _ = c.server(); },
    "Client.new_gid" => |c: &Client| { let _ = c.new_gid(); },
    "Client.local_gid" => |c: &Client| { let _ = c.local_gid(); },
    "Client.query" => |c: &Client| { let _ = c.query("g"); },
    "Client.wait_final" => |c: &Client, d: std::time::Duration| { let _ = c.wait_final("g", d, d); },
    "Client.saga" => |c: &Client| { let _: Saga = c.saga("g"); },
    "Client.msg" => |c: &Client| { let _: Msg = c.msg("g"); },
    "Client.tcc" => |c: &Client| { let _: Tcc = c.tcc("g"); },
    "Client.xa" => |c: &Client| { let _: Xa = c.xa("g"); },
    "Client.tcc_from_branch" => |c: &Client, b: &Branch| { let _ = c.tcc_from_branch(b); },
    "Saga.gid" => |s: &Saga| { let _ = s.gid(); },
    "Saga.add" => |s: &mut Saga| { s.add("a", "c", b"{}"); },
    "Saga.add_branch_order" => |s: &mut Saga| { s.add_branch_order(1, &[0]); },
    "Saga.enable_concurrent" => |s: &mut Saga| { s.enable_concurrent(); },
    "Saga.submit" => |s: &Saga| { let _ = s.submit(); },
    "Msg.gid" => |m: &Msg| { let _ = m.gid(); },
    "Msg.add" => |m: &mut Msg| { m.add("a", b"{}"); },
    "Msg.add_topic" => |m: &mut Msg| { m.add_topic("t", b"{}"); },
    "Msg.set_delay" => |m: &mut Msg| { m.set_delay(1); },
    "Msg.enable_concurrent" => |m: &mut Msg| { m.enable_concurrent(); },
    "Msg.prepare" => |m: &mut Msg| { let _ = m.prepare("q"); },
    "Msg.submit" => |m: &mut Msg| { let _ = m.submit(); },
    "Msg.abort" => |m: &Msg| { let _ = m.abort(); },
    "Msg.do_and_submit" => |m: &mut Msg| {
        let _ = m.do_and_submit("q", |_b: Branch| async { Ok::<(), Error>(()) });
    },
    "Tcc.gid" => |t: &Tcc| { let _ = t.gid(); },
    "Tcc.prepare" => |t: &Tcc| { let _ = t.prepare(); },
    "Tcc.call_branch" => |t: &Tcc| { let _ = t.call_branch(b"{}", "t", "c", "x"); },
    "Tcc.submit" => |t: &Tcc| { let _ = t.submit(); },
    "Tcc.abort" => |t: &Tcc| { let _ = t.abort("r"); },
    "Tcc.run" => |t: &Tcc| { let _ = t.run(|_t: Tcc| async { Ok::<(), Error>(()) }); },
    "Tcc.current_branch_id" => |t: &Tcc| { let _ = t.current_branch_id(); },
    "Xa.gid" => |x: &Xa| { let _ = x.gid(); },
    "Xa.prepare" => |x: &Xa| { let _ = x.prepare(); },
    "Xa.call_branch" => |x: &Xa| { let _ = x.call_branch(b"{}", "u"); },
    "Xa.submit" => |x: &Xa| { let _ = x.submit(); },
    "Xa.abort" => |x: &Xa| { let _ = x.abort(); },
    "Xa.run" => |x: &Xa| { let _ = x.run(|_x: Xa| async { Ok::<(), Error>(()) }); },
    "Xa.current_branch_id" => |x: &Xa| { let _ = x.current_branch_id(); },
    "Branch.from_query" => || { let _: Branch = Branch::from_query("gid=g"); },
    "Branch.from_query_pairs" => || { let _: Branch = Branch::from_query_pairs([("gid", "g")]); },
    "Branch.from_grpc_metadata" => || { let _ = Branch::from_grpc_metadata([("dtm-gid", "g")]); },
    "Branch.to_query" => |b: &Branch| { let _ = b.to_query(); },
    "Barrier.from_query" => || { let _ = Barrier::from_query("gid=g"); },
    "Barrier.from_query_pairs" => || { let _ = Barrier::from_query_pairs([("gid", "g")]); },
    "Barrier.from_branch" => |b: &Branch| { let _ = Barrier::from_branch(b); },
    "Barrier.from_grpc_metadata" => || { let _ = Barrier::from_grpc_metadata([("dtm-gid", "g")]); },
    "Barrier.for_msg" => || { let _ = Barrier::for_msg("g"); },
    "Barrier.redis_default_expire" => || { let _: u64 = barrier::REDIS_DEFAULT_EXPIRE; },
    "Barrier.trans_type" => |b: &Barrier| { let _ = b.trans_type(); },
    "Barrier.gid" => |b: &Barrier| { let _ = b.gid(); },
    "Barrier.branch_id" => |b: &Barrier| { let _ = b.branch_id(); },
    "Barrier.op" => |b: &Barrier| { let _ = b.op(); },
    "Barrier.next_barrier_id" => |b: &mut Barrier| { let _ = b.next_barrier_id(); },
    "Barrier.call" => (),
    "Barrier.query_prepared" => (),
    "Barrier.redis_check_adjust_amount" => (),
    "Barrier.redis_query_prepared" => (),
    "Barrier.check_back" => || { let _ = barrier::check_back("g", DtmResult::Success); },
    "Barrier.call_machine" => |b: &mut Barrier, t: &BarrierTable| { let _ = b.call_machine(t); },
    "Barrier.query_prepared_machine" => |b: &Barrier, t: &BarrierTable| {
        let _ = b.query_prepared_machine(t);
    },
    "Barrier.xa_action_machine" => |b: &Barrier, t: &BarrierTable| { let _ = b.xa_action_machine(t); },
    "Barrier.xa_rollback_fence" => |b: &Barrier, t: &BarrierTable| { let _ = b.xa_rollback_fence(t); },
    "Barrier.redis_check_adjust_amount_call" => |b: &mut Barrier| {
        let _ = b.redis_check_adjust_amount_call("k", 1, 1);
    },
    "Barrier.redis_query_prepared_call" => |b: &Barrier| { let _ = b.redis_query_prepared_call(1); },
    "BarrierTable.dialect" => |t: &BarrierTable| { let _: Dialect = t.dialect(); },
    "BarrierTable.name" => |t: &BarrierTable| { let _ = t.name(); },
    "BarrierTable.ddl" => |t: &BarrierTable| { let _ = t.ddl(); },
    "BarrierTable.create" => (),
    "BarrierTable.insert_ignore_sql" => |t: &BarrierTable| { let _ = t.insert_ignore_sql(); },
    "BarrierTable.select_reason_sql" => |t: &BarrierTable| { let _ = t.select_reason_sql(); },
    "BarrierTable.render" => |t: &BarrierTable| { let _ = t.render("?", ParamStyle::Qmark); },
    "XaLocal.step" => |x: &XaLocal| { let _ = x.step(); },
    "XaLocal.feed_affected" => |x: &mut XaLocal| { let _ = x.feed_affected(1); },
    "XaLocal.feed_reason" => |x: &mut XaLocal| { let _ = x.feed_reason(None); },
    "XaLocal.feed_sql_error" => |x: &mut XaLocal| { let _ = x.feed_sql_error("e"); },
    "XaLocal.feed_business" => |x: &mut XaLocal| { let _ = x.feed_business(Ok(())); },
    "XaLocal.feed_reply" => |x: &mut XaLocal| { let _ = x.feed_reply(200, b""); },
    "XaLocal.feed_send_error" => |x: &mut XaLocal, e: Error| { let _ = x.feed_send_error(e); },
    "XaLocal.finish" => |x: XaLocal| { let _ = x.finish(); },
    "outcome_reply" => |o: &Outcome| { let _ = rm::outcome_reply(o); },
    "reply" => |r: &dtmx::Result<serde_json::Value>| { let _ = rm::reply(r); },
    "outcome_of_error" => |e: &Error| { let _ = rm::outcome_of_error(e); },
    "outcome_from_http" => || { let _ = Outcome::from_http(200, b""); },
    "outcome_from_grpc" => || { let _ = rm::outcome_from_grpc(0, ""); },
    "grpc_code" => |o: &Outcome| { let _ = rm::grpc_code(o); },
    "check_branch_reply" => || { let _ = tm::check_branch_reply(200, b""); },
    "check_server_reply" => || { let _ = tm::check_server_reply(200, b""); },
    "version" => || { let _: &str = dtmx::VERSION; },
}

#[test]
fn the_crate_has_every_name_the_manifest_gives_rust() {
    let manifest = api_table::Manifest::load();
    let want: BTreeSet<String> = manifest.names_for("rust").into_iter().collect();
    let have: BTreeSet<String> = rust_names().into_iter().map(String::from).collect();
    let missing: Vec<_> = want.difference(&have).collect();
    let unknown: Vec<_> = have.difference(&want).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "tests/vectors/api.json and this crate disagree: not listed here {missing:?}; \
         listed here but not in the manifest (or absent there for rust) {unknown:?}"
    );
}

#[test]
fn every_error_kind_of_the_manifest_is_an_error_kind() {
    let manifest = api_table::Manifest::load();
    let have: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        manifest.error_kinds(),
        have,
        "ErrorKind::ALL in manifest order"
    );
}

#[test]
fn bindings_md_holds_the_table_the_manifest_renders() {
    let manifest = api_table::Manifest::load();
    let rendered = manifest.render_table();
    let path = api_table::repo_path("docs/BINDINGS.md");
    let doc = std::fs::read_to_string(&path).expect("docs/BINDINGS.md");
    let (start, end) = ("<!-- api-table:start -->\n", "<!-- api-table:end -->");
    let (Some(a), Some(b)) = (doc.find(start), doc.find(end)) else {
        panic!("docs/BINDINGS.md has no {start:?} ... {end:?} markers");
    };
    let current = &doc[a + start.len()..b];
    if current != rendered {
        if std::env::var_os("DTMX_BLESS").is_some() {
            let new = format!("{}{}{}", &doc[..a + start.len()], rendered, &doc[b..]);
            std::fs::write(&path, new).expect("write docs/BINDINGS.md");
            return;
        }
        panic!(
            "docs/BINDINGS.md's parity table is not the one tests/vectors/api.json renders; \
             run `DTMX_BLESS=1 cargo test -p dtmx --all-features --test api_manifest`"
        );
    }
}

#[test]
fn absent_entries_are_not_asked_of_rust() {
    let want = api_table::Manifest::load().names_for("rust");
    assert!(want.contains(&"Barrier.call_machine".to_string()));
    assert!(!want.contains(&"xa_local".to_string()), "{want:?}");
}
