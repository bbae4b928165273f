//! Builder and RM-side behaviour not covered by the shared vectors: argument checks,
//! `Send` futures, the XA state machine's less common paths.

use dtmx::barrier::{BarrierTable, Dialect};
use dtmx::rm::{Branch, XaLocal, XaPhase, XaStep};
use dtmx::tm::{BranchIdGen, Client};
use dtmx::transport::{BoxFuture, HttpRequest, HttpResponse, ManualClock, Transport};
use dtmx::{ErrorKind, Result};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Recorder(Mutex<Vec<HttpRequest>>);

impl Transport for Recorder {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>> {
        self.0.lock().expect("log").push(request);
        Box::pin(async {
            Ok(HttpResponse {
                status: 200,
                body: br#"{"dtm_result":"SUCCESS"}"#.to_vec(),
            })
        })
    }
}

fn client() -> (Client, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    (Client::new("http://dtm.test/api/dtmsvr/", rec.clone()), rec)
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn futures_are_send_on_native_targets() {
    let (c, _) = client();
    let saga = c.saga("g");
    assert_send(&saga.submit());
    let tcc = c.tcc("g");
    assert_send(&tcc.call_branch(b"{}", "http://t", "http://c", "http://x"));
    assert_send(&c.new_gid());
}

#[tokio::test]
async fn invalid_arguments() {
    let (c, rec) = client();
    assert_eq!(c.server(), "http://dtm.test/api/dtmsvr");
    let mut saga = c.saga("");
    saga.add("http://a", "", b"{}");
    assert_eq!(
        saga.submit().await.map_err(|e| e.kind()),
        Err(ErrorKind::InvalidArgument)
    );
    let mut saga = c.saga("g");
    saga.add("http://a", "", [0xff, 0xfe]);
    assert_eq!(
        saga.submit().await.map_err(|e| e.kind()),
        Err(ErrorKind::InvalidArgument)
    );
    let msg = c.msg("g");
    assert_eq!(
        msg.check_back_request("").map_err(|e| e.kind()),
        Err(ErrorKind::InvalidArgument)
    );
    let tcc = c.tcc("g");
    let err = tcc
        .call_branch(&[0xff], "http://t", "http://c", "http://x")
        .await
        .expect_err("not UTF-8");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(rec.0.lock().expect("log").is_empty(), "nothing sent");
    let nested = Branch::from_query("gid=g&branch_id=01");
    assert!(c.tcc_from_branch(&nested).is_err(), "no dtm");
}

#[tokio::test]
async fn branch_ids_are_shared_by_clones_and_bounded() {
    let (c, rec) = client();
    let tcc = c.tcc("g");
    let clone = tcc.clone();
    tcc.call_branch(b"{}", "", "http://c", "http://x")
        .await
        .expect("01");
    clone
        .call_branch(b"{}", "", "http://c", "http://x")
        .await
        .expect("02");
    assert_eq!(tcc.current_branch_id(), "02");
    assert_eq!(
        rec.0.lock().expect("log").len(),
        2,
        "empty try URL: register only"
    );
    let ids = BranchIdGen::new("01");
    for _ in 0..99 {
        ids.next_id().expect("id");
    }
    assert_eq!(
        ids.next_id().map_err(|e| e.kind()),
        Err(ErrorKind::InvalidArgument)
    );
}

#[test]
fn local_gids_use_the_injected_clock() {
    let (c, _) = client();
    let clock = Arc::new(ManualClock::new(1_000));
    let c = c.with_clock(clock.clone());
    let a = c.local_gid();
    clock.advance(std::time::Duration::from_secs(1));
    let b = c.local_gid();
    assert!(a < b && a.len() == 22 && b.len() == 22, "{a} {b}");
}

#[cfg(not(feature = "client"))]
#[tokio::test]
async fn wait_final_needs_a_sleeper() {
    let (c, _) = client();
    let err = c
        .wait_final(
            "g",
            std::time::Duration::from_secs(1),
            std::time::Duration::from_millis(1),
        )
        .await
        .expect_err("no sleeper without the client feature");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

fn xa(op: &str, dialect: Dialect) -> XaLocal {
    let b = Branch::from_query(&format!(
        "dtm=http%3A%2F%2Fdtm&gid=g&branch_id=01&trans_type=xa&op={op}&phase2_url=http%3A%2F%2Fb"
    ));
    XaLocal::new(&b, &BarrierTable::new(dialect)).expect("xa")
}

#[test]
fn xa_phase1_fenced_by_an_earlier_rollback() {
    let mut x = xa("action", Dialect::Mysql);
    assert_eq!(x.phase(), XaPhase::Action);
    assert_eq!(x.xid(), "g-01");
    x.feed_affected(0).expect("xa start");
    // The barrier row exists: its reason tells who inserted it.
    assert!(matches!(
        x.feed_affected(0).expect("insert"),
        XaStep::QueryReason(_)
    ));
    x.feed_reason(Some("rollback")).expect("reason");
    let sql: Vec<String> = std::iter::from_fn(|| match x.step().clone() {
        XaStep::Execute(s) => {
            x.feed_affected(0).expect("exec");
            Some(s.sql)
        }
        _ => None,
    })
    .collect();
    assert_eq!(sql, ["xa end 'g-01'", "xa rollback 'g-01'"]);
    assert_eq!(x.step(), &XaStep::Done);
    assert_eq!(x.finish().map_err(|e| e.kind()), Err(ErrorKind::Failure));
}

#[test]
fn xa_duplicate_phase1_succeeds_without_business() {
    let mut x = xa("action", Dialect::Postgres);
    x.feed_affected(0).expect("begin");
    x.feed_affected(0).expect("insert");
    x.feed_reason(Some("action")).expect("reason");
    match x.step().clone() {
        XaStep::Execute(s) => assert_eq!(s.sql, "rollback"),
        other => panic!("{other:?}"),
    }
    x.feed_affected(0).expect("rollback");
    x.finish().expect("duplicate is success");
}

#[test]
fn xa_misuse_is_an_error() {
    let mut x = xa("commit", Dialect::Mysql);
    assert_eq!(x.phase(), XaPhase::Commit);
    assert!(x.feed_business(Ok(())).is_err());
    assert!(x.feed_reply(200, b"").is_err());
    let x = xa("commit", Dialect::Mysql);
    assert!(x.finish().is_err(), "not finished");
    let b = Branch::from_query("gid=g&branch_id=01&op=action&trans_type=xa");
    assert!(
        XaLocal::new(&b, &BarrierTable::new(Dialect::Mysql)).is_err(),
        "no dtm"
    );
    assert!(
        XaLocal::new(&b, &BarrierTable::new(Dialect::Sqlite)).is_err(),
        "no XA"
    );
}

#[tokio::test]
async fn a_panicking_callback_aborts_the_global_transaction() {
    for kind in ["tcc", "xa"] {
        let (c, rec) = client();
        let run = async move {
            if kind == "tcc" {
                let _ = c
                    .tcc("gp")
                    .run(|_| async { panic!("business bug") as Result<()> })
                    .await;
            } else {
                let _ = c
                    .xa("gp")
                    .run(|_| async { panic!("business bug") as Result<()> })
                    .await;
            }
        };
        let outcome = tokio::spawn(run).await;
        assert!(outcome.is_err(), "{kind}: the panic goes on to the caller");
        let urls: Vec<String> = rec
            .0
            .lock()
            .expect("log")
            .iter()
            .map(|r| r.url.clone())
            .collect();
        assert_eq!(
            urls,
            [
                "http://dtm.test/api/dtmsvr/prepare",
                "http://dtm.test/api/dtmsvr/abort"
            ],
            "{kind}: aborted at once"
        );
    }
}
