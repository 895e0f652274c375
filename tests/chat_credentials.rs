//! Chat REST API credentials: a token or the app's API key (acting as a user or not),
//! missing, ambiguous or bad ones, against a real server and Centrifugo.

use crate::common::{
    TestApp, assert_error,
    chat::{
        as_key, as_user, call, channel_ids, create_channel, expect, get_channel, page, s, send,
        token,
    },
};
use reqwest::Method;
use serde_json::json;

#[actix_web::test]
async fn a_request_without_credentials_gets_401_missing_token_naming_both_ways_in() {
    let app = TestApp::start().await;

    let res = call(&app, Method::GET, "/api/channels", None, None, None).await;

    let message = assert_error(res, 401, "missing_token").await;
    assert!(
        message.contains("Bearer") && message.contains("X-API-Key"),
        "{message}"
    );
}

#[actix_web::test]
async fn a_request_with_both_a_token_and_a_key_gets_400_ambiguous_credentials() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;

    let res = call(
        &app,
        Method::GET,
        "/api/channels",
        Some(&alice),
        Some(&app.api_key),
        None,
    )
    .await;

    assert_error(res, 400, "ambiguous_credentials").await;
}

#[actix_web::test]
async fn a_credential_header_sent_twice_gets_400_ambiguous_credentials_whichever_is_valid() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let other = app.cli_json(&["app", "create", "--name", "other"])["apiKey"]
        .as_str()
        .unwrap()
        .to_string();
    let twice = |name: &'static str, first: String, second: String, path: &str| {
        app.http
            .get(format!("{}{path}", app.base))
            .header(name, first)
            .header(name, second)
            .send()
    };

    // Either order: the first one used to win, so a proxy's key could lose to the client's.
    for (a, b) in [(&app.api_key, &other), (&other, &app.api_key)] {
        let res = twice("X-API-Key", a.clone(), b.clone(), "/api/me?userId=alice")
            .await
            .unwrap();
        let message = assert_error(res, 400, "ambiguous_credentials").await;
        assert!(message.contains("X-API-Key"), "{message}");
    }
    let bearer = format!("Bearer {alice}");
    for (a, b) in [
        (bearer.clone(), "Bearer x".into()),
        ("Bearer x".into(), bearer),
    ] {
        let res = twice("Authorization", a, b, "/api/me").await.unwrap();
        let message = assert_error(res, 400, "ambiguous_credentials").await;
        assert!(message.contains("Authorization"), "{message}");
    }
    let res = app
        .http
        .post(format!("{}/tokens", app.base))
        .header("X-API-Key", &app.api_key)
        .header("X-API-Key", &app.api_key)
        .json(&json!({"userId": "bob"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "ambiguous_credentials").await;
    // Nothing was done on its behalf.
    expect(
        as_key(&app, Method::GET, "/api/me?userId=bob", None).await,
        404,
    )
    .await;
}

#[actix_web::test]
async fn a_bad_api_key_gets_401_invalid_api_key_even_with_a_bad_body() {
    let app = TestApp::start().await;

    let res = call(
        &app,
        Method::POST,
        "/api/channels",
        None,
        Some("chatsdk_nope"),
        Some(json!({"bogus": true})),
    )
    .await;

    assert_error(res, 401, "invalid_api_key").await;
}

#[actix_web::test]
async fn a_token_caller_naming_a_user_id_in_body_or_query_gets_400() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    let in_body = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "d", "userId": "alice"})),
    )
    .await;
    let in_query = as_user(
        &app,
        &alice,
        Method::GET,
        "/api/channels?userId=alice",
        None,
    )
    .await;
    let in_query_of_a_write = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/c/messages?userId=bob",
        Some(json!({"text": "hi"})),
    )
    .await;

    for res in [in_body, in_query, in_query_of_a_write] {
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains("userId"), "{message}");
    }
    assert_eq!(
        channel_ids(&app, &alice).await,
        ["c"],
        "nothing was created"
    );
    assert_eq!(page(&app, &alice, "c", "").await["messages"], json!([]));
}

#[actix_web::test]
async fn a_key_caller_without_user_id_gets_400_where_a_user_is_needed() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let msg = send(&app, &alice, "c", "hi").await;
    let msg_id = s(&msg["id"]);

    let requests = [
        (Method::GET, "/api/channels".to_string(), None),
        (
            Method::PUT,
            format!("/api/channels/c/messages/{msg_id}/reactions/ok"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/channels/c/messages/{msg_id}/reactions/ok"),
            None,
        ),
        (
            Method::POST,
            "/api/channels/c/read".to_string(),
            Some(json!({"seq": 1})),
        ),
        (
            Method::POST,
            "/api/channels/direct".to_string(),
            Some(json!({"userId": "alice"})),
        ),
    ];

    for (method, path, body) in requests {
        let res = as_key(&app, method.clone(), &path, body).await;
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains("userId"), "{method} {path}: {message}");
    }
}

/// `?userId=a&userId=b` is refused, not read as either: which user to act as would be a
/// guess, and a message would go out under the wrong name.
#[actix_web::test]
async fn a_user_id_given_twice_in_the_query_gets_400_and_sends_nothing() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;

    let res = as_key(
        &app,
        Method::POST,
        "/api/channels/c/messages?userId=alice&userId=bob",
        Some(json!({"text": "who am I?"})),
    )
    .await;

    let message = assert_error(res, 400, "invalid_request").await;
    assert!(message.contains("userId"), "{message}");
    assert_eq!(page(&app, &alice, "c", "").await["messages"], json!([]));
}

/// A query parameter a route does not take is refused, not ignored: a backend's
/// misspelt `?userid=alice` would otherwise send a system message and create channels
/// owned by nobody. The paged lists still take theirs.
#[actix_web::test]
async fn an_unknown_query_parameter_gets_400_naming_it_and_changes_nothing() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    for (method, path, body) in [
        (
            Method::POST,
            "/api/channels/c/messages?userid=alice",
            Some(json!({"text": "hi"})),
        ),
        (
            Method::POST,
            "/api/channels?userid=alice",
            Some(json!({"id": "d"})),
        ),
        (Method::GET, "/api/channels/c?userId=alice&verbose=1", None),
        (Method::DELETE, "/api/channels/c?userid=alice", None),
    ] {
        let res = as_key(&app, method.clone(), path, body).await;
        let message = assert_error(res, 400, "invalid_request").await;
        let key = if path.contains("verbose") {
            "verbose"
        } else {
            "userid"
        };
        assert!(
            message.contains(&format!("`{key}`")),
            "{method} {path}: {message}"
        );
    }
    let res = as_user(&app, &alice, Method::GET, "/api/me?foo=1", None).await;
    assert_error(res, 400, "invalid_request").await;
    let res = as_user(&app, &alice, Method::GET, "/api/me?=x", None).await;
    let message = assert_error(res, 400, "invalid_request").await;
    assert!(message.contains("has no name"), "{message}");
    // Not UTF-8: named as such, not as an unknown parameter.
    let res = as_user(&app, &alice, Method::GET, "/api/me?%FF=1", None).await;
    let message = assert_error(res, 400, "invalid_request").await;
    assert!(message.contains("UTF-8"), "{message}");

    assert_eq!(page(&app, &alice, "c", "").await["messages"], json!([]));
    let channel = as_user(&app, &alice, Method::GET, "/api/channels/d", None).await;
    assert_error(channel, 404, "channel_not_found").await;
    let listed = as_key(
        &app,
        Method::GET,
        "/api/channels?userId=alice&limit=1",
        None,
    )
    .await;
    assert_eq!(expect(listed, 200).await["channels"][0]["id"], "c");
}

#[actix_web::test]
async fn a_key_caller_acting_as_a_user_creates_channels_that_user_owns() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;

    let created = expect(
        as_key(
            &app,
            Method::POST,
            "/api/channels",
            Some(json!({"id": "by-key", "name": "From the backend", "userId": "alice"})),
        )
        .await,
        201,
    )
    .await;

    assert_eq!(created["role"], "owner");
    let seen = expect(get_channel(&app, &alice, "by-key").await, 200).await;
    assert_eq!(seen["role"], "owner");
    assert_eq!(seen["name"], "From the backend");
    assert_eq!(seen["memberCount"], 1);
}

#[actix_web::test]
async fn a_key_callers_unknown_user_id_becomes_a_bare_user() {
    let app = TestApp::start().await;
    assert_eq!(app.count_users(), 0);

    expect(
        as_key(
            &app,
            Method::POST,
            "/api/channels",
            Some(json!({"id": "c", "userId": "newbie"})),
        )
        .await,
        201,
    )
    .await;

    assert_eq!(app.count_users(), 1);
    let failed = as_key(
        &app,
        Method::PUT,
        "/api/channels/nope/messages/m/reactions/x?userId=ghost",
        None,
    )
    .await;
    assert_error(failed, 404, "channel_not_found").await;
    assert_eq!(
        app.count_users(),
        1,
        "a refused request leaves no user behind"
    );
    let body = app.tokens_for("newbie").await;
    assert_eq!(
        body["user"],
        json!({"id": "newbie", "name": null, "image": null, "email": null, "custom": {}})
    );
    let seen = expect(get_channel(&app, s(&body["token"]), "c").await, 200).await;
    assert_eq!(seen["role"], "owner");
}
