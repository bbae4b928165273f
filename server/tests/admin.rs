//! The admin console's page: where it is served (`AdminBasePath`) and how.

mod common;

use common::*;

async fn get_page(dtm: &Dtmx, path: &str) -> (u16, String, String) {
    let r = reqwest::get(format!("{}{path}", dtm.base))
        .await
        .expect("get page");
    let status = r.status().as_u16();
    let csp = r
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, csp, r.text().await.unwrap_or_default())
}

#[tokio::test]
async fn served_at_the_root_by_default() {
    let dtm = Dtmx::start().await;
    for path in ["/", "/admin", "/admin/", "/admin/trans/g1"] {
        let (status, csp, body) = get_page(&dtm, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("<title>dtmx admin</title>"), "{path}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
    }
    assert_eq!(dtm.get("/api/dtmsvr/nope").await.status, 404);
}

#[tokio::test]
async fn served_under_the_admin_base_path() {
    let dtm = Dtmx::start_with_env(&[("ADMIN_BASE_PATH", "/ops/")]).await;
    for path in ["/ops", "/ops/", "/ops/admin/x"] {
        assert_eq!(get_page(&dtm, path).await.0, 200, "{path}");
    }
    assert_eq!(get_page(&dtm, "/").await.0, 404);
    assert!(dtm.ping().await);
}

#[tokio::test]
async fn console_paths_count_as_one_api_in_the_metrics() {
    let dtm = Dtmx::start().await;
    for path in ["/admin/made-up-1", "/admin/made-up-2", "/"] {
        assert_eq!(get_page(&dtm, path).await.0, 200, "{path}");
    }
    let text = reqwest::get(format!("{}/api/metrics", dtm.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        text.contains(r#"api="admin""#),
        "console requests are counted as admin"
    );
    assert!(
        !text.contains("made-up"),
        "no series per made-up path:\n{text}"
    );
}
