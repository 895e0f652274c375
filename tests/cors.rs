//! CORS: off by default; when enabled, only for bearer-token use of `/api`.

use crate::common::{TestApp, assert_error};
use reqwest::Method;
use serde_json::json;

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
    let app = TestApp::start_with(|a| a.client.cors_origins = vec![ORIGIN.into()]).await;

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
    let app = TestApp::start_with(|a| a.client.cors_origins = vec![ORIGIN.into()]).await;

    let res = preflight(&app, "/api/channels", ORIGIN, "x-api-key,content-type").await;

    assert_eq!(allow_origin(&res), None);
    // In our error shape, naming the header rule (seen in the browser's network tab).
    let message = assert_error(res, 400, "invalid_request").await;
    assert!(message.contains("X-API-Key"), "{message}");
}

#[actix_web::test]
async fn other_origins_get_no_cors_headers() {
    let app = TestApp::start_with(|a| a.client.cors_origins = vec![ORIGIN.into()]).await;
    let res = preflight(
        &app,
        "/api/channels",
        "https://evil.example",
        "authorization",
    )
    .await;
    assert_eq!(allow_origin(&res), None);
    let message = assert_error(res, 400, "invalid_request").await;
    assert!(message.contains("CHATSDK_CORS_ORIGINS"), "{message}");
}

#[actix_web::test]
async fn tokens_never_sends_cors_headers() {
    let app = TestApp::start_with(|a| a.client.cors_origins = vec![ORIGIN.into()]).await;

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

#[actix_web::test]
async fn refusals_before_the_handler_carry_cors_headers_so_a_browser_can_read_their_code() {
    let app = TestApp::start_with(|a| {
        a.client.cors_origins = vec![ORIGIN.into()];
        a.rate_limits.rate_limit_user_writes = "1/min".parse().unwrap();
    })
    .await;
    let alice = app.tokens_for("alice").await;
    let token = alice["token"].as_str().unwrap();
    let from_browser = |method: Method, path: &str, token: &str| {
        app.http
            .request(method, format!("{}{path}", app.base))
            .header("Origin", ORIGIN)
            .bearer_auth(token)
    };
    let check = async |res: reqwest::Response, status: u16, code: &str| {
        let origin = allow_origin(&res);
        let exposed = res
            .headers()
            .get("access-control-expose-headers")
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
            .unwrap_or_default();
        assert_error(res, status, code).await;
        assert_eq!(origin.as_deref(), Some(ORIGIN), "{code}");
        // A page reads these only when they are exposed.
        for header in ["retry-after", "x-ratelimit-reset", "x-request-id"] {
            assert!(
                exposed.contains(header),
                "{code}: {header} not in {exposed:?}"
            );
        }
    };

    // The auth middleware refuses: a token that is not one.
    let res = from_browser(Method::GET, "/api/me", "not-a-token")
        .send()
        .await;
    check(res.unwrap(), 401, "invalid_token").await;
    // The per-user write limit refuses (its middleware sits inside the auth one).
    let create =
        |id: &str| from_browser(Method::POST, "/api/channels", token).json(&json!({"id": id}));
    assert_eq!(create("one").send().await.unwrap().status(), 201);
    check(create("two").send().await.unwrap(), 429, "rate_limited").await;
    // A revoked token, through the handler (which reads the database)…
    app.revoke_tokens("alice").await;
    let res = from_browser(Method::GET, "/api/me", token).send().await;
    check(res.unwrap(), 401, "token_revoked").await;
    // …and judged by the middleware after a handler refused the body without one.
    let res = from_browser(Method::POST, "/api/subscription-token", token)
        .header("Content-Type", "application/json")
        .body("{")
        .send()
        .await;
    check(res.unwrap(), 401, "token_revoked").await;
}
