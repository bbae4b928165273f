//! Topics conformance (PROTOCOL.md §1.3 subscribe/unsubscribe/topic/queryKV/scanKV, §4.1,
//! §4.3 topic expansion, §4.7; COMPATIBILITY.md "Topic subscribers").

mod common;

use common::*;
use serde_json::{json, Value};

async fn subscribe(dtm: &Dtmx, topic: &str, url: &str, remark: &str) -> Resp {
    dtm.get_with(
        "/api/dtmsvr/subscribe",
        &[("topic", topic), ("url", url), ("remark", remark)],
    )
    .await
}

async fn unsubscribe(dtm: &Dtmx, topic: &str, url: &str) -> Resp {
    dtm.get_with("/api/dtmsvr/unsubscribe", &[("topic", topic), ("url", url)])
        .await
}

/// The KV rows of `topic` (queryKV, asserted 200).
async fn topic_rows(dtm: &Dtmx, topic: &str) -> Vec<Value> {
    let r = dtm
        .get_with("/api/dtmsvr/queryKV", &[("cat", "topics"), ("key", topic)])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body.as_object().map(|o| o.len()), Some(1), "{:?}", r.body);
    r.body["kv"].as_array().expect("kv array").clone()
}

/// The one KV row of `topic`.
async fn topic_row(dtm: &Dtmx, topic: &str) -> Value {
    let rows = topic_rows(dtm, topic).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    rows[0].clone()
}

/// The subscribers stored in a KV row.
fn subscribers(row: &Value) -> Value {
    serde_json::from_str(row["v"].as_str().expect("v is a JSON text")).expect("v parses")
}

fn assert_500(r: &Resp, message: &str) {
    assert_eq!(
        (r.status, &r.body),
        (500, &json!({"message": message})),
        "expected 500 {message:?}"
    );
}

/// A msg of one payload per step whose actions are given verbatim (URLs or topics).
fn topic_msg(busi: &Busi, gid: &str, actions: &[&str], payloads: &[&str], extra: Value) -> Value {
    let steps: Vec<Value> = actions.iter().map(|a| json!({"action": a})).collect();
    let mut body = json!({
        "gid": gid, "trans_type": "msg", "steps": steps, "payloads": payloads,
        "query_prepared": busi.url("QueryPrepared"), "concurrent": false, "protocol": "",
    });
    merge(&mut body, extra);
    body
}

fn check_delivery(c: &Call, gid: &str, name: &str, branch_id: &str, body: &str) {
    assert_eq!(c.method, "POST", "{c:?}");
    assert_eq!(c.name, name, "{c:?}");
    assert_eq!(c.gid(), gid, "{c:?}");
    assert_eq!(c.q("trans_type"), "msg", "{c:?}");
    assert_eq!(c.q("branch_id"), branch_id, "{c:?}");
    assert_eq!(c.q("op"), "action", "{c:?}");
    assert_eq!(c.query.len(), 4, "{:?}", c.query);
    assert_eq!(c.body_str(), body, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_and_unsubscribe() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let (a, b) = (busi.url("SubA"), busi.url("SubB"));

    let r = subscribe(&dtm, "orders", &a, "first").await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let row = topic_row(&dtm, "orders").await;
    assert_eq!(row["cat"], "topics");
    assert_eq!(row["k"], "orders");
    assert_eq!(row["version"], 1);
    assert!(row["id"].as_i64().unwrap_or_default() > 0, "{row}");
    assert!(row["create_time"].is_string() && row["update_time"].is_string());
    assert_eq!(subscribers(&row), json!([{"url": a, "remark": "first"}]));
    let keys: Vec<&String> = row.as_object().expect("object").keys().collect();
    assert_eq!(
        keys.len(),
        7,
        "id, create_time, update_time, cat, k, v, version: {row}"
    );

    // the same url again: refused, unchanged
    let r = subscribe(&dtm, "orders", &a, "again").await;
    assert_500(&r, "this url exists");
    assert_eq!(topic_row(&dtm, "orders").await, row);

    let r = subscribe(&dtm, "orders", &b, "").await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let row = topic_row(&dtm, "orders").await;
    assert_eq!(row["version"], 2);
    assert_eq!(
        subscribers(&row),
        json!([{"url": a, "remark": "first"}, {"url": b, "remark": ""}])
    );

    // empty topic or url: refused, for both routes
    assert_500(&subscribe(&dtm, "", &a, "").await, "empty topic");
    assert_500(&subscribe(&dtm, "orders", "", "").await, "empty url");
    assert_500(
        &dtm.get("/api/dtmsvr/subscribe?url=http://x/y").await,
        "empty topic",
    );
    assert_500(&unsubscribe(&dtm, "", &a).await, "empty topic");
    assert_500(&unsubscribe(&dtm, "orders", "").await, "empty url");
    assert_500(&unsubscribe(&dtm, "nosuch", &a).await, "no such a topic");
    assert_500(
        &unsubscribe(&dtm, "orders", &busi.url("Stranger")).await,
        "no such an url ",
    );
    assert_eq!(topic_row(&dtm, "orders").await, row, "nothing changed");
    assert!(topic_rows(&dtm, "nosuch").await.is_empty());
    assert!(topic_rows(&dtm, "").await.len() == 1, "only orders exists");

    let r = unsubscribe(&dtm, "orders", &a).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let row = topic_row(&dtm, "orders").await;
    assert_eq!(row["version"], 3);
    assert_eq!(subscribers(&row), json!([{"url": b, "remark": ""}]));
    // unsubscribing twice: the url is gone
    assert_500(&unsubscribe(&dtm, "orders", &a).await, "no such an url ");
    assert_eq!(topic_row(&dtm, "orders").await, row);

    // the last subscriber leaves an empty topic behind
    let r = unsubscribe(&dtm, "orders", &b).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let row = topic_row(&dtm, "orders").await;
    assert_eq!(row["version"], 4);
    assert_eq!(subscribers(&row), json!([]));
    assert_500(
        &unsubscribe(&dtm, "orders", &b).await,
        "this topic is empty",
    );
    assert!(busi.all_calls().is_empty(), "subscribing calls nobody");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_counts_every_change() {
    // N subscribes then N unsubscribes: the first subscribe creates version 1, every later
    // change adds one, so the version ends at 2N.
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    const N: usize = 5;
    let urls: Vec<String> = (0..N).map(|i| busi.url(&format!("Sub{i}"))).collect();
    for (i, u) in urls.iter().enumerate() {
        let r = subscribe(&dtm, "t", u, &format!("r{i}")).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(topic_row(&dtm, "t").await["version"], i as i64 + 1);
    }
    let row = topic_row(&dtm, "t").await;
    let subs = subscribers(&row);
    let stored: Vec<&str> = subs
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["url"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(stored, urls.iter().map(String::as_str).collect::<Vec<_>>());
    for u in urls.iter().rev() {
        let r = unsubscribe(&dtm, "t", u).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let row = topic_row(&dtm, "t").await;
    assert_eq!(row["version"], 2 * N as i64);
    assert_eq!(subscribers(&row), json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_topic() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let r = dtm.delete("/api/dtmsvr/topic/nosuch").await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(r.body.get("dtm_result").is_none());
    assert!(!r.message().is_empty());

    assert_eq!(
        subscribe(&dtm, "gone", &busi.url("SubA"), "").await.status,
        200
    );
    assert_eq!(
        subscribe(&dtm, "kept", &busi.url("SubB"), "").await.status,
        200
    );
    let kept = topic_row(&dtm, "kept").await;
    let r = dtm.delete("/api/dtmsvr/topic/gone").await;
    assert_eq!((r.status, &r.body), (200, &success()));
    assert!(topic_rows(&dtm, "gone").await.is_empty());
    assert_eq!(topic_rows(&dtm, "").await, vec![kept.clone()]);
    let r = dtm.delete("/api/dtmsvr/topic/gone").await;
    assert_eq!(r.status, 500, "deleting twice: {:?}", r.body);

    // unlike DTM's cache, a deleted topic is gone at once for msgs too
    let r = dtm
        .submit(&topic_msg(
            &busi,
            "msg-deleted-topic",
            &["topic://gone"],
            &["{}"],
            json!({}),
        ))
        .await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(r.message().starts_with("topic not found"), "{:?}", r.body);
    dtm.assert_absent("msg-deleted-topic").await;

    // a deleted topic can be subscribed again from version 1
    assert_eq!(
        subscribe(&dtm, "gone", &busi.url("SubC"), "").await.status,
        200
    );
    assert_eq!(topic_row(&dtm, "gone").await["version"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_kv_and_scan_kv() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    for t in ["t-a", "t-b", "t-c"] {
        assert_eq!(subscribe(&dtm, t, &busi.url("Sub"), t).await.status, 200);
    }
    // queryKV: all rows of a category, or the one with the key
    let all = topic_rows(&dtm, "").await;
    assert_eq!(all.len(), 3, "{all:#?}");
    let ids: Vec<i64> = all.iter().map(|r| r["id"].as_i64().expect("id")).collect();
    let row_of = |k: &str| {
        all.iter()
            .find(|r| r["k"] == k)
            .cloned()
            .unwrap_or_else(|| panic!("{k} in {all:#?}"))
    };
    assert_eq!(topic_row(&dtm, "t-b").await, row_of("t-b"));
    let r = dtm
        .get_with("/api/dtmsvr/queryKV", &[("cat", "other")])
        .await;
    assert_eq!((r.status, &r.body), (200, &json!({"kv": []})));

    // scanKV: newest first, pages of `limit`, next_position = last id of a full page
    let scan = |params: Vec<(&'static str, String)>| {
        let dtm = &dtm;
        async move {
            let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            dtm.get_with("/api/dtmsvr/scanKV", &pairs).await
        }
    };
    let r = scan(vec![("cat", "topics".into())]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["next_position"], "", "not a full page");
    let page: Vec<Value> = r.body["kv"].as_array().expect("kv").clone();
    assert_eq!(
        page,
        vec![row_of("t-c"), row_of("t-b"), row_of("t-a")],
        "newest first"
    );
    assert!(ids.iter().all(|&id| id > 0));

    let r = scan(vec![("cat", "topics".into()), ("limit", "2".into())]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["kv"], json!([row_of("t-c"), row_of("t-b")]));
    let next = r.body["next_position"]
        .as_str()
        .expect("position")
        .to_string();
    assert_eq!(next, row_of("t-b")["id"].as_i64().expect("id").to_string());
    let r = scan(vec![
        ("cat", "topics".into()),
        ("limit", "2".into()),
        ("position", next),
    ])
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"kv": [row_of("t-a")], "next_position": ""}));

    let r = scan(vec![("cat", "other".into())]).await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"kv": [], "next_position": ""}))
    );
    // bad paging parameters are the client's error (COMPATIBILITY.md)
    for (k, v) in [("limit", "x"), ("limit", "0"), ("position", "abc")] {
        let r = scan(vec![("cat", "topics".into()), (k, v.into())]).await;
        assert_eq!(r.status, 400, "{k}={v}: {:?}", r.body);
        assert!(r.message().contains(k), "{:?}", r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_to_a_topic_fans_out() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let payload = r#"{"order":7}"#;
    assert_eq!(
        subscribe(&dtm, "orders", &busi.url("SubA"), "")
            .await
            .status,
        200
    );
    assert_eq!(
        subscribe(&dtm, "orders", &busi.url("SubB"), "")
            .await
            .status,
        200
    );

    let gid = "msg-topic-two";
    let r = dtm
        .submit(&topic_msg(
            &busi,
            gid,
            &["topic://orders"],
            &[payload],
            json!({"wait_result": true}),
        ))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    assert_eq!(q["transaction"]["status"], "succeed");
    assert_eq!(
        branch_keys(&q),
        vec![
            ("01-01".to_string(), "action".to_string()),
            ("01-02".into(), "action".into())
        ]
    );
    assert_eq!(q["branches"][0]["url"], busi.url("SubA"));
    assert_eq!(q["branches"][1]["url"], busi.url("SubB"));
    assert_eq!(statuses(&q), strs(&["succeed", "succeed"]));
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    check_delivery(&calls[0], gid, "SubA", "01-01", payload);
    check_delivery(&calls[1], gid, "SubB", "01-02", payload);

    // a topic step among plain steps: only the topic step fans out
    let gid = "msg-topic-mixed";
    let r = dtm
        .submit(&topic_msg(
            &busi,
            gid,
            &[&busi.url("First"), "topic://orders"],
            &["p0", "p1"],
            json!({"wait_result": true}),
        ))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    assert_eq!(
        branch_keys(&q),
        vec![
            ("01".to_string(), "action".to_string()),
            ("02-01".into(), "action".into()),
            ("02-02".into(), "action".into())
        ]
    );
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 3, "{calls:#?}");
    check_delivery(&calls[0], gid, "First", "01", "p0");
    check_delivery(&calls[1], gid, "SubA", "02-01", "p1");
    check_delivery(&calls[2], gid, "SubB", "02-02", "p1");

    // exactly one subscriber: the plain step id
    assert_eq!(
        unsubscribe(&dtm, "orders", &busi.url("SubA")).await.status,
        200
    );
    let gid = "msg-topic-one";
    let r = dtm
        .submit(&topic_msg(
            &busi,
            gid,
            &["topic://orders"],
            &[payload],
            json!({"wait_result": true}),
        ))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    let q = dtm.query(gid).await;
    assert_eq!(
        branch_keys(&q),
        vec![("01".to_string(), "action".to_string())]
    );
    let calls = busi.calls(gid);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    check_delivery(&calls[0], gid, "SubB", "01", payload);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_subscriber_is_used_at_once() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    // prepared before anybody subscribed: refused
    let r = dtm
        .prepare(&topic_msg(
            &busi,
            "msg-early",
            &["topic://fresh"],
            &["{}"],
            json!({}),
        ))
        .await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert_eq!(r.message(), "topic not found: fresh");
    dtm.assert_absent("msg-early").await;

    assert_eq!(
        subscribe(&dtm, "fresh", &busi.url("S1"), "").await.status,
        200
    );
    let r = dtm
        .prepare(&topic_msg(
            &busi,
            "msg-1",
            &["topic://fresh"],
            &["{}"],
            json!({}),
        ))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    assert_eq!(
        branch_keys(&dtm.query("msg-1").await),
        vec![("01".to_string(), "action".to_string())]
    );

    assert_eq!(
        subscribe(&dtm, "fresh", &busi.url("S2"), "").await.status,
        200
    );
    assert_eq!(
        subscribe(&dtm, "fresh", &busi.url("S3"), "").await.status,
        200
    );
    let r = dtm
        .submit(&topic_msg(
            &busi,
            "msg-3",
            &["topic://fresh"],
            &["{}"],
            json!({"wait_result": true}),
        ))
        .await;
    assert_eq!((r.status, &r.body), (200, &success()));
    assert_eq!(busi.names("msg-3"), strs(&["S1", "S2", "S3"]));
    assert_eq!(
        branch_keys(&dtm.query("msg-3").await)
            .into_iter()
            .map(|(id, _)| id)
            .collect::<Vec<_>>(),
        strs(&["01-01", "01-02", "01-03"])
    );

    // the prepared msg keeps the branches it was prepared with
    let mut submit = topic_msg(&busi, "msg-1", &["topic://fresh"], &["{}"], json!({}));
    merge(&mut submit, json!({"wait_result": true}));
    let r = dtm.submit(&submit).await;
    assert_eq!((r.status, &r.body), (200, &success()));
    assert_eq!(busi.names("msg-1"), strs(&["S1"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_empty_topic_writes_nothing() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    for (gid, prepare) in [("msg-unknown-topic", false), ("msg-unknown-topic-p", true)] {
        let body = topic_msg(
            &busi,
            gid,
            &[&busi.url("First"), "topic://nosuch"],
            &["a", "b"],
            json!({"wait_result": true}),
        );
        let r = if prepare {
            dtm.prepare(&body).await
        } else {
            dtm.submit(&body).await
        };
        assert_eq!(
            (r.status, &r.body),
            (500, &json!({"message": "topic not found: nosuch"}))
        );
        dtm.assert_absent(gid).await;
    }
    // an emptied topic has no subscriber either
    assert_eq!(
        subscribe(&dtm, "empty", &busi.url("S"), "").await.status,
        200
    );
    assert_eq!(unsubscribe(&dtm, "empty", &busi.url("S")).await.status, 200);
    let r = dtm
        .submit(&topic_msg(
            &busi,
            "msg-empty-topic",
            &["topic://empty"],
            &["{}"],
            json!({}),
        ))
        .await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert_eq!(r.message(), "topic not found: empty");
    dtm.assert_absent("msg-empty-topic").await;
    // a topic is only valid in a msg
    let mut saga_body = saga(&busi, "saga-topic", &[("TransOut", "")], &["{}"], json!({}));
    saga_body["steps"][0]["action"] = json!("topic://empty");
    let r = dtm.submit(&saga_body).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    dtm.assert_absent("saga-topic").await;
    let r = dtm.get_with("/api/dtmsvr/all", &[]).await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"transactions": null, "next_position": ""}))
    );
    assert!(busi.all_calls().is_empty());
}
