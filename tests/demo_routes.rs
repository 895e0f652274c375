//! The demo routes over HTTP: absent unless CHATSDK_DEMO is on; when on, the page is served
//! from the binary and `/demo/token` issues tokens of the `demo` app only.

use crate::common;
use crate::common::{TestApp, assert_error, jwt_claims, repo_path};
use serde_json::{Value, json};

async fn post_demo_token(app: &TestApp, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}/demo/token", app.base))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn without_chatsdk_demo_the_page_and_the_token_route_are_404() {
    let app = TestApp::start().await;

    for path in [
        "/demo",
        "/demo/",
        "/demo/app.js",
        "/demo/vendor/centrifuge.js",
    ] {
        let res = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_error(res, 404, "not_found").await;
    }
    let res = post_demo_token(&app, &json!({"userId": "alice"})).await;
    assert_error(res, 404, "not_found").await;
    assert_eq!(app.count_users(), 0);
}

#[actix_web::test]
async fn the_page_and_its_assets_are_served_from_the_binary() {
    let app = TestApp::start_with(|a| a.demo = true).await;

    let page = app.get("/demo").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        csp.contains(&format!(
            "connect-src 'self' {};",
            app.config.centrifugo_ws_url.expose()
        )),
        "{csp}"
    );
    assert!(page.text().await.unwrap().contains("/demo/app.js"));

    for (path, file, content_type) in [
        ("/demo/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/demo/style.css", "style.css", "text/css; charset=utf-8"),
        (
            "/demo/vendor/centrifuge.js",
            "vendor/centrifuge.js",
            "text/javascript; charset=utf-8",
        ),
    ] {
        let res = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], content_type, "{path}");
        let expected = std::fs::read(repo_path(&format!("examples/web/{file}"))).unwrap();
        assert_eq!(res.bytes().await.unwrap(), expected, "{path}");
    }
    let res = app
        .http
        .post(format!("{}/demo", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    assert_error(res, 405, "method_not_allowed").await;
}

#[actix_web::test]
async fn the_demo_token_route_issues_tokens_of_the_demo_app_with_the_websocket_url() {
    let app = TestApp::start_with(|a| a.demo = true).await;

    let res = post_demo_token(&app, &json!({"userId": "alice", "name": "Alice"})).await;

    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["centrifugoUrl"], app.config.centrifugo_ws_url.expose());
    assert_eq!(body["user"]["id"], "alice");
    assert_eq!(body["user"]["name"], "Alice");
    assert!(body["expiresIn"].as_u64().unwrap() > 0);
    assert_eq!(jwt_claims(body["token"].as_str().unwrap())["app"], "demo");
    let me = app.get_me(body["token"].as_str().unwrap()).await;
    assert_eq!(me.status(), 200);
    let ws =
        common::official_client_connect(&app.ws_url(), body["wsToken"].as_str().unwrap()).await;
    assert_eq!(ws["connected"], true, "{ws}");
    let apps = app.cli_json(&["app", "list"]);
    assert!(apps.to_string().contains("\"demo\""), "{apps}");
}

#[actix_web::test]
async fn a_user_and_password_in_the_websocket_url_never_reach_the_demo_page() {
    let app = TestApp::start_with(|a| {
        a.demo = true;
        a.centrifugo_ws_url =
            chatsdk::secret::ServiceUrl::new("ws://u:wspass@127.0.0.1:8000/connection/websocket");
    })
    .await;

    let page = app.get("/demo").await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(" ws://127.0.0.1:8000/connection/websocket;"),
        "{csp}"
    );
    let body: Value = post_demo_token(&app, &json!({"userId": "alice"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["centrifugoUrl"],
        "ws://127.0.0.1:8000/connection/websocket"
    );
    assert!(!format!("{csp} {body}").contains("wspass"));
}

#[actix_web::test]
async fn a_demo_user_never_sees_another_apps_data() {
    let app = TestApp::start_with(|a| a.demo = true).await;
    // The test app (with an API key) has an alice in a channel.
    let res = app
        .http
        .post(format!("{}/api/channels", app.base))
        .header("X-API-Key", &app.api_key)
        .json(&json!({"id": "secret-room", "members": ["alice"], "userId": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let demo: Value = post_demo_token(&app, &json!({"userId": "alice"}))
        .await
        .json()
        .await
        .unwrap();
    let token = demo["token"].as_str().unwrap();

    let list: Value = app
        .http
        .get(format!("{}/api/channels", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["channels"], json!([]), "{list}");
    let res = app
        .http
        .get(format!("{}/api/channels/secret-room/messages", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "channel_not_found").await;
}

#[actix_web::test]
async fn the_demo_token_route_checks_its_body_and_is_rate_limited_like_a_key() {
    let app = TestApp::start_with(|a| {
        a.demo = true;
        a.rate_limits.rate_limit_key = "3/min".parse().unwrap();
    })
    .await;

    let res = post_demo_token(&app, &json!({"userId": ""})).await;
    assert_error(res, 400, "invalid_request").await;
    let res = post_demo_token(&app, &json!({"userId": "a", "appId": "app_other"})).await;
    assert_error(res, 400, "invalid_request").await;
    let res = post_demo_token(&app, &json!({"userId": "bob"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");

    let res = post_demo_token(&app, &json!({"userId": "bob"})).await;
    assert_error(res, 429, "rate_limited").await;
}
