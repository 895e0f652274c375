//! Rate limits against a real server: per API key, per user on chat writes, per client IP
//! on failed authentication, X-Forwarded-For only from trusted proxies, and `off`.

use crate::common::{TestApp, assert_error};
use chatsdk::config::RateLimitMode;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::time::Duration;

/// The X-RateLimit-* headers of a response as (limit, remaining, reset), if present.
fn quota(res: &Response) -> Option<(u64, u64, u64)> {
    let get = |name: &str| -> Option<u64> { res.headers().get(name)?.to_str().ok()?.parse().ok() };
    Some((
        get("x-ratelimit-limit")?,
        get("x-ratelimit-remaining")?,
        get("x-ratelimit-reset")?,
    ))
}

fn retry_after(res: &Response) -> Option<u64> {
    res.headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Asserts a 429 `rate_limited` with Retry-After and the X-RateLimit-* headers; returns
/// the seconds to wait.
async fn assert_rate_limited(res: Response, limit: u64) -> u64 {
    let (got_limit, remaining, reset) = quota(&res).expect("X-RateLimit-* headers on a 429");
    let wait = retry_after(&res).expect("Retry-After on a 429");
    assert_eq!((got_limit, remaining), (limit, 0));
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert_eq!(wait, reset, "Retry-After and X-RateLimit-Reset agree");
    let message = assert_error(res, 429, "rate_limited").await;
    assert!(message.contains("retry in"), "{message}");
    wait
}

async fn tokens_with_key(app: &TestApp, key: &str, user: &str, xff: Option<&str>) -> Response {
    let mut req = app
        .http
        .post(format!("{}/tokens", app.base))
        .header("X-API-Key", key)
        .json(&json!({ "userId": user }));
    if let Some(xff) = xff {
        req = req.header("X-Forwarded-For", xff);
    }
    req.send().await.unwrap()
}

async fn token(app: &TestApp, user: &str) -> String {
    app.tokens_for(user).await["token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn as_user(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let mut req = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn send(app: &TestApp, token: &str, text: &str) -> Response {
    as_user(
        app,
        token,
        Method::POST,
        "/api/channels/room/messages",
        Some(json!({ "text": text })),
    )
    .await
}

/// alice's and bob's tokens, in a channel `room` of alice's with bob in it, made by the
/// backend (its key's budget, not alice's).
async fn room(app: &TestApp) -> (String, String) {
    let (alice, bob) = (token(app, "alice").await, token(app, "bob").await);
    let res = app
        .http
        .post(format!("{}/api/channels", app.base))
        .header("X-API-Key", &app.api_key)
        .json(&json!({"id": "room", "userId": "alice", "members": ["bob"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    (alice, bob)
}

#[actix_web::test]
async fn an_api_key_over_its_limit_gets_429_then_recovers_after_the_window() {
    let app = TestApp::start_with(|a| a.rate_limits.rate_limit_key = "3/2s".parse().unwrap()).await;

    let mut remaining = Vec::new();
    for _ in 0..3 {
        let res = app.post_tokens(&json!({"userId": "alice"})).await;
        assert_eq!(res.status(), 200);
        let (limit, left, reset) = quota(&res).expect("X-RateLimit-* on a success");
        assert_eq!(limit, 3);
        assert!((1..=2).contains(&reset), "reset {reset}");
        remaining.push(left);
    }
    let refused = app.post_tokens(&json!({"userId": "alice"})).await;
    let wait = assert_rate_limited(refused, 3).await;

    assert_eq!(remaining, [2, 1, 0]);
    tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(100)).await;
    let again = app.post_tokens(&json!({"userId": "alice"})).await;
    assert_eq!(again.status(), 200);
    assert_eq!(quota(&again).map(|q| q.1), Some(2));
}

#[actix_web::test]
async fn the_key_limit_also_covers_api_calls_made_with_the_key() {
    let app =
        TestApp::start_with(|a| a.rate_limits.rate_limit_key = "2/min".parse().unwrap()).await;
    let me = || {
        app.http
            .get(format!("{}/api/me?userId=alice", app.base))
            .header("X-API-Key", &app.api_key)
            .send()
    };

    let first = app.post_tokens(&json!({"userId": "alice"})).await;
    let second = me().await.unwrap();
    let third = me().await.unwrap();

    assert_eq!(quota(&first).map(|q| q.1), Some(1));
    assert_eq!(second.status(), 200);
    assert_eq!(quota(&second).map(|q| q.1), Some(0));
    assert_rate_limited(third, 2).await;
}

#[actix_web::test]
async fn message_sends_are_limited_per_user_and_another_user_is_unaffected() {
    let app =
        TestApp::start_with(|a| a.rate_limits.rate_limit_user_writes = "2/min".parse().unwrap())
            .await;
    let (alice, bob) = room(&app).await;

    let first = send(&app, &alice, "one").await;
    let second = send(&app, &alice, "two").await;
    let third = send(&app, &alice, "three").await;
    let bobs = send(&app, &bob, "mine").await;
    let alice_reads = as_user(
        &app,
        &alice,
        Method::GET,
        "/api/channels/room/messages",
        None,
    )
    .await;

    assert_eq!(first.status(), 201);
    let (limit, remaining, reset) = quota(&first).expect("X-RateLimit-* on a send");
    assert_eq!((limit, remaining), (2, 1));
    assert!((1..=60).contains(&reset));
    assert_eq!(second.status(), 201);
    assert_rate_limited(third, 2).await;
    assert_eq!(bobs.status(), 201);
    assert_eq!(quota(&bobs).map(|q| q.1), Some(1), "bob has his own budget");
    assert_eq!(alice_reads.status(), 200, "reading is not a write");
    assert_eq!(quota(&alice_reads), None);
}

/// Channel and member changes cost rows and events like a message does: one budget.
#[actix_web::test]
async fn channel_and_member_changes_share_the_write_budget() {
    let app =
        TestApp::start_with(|a| a.rate_limits.rate_limit_user_writes = "3/min".parse().unwrap())
            .await;
    let alice = token(&app, "alice").await;

    let create = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "c1", "members": ["bob", "carol"]})),
    )
    .await;
    let add = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/c1/members",
        Some(json!({"userIds": ["dave"]})),
    )
    .await;
    let remove = as_user(
        &app,
        &alice,
        Method::DELETE,
        "/api/channels/c1/members/dave",
        None,
    )
    .await;
    let direct = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/direct",
        Some(json!({"userId": "bob"})),
    )
    .await;
    let listed = as_user(&app, &alice, Method::GET, "/api/channels", None).await;

    assert_eq!(create.status(), 201);
    assert_eq!(quota(&create).map(|q| q.1), Some(2));
    assert_eq!(add.status().as_u16(), 200, "add member");
    assert_eq!(remove.status().as_u16(), 204, "remove member");
    assert_rate_limited(direct, 3).await;
    assert_eq!(listed.status(), 200, "reading is not a write");
    let page: Value = listed.json().await.unwrap();
    assert_eq!(
        page["channels"].as_array().unwrap().len(),
        1,
        "no direct channel made"
    );
}

#[actix_web::test]
async fn a_method_the_route_does_not_answer_gets_405_and_costs_no_write() {
    let app =
        TestApp::start_with(|a| a.rate_limits.rate_limit_user_writes = "2/min".parse().unwrap())
            .await;
    let alice = token(&app, "alice").await;

    for method in [Method::PUT, Method::PUT, Method::DELETE] {
        let res = as_user(&app, &alice, method, "/api/channels", None).await;
        assert_eq!(quota(&res), None, "a 405 says nothing of the budget");
        assert_error(res, 405, "method_not_allowed").await;
    }
    let first = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "c1"})),
    )
    .await;
    assert_eq!(first.status(), 201);
    assert_eq!(
        quota(&first).map(|q| q.1),
        Some(1),
        "the first write of two"
    );
}

/// Every other write route counts too: each gets its 429 once the budget is spent.
#[actix_web::test]
async fn every_chat_write_route_counts_against_the_write_budget() {
    let app =
        TestApp::start_with(|a| a.rate_limits.rate_limit_user_writes = "1/min".parse().unwrap())
            .await;
    let (alice, _bob) = room(&app).await;
    let sent: Value = app
        .http
        .post(format!("{}/api/channels/room/messages", app.base))
        .header("X-API-Key", &app.api_key)
        .json(&json!({"userId": "alice", "text": "hi"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message = format!(
        "/api/channels/room/messages/{}",
        sent["id"].as_str().unwrap()
    );
    // Spend alice's one write.
    let first = as_user(
        &app,
        &alice,
        Method::PATCH,
        "/api/channels/room",
        Some(json!({"name": "r"})),
    )
    .await;
    assert_eq!(first.status(), 200);

    for (method, path, body) in [
        (
            Method::PATCH,
            "/api/channels/room".to_string(),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, "/api/channels/room".to_string(), None),
        (
            Method::PATCH,
            message.clone(),
            Some(json!({"text": "edited"})),
        ),
        (Method::DELETE, message.clone(), None),
        (
            Method::POST,
            "/api/channels/room/messages".to_string(),
            Some(json!({"text": "x"})),
        ),
        (Method::PUT, format!("{message}/reactions/ok"), None),
        (
            Method::POST,
            "/api/channels/room/members".to_string(),
            Some(json!({"userIds": ["dave"]})),
        ),
        (
            Method::DELETE,
            "/api/channels/room/members/bob".to_string(),
            None,
        ),
        (
            Method::POST,
            "/api/channels".to_string(),
            Some(json!({"id": "c2"})),
        ),
        (
            Method::POST,
            "/api/channels/direct".to_string(),
            Some(json!({"userId": "bob"})),
        ),
    ] {
        let res = as_user(&app, &alice, method.clone(), &path, body).await;
        assert_eq!(res.status().as_u16(), 429, "{method} {path}");
    }
}

#[actix_web::test]
async fn reactions_share_the_write_budget_and_typing_has_its_own() {
    let app = TestApp::start_with(|a| {
        a.rate_limits.rate_limit_user_writes = "2/min".parse().unwrap();
        a.rate_limits.rate_limit_typing = "1/min".parse().unwrap();
    })
    .await;
    let (alice, _bob) = room(&app).await;
    let sent: Value = send(&app, &alice, "react to me")
        .await
        .json()
        .await
        .unwrap();
    let reaction = format!(
        "/api/channels/room/messages/{}/reactions/ok",
        sent["id"].as_str().unwrap()
    );

    let react = as_user(&app, &alice, Method::PUT, &reaction, None).await;
    let react_again = as_user(&app, &alice, Method::DELETE, &reaction, None).await;
    let typing = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/room/typing",
        None,
    )
    .await;
    let typing_again = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/room/typing",
        None,
    )
    .await;

    assert_eq!(react.status(), 200);
    assert_eq!(quota(&react).map(|q| q.1), Some(0));
    assert_rate_limited(react_again, 2).await;
    assert!(typing.status().is_success(), "typing: {}", typing.status());
    assert_eq!(quota(&typing), Some((1, 0, quota(&typing).unwrap().2)));
    assert_rate_limited(typing_again, 1).await;
}

#[actix_web::test]
async fn failed_authentication_is_limited_per_ip_but_a_valid_key_still_passes() {
    let app =
        TestApp::start_with(|a| a.rate_limits.rate_limit_auth_failures = "3/min".parse().unwrap())
            .await;
    let bad_key = "chatsdk_nope_nope";

    for _ in 0..3 {
        assert_error(
            tokens_with_key(&app, bad_key, "alice", None).await,
            401,
            "invalid_api_key",
        )
        .await;
    }
    let fourth = tokens_with_key(&app, bad_key, "alice", None).await;
    let no_token = app
        .http
        .get(format!("{}/api/me", app.base))
        .send()
        .await
        .unwrap();
    let valid = app.post_tokens(&json!({"userId": "alice"})).await;

    assert_rate_limited(fourth, 3).await;
    assert_rate_limited(no_token, 3).await;
    assert_eq!(
        valid.status(),
        200,
        "a valid key from the same IP is not blocked"
    );
    assert_eq!(
        quota(&valid).map(|q| q.0),
        Some(6000),
        "a success shows the key's budget"
    );
}

#[actix_web::test]
async fn bad_tokens_count_as_failures_and_expired_ones_do_not() {
    let app = TestApp::start_with(|a| {
        a.rate_limits.rate_limit_auth_failures = "2/min".parse().unwrap();
        a.client.token_ttl = 1;
        a.jwt_leeway = 0;
    })
    .await;
    let expired = token(&app, "alice").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;

    for _ in 0..3 {
        assert_error(app.get_me(&expired).await, 401, "token_expired").await;
    }
    assert_error(app.get_me("not.a.token").await, 401, "invalid_token").await;
    assert_error(app.get_me("not.a.token").await, 401, "invalid_token").await;
    assert_rate_limited(app.get_me("not.a.token").await, 2).await;
}

#[actix_web::test]
async fn x_forwarded_for_is_ignored_unless_the_socket_is_a_trusted_proxy() {
    let untrusting =
        TestApp::start_with(|a| a.rate_limits.rate_limit_auth_failures = "1/min".parse().unwrap())
            .await;
    let trusting = TestApp::start_with(|a| {
        a.rate_limits.rate_limit_auth_failures = "1/min".parse().unwrap();
        a.rate_limits.trusted_proxies = "127.0.0.0/8".parse().unwrap();
    })
    .await;
    let bad = "chatsdk_nope_nope";

    for app in [&untrusting, &trusting] {
        let first = tokens_with_key(app, bad, "a", Some("203.0.113.1")).await;
        assert_error(first, 401, "invalid_api_key").await;
    }
    let other_client_untrusted = tokens_with_key(&untrusting, bad, "a", Some("203.0.113.2")).await;
    let other_client_trusted = tokens_with_key(&trusting, bad, "a", Some("203.0.113.2")).await;
    let same_client_trusted = tokens_with_key(&trusting, bad, "a", Some("203.0.113.1")).await;
    let spoofed_left_entry =
        tokens_with_key(&trusting, bad, "a", Some("198.51.100.7, 203.0.113.1")).await;

    assert_rate_limited(other_client_untrusted, 1).await;
    assert_error(other_client_trusted, 401, "invalid_api_key").await;
    assert_rate_limited(same_client_trusted, 1).await;
    assert_rate_limited(spoofed_left_entry, 1).await;
}

#[actix_web::test]
async fn off_disables_every_limit_and_every_header() {
    let app = TestApp::start_with(|a| {
        a.rate_limits.mode = RateLimitMode::Off;
        a.rate_limits.rate_limit_key = "1/min".parse().unwrap();
        a.rate_limits.rate_limit_user_writes = "1/min".parse().unwrap();
        a.rate_limits.rate_limit_auth_failures = "1/min".parse().unwrap();
    })
    .await;
    let (alice, _bob) = room(&app).await;

    for i in 0..3 {
        let tokens = app.post_tokens(&json!({"userId": "alice"})).await;
        let sent = send(&app, &alice, &format!("m{i}")).await;
        let bad = tokens_with_key(&app, "chatsdk_nope_nope", "a", None).await;
        assert_eq!(tokens.status(), 200);
        assert_eq!(sent.status(), 201);
        assert_eq!(quota(&tokens), None);
        assert_eq!(quota(&sent), None);
        assert_error(bad, 401, "invalid_api_key").await;
    }
}

#[actix_web::test]
async fn over_the_write_limit_a_revoked_token_still_gets_the_429_without_a_revocation_read() {
    let app =
        TestApp::start_with(|a| a.rate_limits.rate_limit_user_writes = "1/min".parse().unwrap())
            .await;
    let alice = token(&app, "alice").await;
    let create = |id: &'static str| {
        as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels",
            Some(json!({"id": id})),
        )
    };
    assert_eq!(create("one").await.status(), 201);
    app.revoke_tokens("alice").await;

    // The limiter answers before any handler: its refusal stands as it did before the
    // token was revoked (and stays a cheap answer under load).
    assert_error(create("two").await, 429, "rate_limited").await;
}
