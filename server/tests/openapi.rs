//! Keeps docs/openapi.yaml true: it parses and its references resolve; its operations are
//! exactly the routes the router defines (read from api/http.rs) and the routes the real
//! server answers; and real replies (a saga run, bad input, unknown gids, topics, a TCC,
//! a workflow, JSON-RPC) have a documented status, a documented body and, for a 500, a
//! message the operation lists in `x-server-errors`.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// Every method OpenAPI knows, in its spelling.
const METHODS: [&str; 8] = [
    "get", "head", "post", "put", "delete", "patch", "options", "trace",
];

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("read docs/openapi.yaml");
    serde_yaml::from_str(&text).expect("docs/openapi.yaml is valid YAML")
}

/// Follows `$ref`s (local ones only).
fn resolve<'a>(spec: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let pointer = r.strip_prefix('#').expect("only local $refs");
                v = spec
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("$ref {r} does not resolve"));
            }
            None => return v,
        }
    }
    panic!("$ref loop")
}

/// (path, method) of every documented operation.
fn documented(spec: &Value) -> BTreeSet<(String, String)> {
    let paths = spec["paths"].as_object().expect("paths is a map");
    let mut ops = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("path item is a map");
        for key in item.keys() {
            if METHODS.contains(&key.as_str()) {
                ops.insert((path.clone(), key.clone()));
            }
        }
    }
    ops
}

fn operation<'a>(spec: &'a Value, path: &str, method: &str) -> &'a Value {
    let op = &spec["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    op
}

/// (path, method) of every route `router` in api/http.rs defines: `.route("p", m(..))`,
/// prefixed with `/api/dtmsvr` for the routes of the nested `dtm` router (those defined
/// before `let app`, except full `/api/...` paths). The test hook
/// (`/api/dtmsvr/test/*`, only with `DTMX_TEST_HOOKS`) is left out. `get` routes also
/// answer HEAD (HTTP semantics), which the description does not list; `any` is every
/// method.
fn router_routes() -> BTreeSet<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/http.rs");
    let src = std::fs::read_to_string(path).expect("read api/http.rs");
    let start = src
        .find("pub fn router(")
        .expect("fn router in api/http.rs");
    let body = &src[start..];
    let end = body.find("\n}\n").expect("end of fn router");
    let body = body[..end].split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        body.contains(r#".nest("/api/dtmsvr", dtm)"#),
        "the dtm router is no longer nested under /api/dtmsvr: update this test"
    );
    let app_at = body.find("let app =").expect("let app in fn router");
    let mut routes = BTreeSet::new();
    let mut rest = body.as_str();
    let mut offset = 0;
    while let Some(i) = rest.find(".route(") {
        let at = offset + i;
        let after = rest[i + ".route(".len()..].trim_start();
        let lit = after.strip_prefix('"').expect("route path is a literal");
        let close = lit.find('"').expect("end of route path");
        let route = &lit[..close];
        let method = lit[close + 1..]
            .trim_start_matches([',', ' '])
            .split('(')
            .next()
            .expect("method router")
            .trim()
            .to_string();
        let full = if at < app_at && !route.starts_with("/api/") {
            format!("/api/dtmsvr{route}")
        } else {
            route.to_string()
        };
        let methods: Vec<&str> = match method.as_str() {
            "any" => METHODS.to_vec(),
            m if METHODS.contains(&m) => vec![m],
            other => panic!("route {route}: unknown method router {other:?}"),
        };
        if !full.starts_with("/api/dtmsvr/test/") {
            for m in methods {
                routes.insert((full.clone(), m.to_string()));
            }
        }
        offset = at + ".route(".len();
        rest = &body[offset..];
    }
    routes
}

/// `*` matches any text (including none); everything else is literal.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut middle = &text[first.len()..text.len() - last.len()];
    if !text.ends_with(last) {
        return false;
    }
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part) {
            Some(i) => middle = &middle[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// The subset of JSON Schema the description uses. Unknown keywords are an error, so the
/// description cannot drift into something this check silently ignores.
fn validate(spec: &Value, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    let Some(map) = schema.as_object() else {
        errs.push(format!("{at}: schema is not an object"));
        return;
    };
    let err = |m: String| format!("{at}: {m} (value {v})");
    for (key, kw) in map {
        match key.as_str() {
            "type" => {
                let types: Vec<&str> = match kw {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                let ok = types.iter().any(|t| match *t {
                    "null" => v.is_null(),
                    "boolean" => v.is_boolean(),
                    "object" => v.is_object(),
                    "array" => v.is_array(),
                    "string" => v.is_string(),
                    "number" => v.is_number(),
                    "integer" => v.is_i64() || v.is_u64(),
                    _ => false,
                });
                if !ok {
                    errs.push(err(format!("not of type {kw}")));
                }
            }
            "const" => {
                if v != kw {
                    errs.push(err(format!("not {kw}")));
                }
            }
            "enum" => {
                if !kw.as_array().is_some_and(|e| e.contains(v)) {
                    errs.push(err(format!("not one of {kw}")));
                }
            }
            "required" => {
                if let Some(o) = v.as_object() {
                    for k in kw
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !o.contains_key(k) {
                            errs.push(err(format!("missing {k:?}")));
                        }
                    }
                }
            }
            "minLength" | "maxLength" => {
                if let (Some(s), Some(n)) = (v.as_str(), kw.as_u64()) {
                    let len = s.chars().count() as u64;
                    if (key == "minLength" && len < n) || (key == "maxLength" && len > n) {
                        errs.push(err(format!("{key} {n}")));
                    }
                }
            }
            "minimum" => {
                if let (Some(x), Some(min)) = (v.as_f64(), kw.as_f64()) {
                    if x < min {
                        errs.push(err(format!("below {min}")));
                    }
                }
            }
            "pattern" => {
                if let Some(s) = v.as_str() {
                    let p = kw.as_str().unwrap_or_default();
                    let ok = if let Some(prefix) = p.strip_prefix('^') {
                        s.starts_with(prefix)
                    } else if let Some(suffix) = p.strip_suffix('$') {
                        s.ends_with(suffix)
                    } else {
                        panic!("pattern {p:?}: this test reads only ^prefix and suffix$")
                    };
                    if !ok {
                        errs.push(err(format!("does not match {p:?}")));
                    }
                }
            }
            "properties" | "additionalProperties" => {
                let Some(o) = v.as_object() else { continue };
                let props = map.get("properties").and_then(Value::as_object);
                for (k, item) in o {
                    match props.and_then(|p| p.get(k)) {
                        Some(s) if key == "properties" => {
                            validate(spec, s, item, &format!("{at}.{k}"), errs)
                        }
                        Some(_) => {}
                        None if key == "additionalProperties" => match kw {
                            Value::Bool(false) => {
                                errs.push(format!("{at}: undocumented key {k:?}"))
                            }
                            Value::Bool(true) => {}
                            s => validate(spec, s, item, &format!("{at}.{k}"), errs),
                        },
                        None => {}
                    }
                }
            }
            "items" => {
                for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                    validate(spec, kw, item, &format!("{at}[{i}]"), errs);
                }
            }
            "oneOf" | "anyOf" => {
                let matching = kw
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|s| {
                        let mut e = Vec::new();
                        validate(spec, s, v, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                if (key == "oneOf" && matching != 1) || (key == "anyOf" && matching == 0) {
                    errs.push(err(format!("{matching} of the {key} alternatives match")));
                }
            }
            "description" | "format" | "example" | "default" | "contentEncoding" => {}
            other => panic!("{at}: keyword {other:?} is not read by this test: add it"),
        }
    }
}

/// Checks a real reply against the description of `method path`: the status is
/// documented, the content type and body match, and a 500's message is listed.
fn check_reply(spec: &Value, path: &str, method: &str, r: &Resp) {
    let op = operation(spec, path, method);
    let label = format!(
        "{} {path} -> {} {}",
        method.to_uppercase(),
        r.status,
        r.body
    );
    let Some(resp) = op["responses"].get(r.status.to_string()) else {
        panic!("{label}: status not documented");
    };
    let resp = resolve(spec, resp);
    if r.status >= 500 {
        let message = r.body["message"].as_str().unwrap_or_default();
        let listed = op["x-server-errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|p| glob(p, message));
        assert!(listed, "{label}: a server error not in x-server-errors");
    }
    if method == "head" {
        return;
    }
    let Some(content) = resp.get("content").and_then(Value::as_object) else {
        return;
    };
    let (media, body) = content.iter().next().expect("a media type");
    assert!(
        r.content_type.starts_with(media.as_str()),
        "{label}: content type {:?}, documented {media}",
        r.content_type
    );
    if let Some(schema) = body.get("schema") {
        let mut errs = Vec::new();
        validate(spec, schema, &r.body, "body", &mut errs);
        assert!(errs.is_empty(), "{label}: {errs:#?}");
    }
}

/// A request with any method (the harness has GET/POST/DELETE only).
async fn send(dtm: &Dtmx, method: &str, path: &str, body: Option<&str>) -> Resp {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    let mut req = http.request(m, format!("{}{path}", dtm.base));
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = resp.bytes().await.expect("read reply");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Resp {
        status,
        body,
        content_type,
    }
}

fn is_no_such_route(r: &Resp) -> bool {
    r.status == 404 && r.body == json!({"message": "no such route"})
}

#[test]
fn description_parses_and_references_resolve() {
    let spec = spec();
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "an OpenAPI 3 document"
    );
    // Every $ref resolves.
    fn walk(spec: &Value, v: &Value) {
        match v {
            Value::Object(m) => {
                if m.contains_key("$ref") {
                    resolve(spec, v);
                }
                m.values().for_each(|x| walk(spec, x));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(spec, x)),
            _ => {}
        }
    }
    walk(&spec, &spec);
    // Unique operation ids; a 500 is documented exactly where server errors are listed;
    // every listed pattern is a non-empty string.
    let mut ids = BTreeSet::new();
    for (path, method) in documented(&spec) {
        let op = operation(&spec, &path, &method);
        let id = op["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
        let has_500 = op["responses"].get("500").is_some();
        let errors = op.get("x-server-errors").and_then(Value::as_array);
        assert_eq!(
            has_500,
            errors.is_some_and(|e| !e.is_empty()),
            "{method} {path}: a documented 500 goes with its x-server-errors list"
        );
        for p in errors.into_iter().flatten() {
            assert!(p.as_str().is_some_and(|p| !p.is_empty()), "{path}: {p}");
        }
        for status in op["responses"].as_object().expect("responses").keys() {
            let code: u16 = status.parse().expect("numeric status codes");
            assert!((200..600).contains(&code));
        }
    }
    // The glob used for x-server-errors.
    assert!(glob(
        "no TransGlobal with gid: * found",
        "no TransGlobal with gid:  found"
    ));
    assert!(glob(
        "* not done, will retry: *",
        "tcc confirm of branch 01 not done, will retry: x"
    ));
    assert!(!glob("storage error: *", "internal error: boom"));
    assert!(!glob("empty url", "empty url!"));
}

#[test]
fn operations_are_the_routers_routes() {
    let spec = spec();
    let documented = documented(&spec);
    let routes = router_routes();
    assert!(
        routes.len() > 20,
        "read {} routes from api/http.rs",
        routes.len()
    );
    let missing: Vec<_> = routes.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/openapi.yaml and the router differ:\n  routes not documented: {missing:?}\n  documented, no such route: {extra:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_what_is_documented() {
    let spec = spec();
    let dtm = Dtmx::start().await;
    let documented = documented(&spec);
    let paths: BTreeSet<String> = documented.iter().map(|(p, _)| p.clone()).collect();

    // Every documented operation is answered by its route (not the fallback, not a 405),
    // with a documented status and body, on an empty JSON object / no query string.
    for (path, method) in &documented {
        let url = path.replace("{name}", "openapi-probe");
        let body = (method == "post").then_some("{}");
        let r = send(&dtm, method, &url, body).await;
        assert!(
            !is_no_such_route(&r) && r.status != 405,
            "{method} {path}: not routed ({} {})",
            r.status,
            r.body
        );
        check_reply(&spec, path, method, &r);
    }

    // Methods a path does not document are refused with 405 (HEAD is implied by GET).
    for path in &paths {
        let url = path.replace("{name}", "openapi-probe");
        for m in METHODS {
            let listed = documented.contains(&(path.clone(), m.to_string()));
            let implied = m == "head" && documented.contains(&(path.clone(), "get".into()));
            if listed || implied {
                continue;
            }
            let r = send(&dtm, m, &url, None).await;
            assert_eq!(r.status, 405, "{m} {path}: {}", r.body);
        }
    }

    // Paths that are not documented are not routed.
    for path in [
        "/api/dtmsvr",
        "/api/dtmsvr/",
        "/api/dtmsvr/nope",
        "/api/dtmsvr/Submit",
        "/api/dtmsvr/submit/extra",
        "/api/dtmsvr/topic",
        "/api/dtmsvr/topic/",
        "/api/jsonrpc",
        "/api/pingx",
        "/api/metrics/x",
    ] {
        for m in ["get", "post", "delete"] {
            let r = send(&dtm, m, path, None).await;
            assert!(is_no_such_route(&r), "{m} {path}: {} {}", r.status, r.body);
        }
    }
    assert!(dtm.ping().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_replies_match_the_description() {
    let spec = spec();
    let dtm = Dtmx::start().await;
    let busi = Busi::start().await;
    let d = "/api/dtmsvr";
    let check = |path: &str, method: &str, r: &Resp| check_reply(&spec, path, method, r);

    // Plain reads.
    check(
        &format!("{d}/version"),
        "get",
        &dtm.get(&format!("{d}/version")).await,
    );
    check(
        &format!("{d}/newGid"),
        "get",
        &dtm.get(&format!("{d}/newGid")).await,
    );
    let r = send(&dtm, "get", "/api/metrics", None).await;
    check("/api/metrics", "get", &r);

    // A valid saga, submitted and waited for.
    let gid = "openapi-saga";
    let body = transfer(&busi, gid, json!({"wait_result": true}));
    let r = dtm.submit(&body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    check(&format!("{d}/submit"), "post", &r);
    let r = dtm.get_with(&format!("{d}/query"), &[("gid", gid)]).await;
    assert_eq!(r.body["transaction"]["status"], "succeed");
    assert_eq!(r.body["branches"].as_array().map(Vec::len), Some(4));
    check(&format!("{d}/query"), "get", &r);
    // Submitting it again is a conflict.
    let r = dtm.submit(&body).await;
    assert_eq!(r.status, 409);
    check(&format!("{d}/submit"), "post", &r);
    // Listing.
    let r = dtm.get(&format!("{d}/all")).await;
    assert_eq!(r.body["transactions"].as_array().map(Vec::len), Some(1));
    check(&format!("{d}/all"), "get", &r);
    let r = dtm.get_with(&format!("{d}/all"), &[("gid", gid)]).await;
    check(&format!("{d}/all"), "get", &r);
    let r = dtm.get_with(&format!("{d}/all"), &[("limit", "x")]).await;
    assert_eq!(r.status, 400);
    check(&format!("{d}/all"), "get", &r);
    let r = dtm.get(&format!("{d}/resetCronTime")).await;
    check(&format!("{d}/resetCronTime"), "get", &r);
    let r = dtm
        .post(&format!("{d}/resetNextCronTime"), &json!({"gid": gid}))
        .await;
    check(&format!("{d}/resetNextCronTime"), "post", &r);

    // Unknown gids.
    let r = dtm
        .get_with(&format!("{d}/query"), &[("gid", "openapi-none")])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"transaction": null, "branches": []}));
    check(&format!("{d}/query"), "get", &r);
    let r = dtm.force_stop("openapi-none").await;
    assert_eq!(r.status, 500);
    check(&format!("{d}/forceStop"), "post", &r);
    let r = dtm.abort(&global("openapi-none", "tcc", json!({}))).await;
    assert_eq!(r.status, 500);
    check(&format!("{d}/abort"), "post", &r);

    // Bad input.
    let r = dtm.post_raw(&format!("{d}/submit"), r#"{"gid":"#).await;
    assert_eq!(r.status, 500);
    check(&format!("{d}/submit"), "post", &r);
    let r = dtm.post_raw(&format!("{d}/prepare"), r#"{"gid":7}"#).await;
    assert_eq!(r.status, 500);
    check(&format!("{d}/prepare"), "post", &r);
    let r = dtm.submit(&global("openapi-bad", "nope", json!({}))).await;
    assert_eq!(r.status, 400);
    check(&format!("{d}/submit"), "post", &r);
    let r = dtm
        .register_branch(&json!({"gid": "g", "branch_id": 1, "trans_type": "tcc"}))
        .await;
    assert_eq!(r.status, 400);
    check(&format!("{d}/registerBranch"), "post", &r);
    let r = dtm.get(&format!("{d}/query")).await;
    assert_eq!(r.status, 500);
    check(&format!("{d}/query"), "get", &r);

    // A TCC: prepare, register (twice), abort.
    let tcc = "openapi-tcc";
    let r = dtm.prepare(&global(tcc, "tcc", json!({}))).await;
    check(&format!("{d}/prepare"), "post", &r);
    let branch = json!({"gid": tcc, "trans_type": "tcc", "branch_id": "01", "data": "{}",
        "confirm": busi.url("Confirm"), "cancel": busi.url("Cancel")});
    for route in ["registerBranch", "registerTccBranch"] {
        let r = dtm.post(&format!("{d}/{route}"), &branch).await;
        check(&format!("{d}/{route}"), "post", &r);
    }
    let r = dtm.post(&format!("{d}/registerBranch"), &branch).await;
    assert_eq!(r.status, 500, "a duplicate branch is DTM's 500");
    let r = dtm
        .abort(&global(tcc, "tcc", json!({"rollback_reason": "test"})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    check(&format!("{d}/abort"), "post", &r);
    dtm.wait_status(tcc, "failed", PROMPT).await;
    let r = dtm.get_with(&format!("{d}/query"), &[("gid", tcc)]).await;
    check(&format!("{d}/query"), "get", &r);
    let r = dtm.force_stop(tcc).await;
    assert_eq!(r.status, 409);
    check(&format!("{d}/forceStop"), "post", &r);

    // A workflow with a progress row.
    let wf = "openapi-wf";
    let body = global(
        wf,
        "workflow",
        json!({"custom_data": "{\"name\":\"w\",\"data\":\"\"}"}),
    );
    let r = dtm.post(&format!("{d}/prepareWorkflow"), &body).await;
    check(&format!("{d}/prepareWorkflow"), "post", &r);
    let progress = json!({"gid": wf, "trans_type": "workflow", "branch_id": "01",
        "op": "action", "status": "succeed", "data": "x"});
    let r = dtm.post(&format!("{d}/registerXaBranch"), &progress).await;
    check(&format!("{d}/registerXaBranch"), "post", &r);
    let r = dtm.post(&format!("{d}/prepareWorkflow"), &body).await;
    assert_eq!(r.body["progresses"].as_array().map(Vec::len), Some(1));
    check(&format!("{d}/prepareWorkflow"), "post", &r);

    // Topics and the KV table.
    let sub_url = busi.url("Sub");
    let sub = [("topic", "openapi-topic"), ("url", sub_url.as_str())];
    let r = dtm.get_with(&format!("{d}/subscribe"), &sub).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    check(&format!("{d}/subscribe"), "get", &r);
    let r = dtm.get_with(&format!("{d}/subscribe"), &sub).await;
    assert_eq!(r.status, 500, "a duplicate subscriber is DTM's 500");
    check(&format!("{d}/subscribe"), "get", &r);
    let r = dtm
        .get_with(&format!("{d}/queryKV"), &[("cat", "topics")])
        .await;
    assert_eq!(r.body["kv"].as_array().map(Vec::len), Some(1));
    check(&format!("{d}/queryKV"), "get", &r);
    let r = dtm
        .get_with(&format!("{d}/scanKV"), &[("cat", "topics")])
        .await;
    check(&format!("{d}/scanKV"), "get", &r);
    let r = dtm.get_with(&format!("{d}/unsubscribe"), &sub).await;
    check(&format!("{d}/unsubscribe"), "get", &r);
    let r = dtm.get_with(&format!("{d}/unsubscribe"), &sub).await;
    assert_eq!(r.status, 500);
    check(&format!("{d}/unsubscribe"), "get", &r);
    let r = dtm.delete(&format!("{d}/topic/openapi-topic")).await;
    check(&format!("{d}/topic/{{name}}"), "delete", &r);

    // JSON-RPC: always 200.
    for body in [
        json!({"jsonrpc": "2.0", "id": "1", "method": "newGid"}),
        json!({"jsonrpc": "2.0", "id": "2", "method": "nope"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "newGid"}),
        json!({"jsonrpc": "2.0", "id": "4", "method": "submit", "params": {"gid": "x"}}),
    ] {
        let r = dtm.json_rpc(&body).await;
        assert_eq!(r.status, 200);
        check("/api/json-rpc", "post", &r);
    }
    let r = dtm.post_raw("/api/json-rpc", "not json").await;
    check("/api/json-rpc", "post", &r);

    assert!(dtm.ping().await);
}
