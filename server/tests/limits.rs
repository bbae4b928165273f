//! Limits (docs/SECURITY.md): every limit refuses with its documented status and a message
//! naming its config key, writes nothing, leaves the server serving, and a request just
//! under the limit is accepted. Over HTTP, JSON-RPC and gRPC.

mod common;
mod grpc_busi;

use common::*;
use dtmx_server::api::grpc::pb::dtmgimp::{DtmBranchRequest, DtmRequest, DtmTransOptions};
use grpc_busi::{dtm_client, BusiReq, GrpcBusi};
use serde_json::{json, Value};
use std::collections::HashMap;
use tonic::Code;

/// Asserts a refusal: status, JSON `message` containing `needle`, no `dtm_result`, `gid`
/// not written, and the server still answers.
async fn assert_refused(dtm: &Dtmx, r: &Resp, status: u16, needle: &str, gid: &str) {
    assert_eq!(r.status, status, "reply: {:?}", r.body);
    let msg = r.message();
    assert!(
        msg.contains(needle),
        "message {msg:?} should mention {needle:?}; reply {:?}",
        r.body
    );
    assert!(r.body.get("dtm_result").is_none(), "{:?}", r.body);
    if !gid.is_empty() {
        dtm.assert_absent(gid).await;
    }
    assert!(dtm.ping().await, "server still serving");
}

/// A saga of `n` steps against `busi`, one payload each.
fn saga_of(busi: &Busi, gid: &str, n: usize, extra: Value) -> Value {
    let steps: Vec<(&str, &str)> = (0..n).map(|_| ("TransOut", "TransOutRevert")).collect();
    let payloads: Vec<&str> = (0..n).map(|_| "{}").collect();
    saga(busi, gid, &steps, &payloads, extra)
}

/// A JSON-RPC call; returns `error` of the reply (asserting HTTP 200).
async fn rpc(dtm: &Dtmx, method: &str, params: Value) -> Value {
    let r = dtm
        .json_rpc(&json!({"jsonrpc": "2.0", "id": "1", "method": method, "params": params}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["error"].clone()
}

/// A gRPC saga of `n` steps with the given binary payloads.
fn grpc_saga(busi: &GrpcBusi, gid: &str, payloads: Vec<Vec<u8>>) -> DtmRequest {
    let steps: Vec<Value> = payloads
        .iter()
        .map(|_| json!({"action": busi.url("TransOut"), "compensate": busi.url("TransOutRevert")}))
        .collect();
    DtmRequest {
        gid: gid.into(),
        trans_type: "saga".into(),
        steps: Value::from(steps).to_string(),
        bin_payloads: payloads,
        trans_options: Some(DtmTransOptions {
            wait_result: true,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gid_length_and_characters() {
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    // 129 characters is one too many; the length is counted in characters, like the
    // varchar(128) column
    let long = "é".repeat(129);
    let r = dtm.submit(&saga_of(&busi, &long, 1, json!({}))).await;
    assert_refused(&dtm, &r, 400, "longer than 128 characters", &long).await;
    // control characters are refused (after DTM's removal of \n, \r and ;)
    for bad in [
        "tab\there",
        "nul\u{0}gid",
        "del\u{7f}",
        "c1\u{85}x",
        "esc\u{1b}[31m",
    ] {
        let r = dtm.submit(&saga_of(&busi, bad, 1, json!({}))).await;
        assert_refused(&dtm, &r, 400, "control characters", "").await;
        let r = dtm.prepare(&saga_of(&busi, bad, 1, json!({}))).await;
        assert_refused(&dtm, &r, 400, "control characters", "").await;
        let err = rpc(
            &dtm,
            "submit",
            saga_of(&busi, bad, 1, json!({"wait_result": true})),
        )
        .await;
        assert_eq!(err["code"], -32600, "{err}");
        assert!(err["message"]
            .as_str()
            .unwrap_or_default()
            .contains("control"));
    }
    let r = dtm.get("/api/dtmsvr/all").await;
    assert_eq!(r.body["transactions"], Value::Null, "nothing stored");
    assert!(busi.all_calls().is_empty());
    // accepted: 128 characters (256 bytes), what DTM's SDKs generate, and free text DTM
    // takes (spaces, slashes, non-ASCII)
    let longest = "é".repeat(128);
    for gid in [
        longest.as_str(),
        "a1B2_c3-D4",
        "3Ghx8Yq2sWvJvNUBmE7qzV",
        "order 42/2026",
        "订单-1",
    ] {
        let r = dtm
            .submit(&saga_of(&busi, gid, 1, json!({"wait_result": true})))
            .await;
        assert_eq!(r.status, 200, "{gid}: {:?}", r.body);
        assert_eq!(dtm.status(gid).await, "succeed", "{gid}");
    }
    // \n, \r and ; are still silently removed, as DTM does
    let r = dtm
        .submit(&saga_of(
            &busi,
            "strip;me\n",
            1,
            json!({"wait_result": true}),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(dtm.status("stripme").await, "succeed");
    // over gRPC
    let gbusi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let err = client
        .submit(grpc_saga(
            &gbusi,
            "grpc\u{1}gid",
            vec![BusiReq::bytes(1, "a")],
        ))
        .await
        .expect_err("control character");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("control"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_and_branches_over_max_branches() {
    let dtm = Dtmx::start_with_env(&[("MAX_BRANCHES", "3")]).await;
    let busi = Busi::start().await;
    // saga and msg steps
    let r = dtm
        .submit(&saga_of(&busi, "four-steps", 4, json!({})))
        .await;
    assert_refused(&dtm, &r, 413, "MaxBranches (3)", "four-steps").await;
    let r = dtm
        .prepare(&saga_of(&busi, "four-steps", 4, json!({})))
        .await;
    assert_refused(&dtm, &r, 413, "MaxBranches (3)", "four-steps").await;
    let four = msg(
        &busi,
        "four-msg",
        &["A", "B", "C", "D"],
        &["{}", "{}", "{}", "{}"],
        json!({}),
    );
    let r = dtm.prepare(&four).await;
    assert_refused(&dtm, &r, 413, "MaxBranches", "four-msg").await;
    let err = rpc(&dtm, "submit", saga_of(&busi, "rpc-four", 4, json!({}))).await;
    assert_eq!(err["code"], -32600, "{err}");
    assert!(err["message"]
        .as_str()
        .unwrap_or_default()
        .contains("MaxBranches"));
    dtm.assert_absent("rpc-four").await;
    // a topic expanding to more subscribers than the limit
    for i in 0..4 {
        let url = busi.url(&format!("Sub{i}"));
        let r = dtm
            .get_with("/api/dtmsvr/subscribe", &[("topic", "wide"), ("url", &url)])
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let wide = json!({"gid": "wide-msg", "trans_type": "msg", "steps": [{"action": "topic://wide"}],
                      "payloads": ["{}"], "query_prepared": busi.url("QueryPrepared")});
    let r = dtm.submit(&wide).await;
    assert_refused(&dtm, &r, 413, "MaxBranches", "wide-msg").await;
    assert!(busi.all_calls().is_empty(), "nothing called");
    // three steps are fine
    let r = dtm
        .submit(&saga_of(
            &busi,
            "three-steps",
            3,
            json!({"wait_result": true}),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(dtm.status("three-steps").await, "succeed");

    // registered branches of a TCC: the fourth branch id is refused, a third is fine
    let gid = "tcc-many";
    assert_eq!(
        dtm.prepare(&global(gid, "tcc", json!({}))).await.status,
        200
    );
    let branch = |id: &str| {
        json!({"gid": gid, "trans_type": "tcc", "branch_id": id, "data": "{}",
               "confirm": busi.url("Confirm"), "cancel": busi.url("Cancel")})
    };
    for id in ["01", "02", "03"] {
        let r = dtm.register_branch(&branch(id)).await;
        assert_eq!(r.status, 200, "{id}: {:?}", r.body);
    }
    let r = dtm.register_branch(&branch("04")).await;
    assert_eq!(r.status, 413, "{:?}", r.body);
    assert!(r.message().contains("MaxBranches is 3"), "{:?}", r.body);
    let err = rpc(&dtm, "registerBranch", branch("05")).await;
    assert_eq!(err["code"], -32600, "{err}");
    assert_eq!(dtm.branch_statuses(gid).await.len(), 6, "nothing added");
    // the transaction is intact and finishes
    let r = dtm
        .submit(&global(gid, "tcc", json!({"wait_result": true})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(busi.calls_of(gid, "Confirm").len(), 3);

    // over gRPC
    let gbusi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let payloads = vec![BusiReq::bytes(1, "a"); 4];
    let err = client
        .submit(grpc_saga(&gbusi, "grpc-four", payloads))
        .await
        .expect_err("over MaxBranches");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("MaxBranches"), "{err:?}");
    dtm.assert_absent("grpc-four").await;
    client
        .submit(grpc_saga(
            &gbusi,
            "grpc-three",
            vec![BusiReq::bytes(1, "a"); 3],
        ))
        .await
        .expect("three steps pass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_over_max_payload_bytes() {
    let dtm = Dtmx::start_with_env(&[("MAX_PAYLOAD_BYTES", "1024")]).await;
    let busi = Busi::start().await;
    let big = "x".repeat(1025);
    let fits = "y".repeat(1024);
    let body = saga(
        &busi,
        "big-payload",
        &[("TransOut", "TransOutRevert"), ("TransIn", "TransInRevert")],
        &["{}", &big],
        json!({}),
    );
    let r = dtm.submit(&body).await;
    assert_refused(
        &dtm,
        &r,
        413,
        "payload 2 is 1025 bytes, more than MaxPayloadBytes (1024)",
        "big-payload",
    )
    .await;
    let r = dtm.prepare(&body).await;
    assert_refused(&dtm, &r, 413, "MaxPayloadBytes", "big-payload").await;
    let err = rpc(&dtm, "submit", body).await;
    assert_eq!(err["code"], -32600, "{err}");
    dtm.assert_absent("big-payload").await;
    // legacy steps[].data counts too
    let legacy = json!({"gid": "big-legacy", "trans_type": "msg", "query_prepared": busi.url("Q"),
                        "steps": [{"action": busi.url("A"), "data": big}]});
    let r = dtm.submit(&legacy).await;
    assert_refused(&dtm, &r, 413, "MaxPayloadBytes", "big-legacy").await;
    assert!(busi.all_calls().is_empty());
    let r = dtm
        .submit(&saga(
            &busi,
            "fits",
            &[("TransOut", "TransOutRevert")],
            &[&fits],
            json!({"wait_result": true}),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(busi.calls_of("fits", "TransOut")[0].body.len(), 1024);

    // registerBranch data
    let gid = "tcc-big";
    assert_eq!(
        dtm.prepare(&global(gid, "tcc", json!({}))).await.status,
        200
    );
    let branch = |data: &str| {
        json!({"gid": gid, "trans_type": "tcc", "branch_id": "01", "data": data,
               "confirm": busi.url("Confirm"), "cancel": busi.url("Cancel")})
    };
    let r = dtm.register_branch(&branch(&big)).await;
    assert_eq!(r.status, 413, "{:?}", r.body);
    assert!(r.message().contains("MaxPayloadBytes"), "{:?}", r.body);
    assert_eq!(dtm.query(gid).await["branches"], json!([]));
    let r = dtm.register_branch(&branch(&fits)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // gRPC binary payloads and branch payloads
    let gbusi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let err = client
        .submit(grpc_saga(&gbusi, "grpc-big", vec![vec![7; 1025]]))
        .await
        .expect_err("over MaxPayloadBytes");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("MaxPayloadBytes"), "{err:?}");
    dtm.assert_absent("grpc-big").await;
    let err = client
        .register_branch(DtmBranchRequest {
            gid: gid.into(),
            trans_type: "tcc".into(),
            branch_id: "02".into(),
            busi_payload: vec![1; 1025],
            data: HashMap::from([
                ("confirm".to_string(), busi.url("Confirm")),
                ("cancel".to_string(), busi.url("Cancel")),
            ]),
            ..Default::default()
        })
        .await
        .expect_err("over MaxPayloadBytes");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(dtm.branch_statuses(gid).await.len(), 2, "nothing added");
    client
        .submit(grpc_saga(&gbusi, "grpc-fits", vec![vec![7; 1024]]))
        .await
        .expect("1024 bytes pass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_headers_count_size_and_form() {
    let dtm = Dtmx::start_with_env(&[
        ("MAX_BRANCH_HEADERS", "2"),
        ("MAX_BRANCH_HEADER_BYTES", "64"),
    ])
    .await;
    let busi = Busi::start().await;
    let with = |gid: &str, headers: Value| {
        saga_of(
            &busi,
            gid,
            1,
            json!({"branch_headers": headers, "wait_result": true}),
        )
    };
    let r = dtm
        .submit(&with(
            "three-headers",
            json!({"a": "1", "b": "2", "c": "3"}),
        ))
        .await;
    assert_refused(&dtm, &r, 413, "MaxBranchHeaders (2)", "three-headers").await;
    // 2 + 63 = 65 bytes
    let r = dtm
        .submit(&with("fat-headers", json!({"x1": "v".repeat(63)})))
        .await;
    assert_refused(&dtm, &r, 413, "MaxBranchHeaderBytes (64)", "fat-headers").await;
    let err = rpc(
        &dtm,
        "submit",
        with("rpc-headers", json!({"a": "1", "b": "2", "c": "3"})),
    )
    .await;
    assert_eq!(err["code"], -32600, "{err}");
    dtm.assert_absent("rpc-headers").await;
    // names and values that cannot be sent are refused at submit, not retried forever
    let r = dtm
        .submit(&with("bad-name", json!({"bad name": "1"})))
        .await;
    assert_refused(&dtm, &r, 400, "not a valid header name", "bad-name").await;
    let r = dtm
        .submit(&with("bad-value", json!({"x-a": "line\u{1}break"})))
        .await;
    assert_refused(&dtm, &r, 400, "not a valid header value", "bad-value").await;
    assert!(busi.all_calls().is_empty());
    // exactly at both limits: 2 headers, 64 bytes
    let r = dtm
        .submit(&with(
            "fit-headers",
            json!({"x1": "v".repeat(30), "x2": "w".repeat(30)}),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let calls = busi.calls_of("fit-headers", "TransOut");
    assert_eq!(calls[0].headers["x1"], "v".repeat(30));
    // gRPC options
    let gbusi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let mut req = grpc_saga(&gbusi, "grpc-headers", vec![BusiReq::bytes(1, "a")]);
    if let Some(o) = req.trans_options.as_mut() {
        o.branch_headers = (0..3).map(|i| (format!("h{i}"), "v".into())).collect();
    }
    let err = client.submit(req).await.expect_err("three headers");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    dtm.assert_absent("grpc-headers").await;
}

/// Sends a GET to `/api/dtmsvr/query` with `extra` headers; returns status and body.
async fn get_with_headers(dtm: &Dtmx, extra: &[(String, String)]) -> (u16, String) {
    let client = reqwest::Client::new();
    let mut req = client.get(format!("{}/api/dtmsvr/query?gid=nope", dtm.base));
    for (k, v) in extra {
        req = req.header(k.as_str(), v.as_str());
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

fn headers(n: usize, value_len: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("x-h{i}"), "v".repeat(value_len)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_header_count_and_size() {
    let dtm = Dtmx::start_with_env(&[
        ("HTTP_MAX_HEADERS", "20"),
        ("HTTP_MAX_HEADER_BYTES", "4096"),
    ])
    .await;
    let busi = Busi::start().await;
    let (status, body) = get_with_headers(&dtm, &headers(30, 1)).await;
    assert_eq!(status, 431, "{body}");
    let v: Value = serde_json::from_str(&body).expect("JSON message");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("HttpMaxHeaders (20)"),
        "{v}"
    );
    let (status, body) = get_with_headers(&dtm, &headers(2, 5000)).await;
    assert_eq!(status, 431, "{body}");
    assert!(body.contains("HttpMaxHeaderBytes (4096)"), "{body}");
    // a submit refused for its headers writes nothing
    let client = reqwest::Client::new();
    let mut req = client
        .post(format!("{}/api/dtmsvr/submit", dtm.base))
        .body(saga_of(&busi, "header-heavy", 1, json!({})).to_string());
    for (k, v) in headers(30, 1) {
        req = req.header(k, v);
    }
    let resp = req.send().await.expect("reply");
    assert_eq!(resp.status().as_u16(), 431);
    dtm.assert_absent("header-heavy").await;
    assert!(busi.all_calls().is_empty());
    // under both limits (reqwest adds its own few headers)
    let (status, body) = get_with_headers(&dtm, &headers(10, 300)).await;
    assert_eq!(status, 200, "{body}");
    assert!(dtm.ping().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_past_the_parser_caps_get_431_and_the_server_serves_on() {
    let dtm = Dtmx::start().await;
    // hyper's own caps: 100 fields, a 400 KiB head
    let (status, body) = get_with_headers(&dtm, &headers(150, 1)).await;
    assert_eq!(status, 431, "{body}");
    let (status, body) = get_with_headers(&dtm, &headers(8, 60 << 10)).await;
    assert_eq!(status, 431, "{body}");
    // the default limits: 64 KiB of headers
    let (status, body) = get_with_headers(&dtm, &headers(2, 33 << 10)).await;
    assert_eq!(status, 431, "{body}");
    assert!(body.contains("HttpMaxHeaderBytes (65536)"), "{body}");
    let (status, body) = get_with_headers(&dtm, &headers(60, 1000)).await;
    assert_eq!(status, 200, "{body}");
    assert!(dtm.ping().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_has_its_own_message_limit() {
    let dtm = Dtmx::start_with_env(&[("GRPC_MAX_MESSAGE_BYTES", "4096")]).await;
    let busi = Busi::start().await;
    let gbusi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let err = client
        .submit(grpc_saga(&gbusi, "grpc-8k", vec![vec![7; 8192]]))
        .await
        .expect_err("over GrpcMaxMessageBytes");
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    dtm.assert_absent("grpc-8k").await;
    client
        .submit(grpc_saga(&gbusi, "grpc-3k", vec![vec![7; 3000]]))
        .await
        .expect("under the limit");
    // HTTP keeps HttpMaxBodyBytes (8 MiB)
    let payload = "z".repeat(8192);
    let r = dtm
        .submit(&saga(
            &busi,
            "http-8k",
            &[("TransOut", "")],
            &[&payload],
            json!({"wait_result": true}),
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[test]
fn bad_limit_values_stop_the_server_at_start() {
    for (key, value, needle) in [
        ("MAX_BRANCHES", "0", "MAX_BRANCHES"),
        ("MAX_PAYLOAD_BYTES", "-1", "MAX_PAYLOAD_BYTES"),
        ("HTTP_MAX_HEADERS", "1000", "from 8 to 100"),
        ("HTTP_MAX_HEADER_BYTES", "10", "HTTP_MAX_HEADER_BYTES"),
        ("GRPC_MAX_MESSAGE_BYTES", "12", "GRPC_MAX_MESSAGE_BYTES"),
        ("MAX_BRANCH_HEADERS", "many", "MAX_BRANCH_HEADERS"),
        ("BRANCH_HOST_ALLOWLIST", "*", "BRANCH_HOST_ALLOWLIST"),
        ("BRANCH_HOST_ALLOWLIST", "10.0.0.0/40", "prefix length"),
    ] {
        let dir = unique_dir("bad-config");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dtmx"))
            .env(key, value)
            .env("HTTP_PORT", free_port().to_string())
            .env("GRPC_PORT", free_port().to_string())
            .env("HTTP_HOST", "127.0.0.1")
            .env("STORE_PATH", dir.join("dtmx.db"))
            .output()
            .expect("run dtmx");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!out.status.success(), "{key}={value} must not start");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{key}={value}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_grpc_metadata_is_refused() {
    let dtm = Dtmx::start().await;
    let gbusi = GrpcBusi::start().await;
    let mut client = dtm_client(dtm.grpc_port).await;
    let mut req = tonic::Request::new(grpc_saga(
        &gbusi,
        "grpc-fat-md",
        vec![BusiReq::bytes(1, "a")],
    ));
    let value = "m".repeat(70 << 10);
    req.metadata_mut()
        .insert("x-fat", value.parse().expect("ascii metadata"));
    client
        .submit(req)
        .await
        .expect_err("over HttpMaxHeaderBytes");
    dtm.assert_absent("grpc-fat-md").await;
    // a fresh connection works
    let mut client = dtm_client(dtm.grpc_port).await;
    client
        .submit(grpc_saga(
            &gbusi,
            "grpc-thin-md",
            vec![BusiReq::bytes(1, "a")],
        ))
        .await
        .expect("normal metadata");
}
