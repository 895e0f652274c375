//! CORS: off by default; when enabled, only for bearer-token use of `/api`.

use crate::common::TestApp;
use reqwest::Method;

const ORIGIN: &str = "http://localhost:3000";

async fn preflight(app: &TestApp, path: &str, origin: &str, headers: &str) -> reqwest::Response {
    preflight_for(app, "POST", path, origin, headers).await
}

async fn preflight_for(
    app: &TestApp,
    method: &str,
    path: &str,
    origin: &str,
    headers: &str,
) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, format!("{}{path}", app.base))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", headers)
        .send()
        .await
        .unwrap()
}

fn allow_origin(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string())
}

#[actix_web::test]
async fn cors_is_off_by_default() {
    let app = TestApp::start().await;
    let res = preflight(&app, "/api/channels", ORIGIN, "authorization,content-type").await;
    assert_eq!(allow_origin(&res), None);
    let token = app.tokens_for("alice").await;
    let res = app
        .http
        .get(format!("{}/api/me", app.base))
        .header("Origin", ORIGIN)
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(allow_origin(&res), None);
}

#[actix_web::test]
async fn an_allowed_origin_may_call_api_with_a_bearer_token() {
    let app = TestApp::start_with(|a| a.cors_origins = vec![ORIGIN.into()]).await;

    let res = preflight(&app, "/api/channels", ORIGIN, "authorization,content-type").await;

    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(allow_origin(&res).as_deref(), Some(ORIGIN));
    // Every method the API answers passes a preflight, HEAD included.
    for method in ["GET", "HEAD", "PATCH", "PUT", "DELETE"] {
        let res = preflight_for(&app, method, "/api/me", ORIGIN, "authorization").await;
        assert!(res.status().is_success(), "{method}: {}", res.status());
        assert_eq!(allow_origin(&res).as_deref(), Some(ORIGIN), "{method}");
    }
    let token = app.tokens_for("alice").await;
    let res = app
        .http
        .get(format!("{}/api/me", app.base))
        .header("Origin", ORIGIN)
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(allow_origin(&res).as_deref(), Some(ORIGIN));
}

#[actix_web::test]
async fn a_preflight_asking_for_the_api_key_header_is_refused() {
    let app = TestApp::start_with(|a| a.cors_origins = vec![ORIGIN.into()]).await;

    let res = preflight(&app, "/api/channels", ORIGIN, "x-api-key,content-type").await;

    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(allow_origin(&res), None);
}

#[actix_web::test]
async fn other_origins_get_no_cors_headers() {
    let app = TestApp::start_with(|a| a.cors_origins = vec![ORIGIN.into()]).await;
    let res = preflight(
        &app,
        "/api/channels",
        "https://evil.example",
        "authorization",
    )
    .await;
    assert_eq!(allow_origin(&res), None);
}

#[actix_web::test]
async fn tokens_never_sends_cors_headers() {
    let app = TestApp::start_with(|a| a.cors_origins = vec![ORIGIN.into()]).await;

    let res = preflight(&app, "/tokens", ORIGIN, "x-api-key,content-type").await;
    assert_eq!(allow_origin(&res), None);
    let res = app
        .http
        .post(format!("{}/tokens", app.base))
        .header("Origin", ORIGIN)
        .header("X-API-Key", &app.api_key)
        .json(&serde_json::json!({"userId": "u"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(allow_origin(&res), None);
}
