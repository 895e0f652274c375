//! The chat REST API (`/api/channels…`): credentials, channels, members, messages,
//! reactions, read marks, typing and subscription tokens, against a real server,
//! a temp SQLite file and a real Centrifugo.

mod common;

use common::{TestApp, assert_error, jwt_claims};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// One `/api` request with any mix of credentials and an optional JSON body.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    key: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.http.request(method, format!("{}{path}", app.base));
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    if let Some(key) = key {
        req = req.header("X-API-Key", key);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

/// A request as the user holding `token`.
async fn as_user(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    call(app, method, path, Some(token), None, body).await
}

/// A request from the app's backend (its API key).
async fn as_key(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    call(app, method, path, None, Some(&app.api_key), body).await
}

/// Requires `status` and returns the JSON body.
async fn expect(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Percent-encodes a path segment or query value: everything but RFC 3986 unreserved.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A REST token for `user_id` (created or updated through `POST /tokens`).
async fn token(app: &TestApp, user_id: &str) -> String {
    app.tokens_for(user_id).await["token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ch(id: &str) -> String {
    format!("/api/channels/{}", enc(id))
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// Creates a group channel as `owner`, requiring 201.
async fn create_channel(app: &TestApp, owner: &str, body: Value) -> Value {
    expect(
        as_user(app, owner, Method::POST, "/api/channels", Some(body)).await,
        201,
    )
    .await
}

/// Sends `text` to channel `id` as the token's user, requiring 201.
async fn send(app: &TestApp, tok: &str, id: &str, text: &str) -> Value {
    expect(
        as_user(
            app,
            tok,
            Method::POST,
            &format!("{}/messages", ch(id)),
            Some(json!({ "text": text })),
        )
        .await,
        201,
    )
    .await
}

async fn get_channel(app: &TestApp, tok: &str, id: &str) -> reqwest::Response {
    as_user(app, tok, Method::GET, &ch(id), None).await
}

/// One page of messages as the token's user.
async fn page(app: &TestApp, tok: &str, id: &str, query: &str) -> Value {
    expect(
        as_user(
            app,
            tok,
            Method::GET,
            &format!("{}/messages{query}", ch(id)),
            None,
        )
        .await,
        200,
    )
    .await
}

fn seqs(page: &Value) -> Vec<i64> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

/// The ids of the caller's channels, in list order (first page of 100).
async fn channel_ids(app: &TestApp, tok: &str) -> Vec<String> {
    let body = expect(
        as_user(app, tok, Method::GET, "/api/channels?limit=100", None).await,
        200,
    )
    .await;
    body["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| s(&c["id"]).to_string())
        .collect()
}

/// A channel "room" owned by alice, with dave as admin and bob and carol as members.
struct Room {
    alice: String,
    bob: String,
    carol: String,
    dave: String,
}

async fn room(app: &TestApp) -> Room {
    let r = Room {
        alice: token(app, "alice").await,
        bob: token(app, "bob").await,
        carol: token(app, "carol").await,
        dave: token(app, "dave").await,
    };
    create_channel(
        app,
        &r.alice,
        json!({"id": "room", "members": ["bob", "carol"]}),
    )
    .await;
    expect(
        as_user(
            app,
            &r.alice,
            Method::POST,
            "/api/channels/room/members",
            Some(json!({"userIds": ["dave"], "role": "admin"})),
        )
        .await,
        200,
    )
    .await;
    r
}

// ---------------------------------------------------------------------------------------
// 1. Credentials
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// 2. Channels
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn creating_a_channel_with_an_id_keeps_it_and_without_one_makes_one() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;

    let named = create_channel(
        &app,
        &alice,
        json!({"id": "general", "name": "General", "custom": {"topic": "all"}, "members": ["bob"]}),
    )
    .await;
    let unnamed = create_channel(&app, &alice, json!({})).await;

    assert_eq!(named["id"], "general");
    assert_eq!(named["name"], "General");
    assert_eq!(named["custom"], json!({"topic": "all"}));
    assert_eq!(named["type"], "group");
    assert_eq!(named["role"], "owner");
    assert_eq!(named["memberCount"], 2);
    assert_eq!(named["lastSeq"], 0);
    assert_eq!(named["unreadCount"], 0);
    assert_eq!(named["lastMessage"], Value::Null);
    assert!(s(&named["realtimeChannel"]).starts_with("chat:"));
    assert!(!s(&unnamed["id"]).is_empty());
    assert_ne!(unnamed["id"], named["id"]);
    assert_ne!(unnamed["realtimeChannel"], named["realtimeChannel"]);
    let fetched = expect(get_channel(&app, &alice, s(&unnamed["id"])).await, 200).await;
    assert_eq!(fetched["id"], unnamed["id"]);
}

#[actix_web::test]
async fn retrying_a_create_as_a_member_answers_200_with_the_same_channel() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;
    let first = create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;

    let again = expect(
        as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels",
            Some(json!({"id": "c", "name": "other"})),
        )
        .await,
        200,
    )
    .await;
    let by_member = expect(
        as_user(
            &app,
            &bob,
            Method::POST,
            "/api/channels",
            Some(json!({"id": "c"})),
        )
        .await,
        200,
    )
    .await;

    assert_eq!(again["realtimeChannel"], first["realtimeChannel"]);
    assert_eq!(again["name"], Value::Null, "a retry changes nothing");
    assert_eq!(by_member["realtimeChannel"], first["realtimeChannel"]);
    assert_eq!(by_member["role"], "member");
}

#[actix_web::test]
async fn creating_an_existing_id_as_a_non_member_gets_409_channel_exists() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let mallory = token(&app, "mallory").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    let res = as_user(
        &app,
        &mallory,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "c"})),
    )
    .await;

    assert_error(res, 409, "channel_exists").await;
    assert_error(
        get_channel(&app, &mallory, "c").await,
        404,
        "channel_not_found",
    )
    .await;
}

#[actix_web::test]
async fn a_non_member_gets_the_same_404_as_for_a_channel_that_does_not_exist() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let mallory = token(&app, "mallory").await;
    create_channel(&app, &alice, json!({"id": "secret"})).await;

    let hidden = get_channel(&app, &mallory, "secret").await;
    let missing = get_channel(&app, &mallory, "no-such-channel").await;

    let hidden_message = assert_error(hidden, 404, "channel_not_found").await;
    let missing_message = assert_error(missing, 404, "channel_not_found").await;
    assert_eq!(hidden_message, missing_message);
    for (method, path, body) in [
        (Method::GET, "/api/channels/secret/messages", None),
        (Method::GET, "/api/channels/secret/members", None),
        (
            Method::POST,
            "/api/channels/secret/messages",
            Some(json!({"text": "let me in"})),
        ),
        (
            Method::PATCH,
            "/api/channels/secret",
            Some(json!({"name": "mine"})),
        ),
        (Method::DELETE, "/api/channels/secret", None),
    ] {
        let res = as_user(&app, &mallory, method, path, body).await;
        assert_error(res, 404, "channel_not_found").await;
    }
}

#[actix_web::test]
async fn another_apps_channel_is_invisible_and_its_id_is_free_there() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "shared-name", "name": "A's"})).await;
    let other = app.cli_json(&["app", "create", "--name", "other"]);
    let other_key = s(&other["apiKey"]).to_string();
    let other_alice: Value = app
        .post_tokens_with_key(&other_key, &json!({"userId": "alice"}))
        .await
        .json()
        .await
        .unwrap();
    let other_alice = s(&other_alice["token"]).to_string();

    let by_token = get_channel(&app, &other_alice, "shared-name").await;
    let by_key = call(
        &app,
        Method::GET,
        "/api/channels/shared-name",
        None,
        Some(&other_key),
        None,
    )
    .await;
    let created_there = as_user(
        &app,
        &other_alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "shared-name", "name": "B's"})),
    )
    .await;

    assert_error(by_token, 404, "channel_not_found").await;
    assert_error(by_key, 404, "channel_not_found").await;
    let created_there = expect(created_there, 201).await;
    assert_eq!(created_there["name"], "B's");
    let still_ours = expect(get_channel(&app, &alice, "shared-name").await, 200).await;
    assert_eq!(still_ours["name"], "A's");
    assert_ne!(
        still_ours["realtimeChannel"],
        created_there["realtimeChannel"]
    );
}

#[actix_web::test]
async fn patching_a_channel_takes_an_admin_or_owner_and_merges_custom() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    expect(
        as_user(
            &app,
            &r.alice,
            Method::PATCH,
            "/api/channels/room",
            Some(json!({"name": "Room", "custom": {"a": 1, "b": {"c": 2, "d": 3}}})),
        )
        .await,
        200,
    )
    .await;

    let by_member = as_user(
        &app,
        &r.bob,
        Method::PATCH,
        "/api/channels/room",
        Some(json!({"name": "hijacked"})),
    )
    .await;
    let by_admin = as_user(
        &app,
        &r.dave,
        Method::PATCH,
        "/api/channels/room",
        Some(json!({"custom": {"a": null, "b": {"c": 20}, "e": true}})),
    )
    .await;

    assert_error(by_member, 403, "forbidden").await;
    let patched = expect(by_admin, 200).await;
    assert_eq!(patched["name"], "Room", "absent name is kept");
    assert_eq!(
        patched["custom"],
        json!({"b": {"c": 20, "d": 3}, "e": true})
    );
    let seen = expect(get_channel(&app, &r.bob, "room").await, 200).await;
    assert_eq!(seen["custom"], patched["custom"]);
    assert_eq!(seen["name"], "Room");
}

#[actix_web::test]
async fn only_the_owner_deletes_a_channel_and_then_it_is_gone() {
    let app = TestApp::start().await;
    let r = room(&app).await;

    let by_admin = as_user(&app, &r.dave, Method::DELETE, "/api/channels/room", None).await;
    assert_error(by_admin, 403, "forbidden").await;
    expect(get_channel(&app, &r.bob, "room").await, 200).await;

    let by_owner = as_user(&app, &r.alice, Method::DELETE, "/api/channels/room", None).await;

    assert_eq!(by_owner.status(), 204);
    for tok in [&r.alice, &r.bob, &r.dave] {
        assert_error(
            get_channel(&app, tok, "room").await,
            404,
            "channel_not_found",
        )
        .await;
        assert!(channel_ids(&app, tok).await.is_empty());
    }
}

#[actix_web::test]
async fn the_channel_list_shows_newest_activity_first() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    for id in ["one", "two", "three"] {
        create_channel(&app, &alice, json!({ "id": id })).await;
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(channel_ids(&app, &alice).await, ["three", "two", "one"]);

    let msg = send(&app, &alice, "one", "bump").await;

    assert_eq!(channel_ids(&app, &alice).await, ["one", "three", "two"]);
    let list = expect(
        as_user(&app, &alice, Method::GET, "/api/channels", None).await,
        200,
    )
    .await;
    let first = &list["channels"][0];
    assert_eq!(first["lastMessage"]["id"], msg["id"]);
    assert_eq!(first["role"], "owner");
    assert_eq!(first["unreadCount"], 0);
    assert_eq!(list["nextCursor"], Value::Null);
}

#[actix_web::test]
async fn the_channel_list_pages_through_every_channel_once() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let mut made: Vec<String> = Vec::new();
    for i in 0..11 {
        let c = create_channel(&app, &alice, json!({ "id": format!("c{i}") })).await;
        made.push(s(&c["id"]).to_string());
    }

    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/channels?limit=4&cursor={}", enc(c)),
            None => "/api/channels?limit=4".to_string(),
        };
        let body = expect(as_user(&app, &alice, Method::GET, &path, None).await, 200).await;
        pages += 1;
        let got = body["channels"].as_array().unwrap();
        assert!(got.len() <= 4);
        seen.extend(got.iter().map(|c| s(&c["id"]).to_string()));
        match body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(pages < 10, "the cursor never ends");
    }

    assert_eq!(pages, 3);
    made.reverse();
    assert_eq!(seen, made, "newest first, each exactly once");
}

#[actix_web::test]
async fn a_cursor_the_api_never_gave_gets_400() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    for cursor in ["!!!", "Zm9v", "bm90LmFudW1iZXI"] {
        let res = as_user(
            &app,
            &alice,
            Method::GET,
            &format!("/api/channels?cursor={cursor}"),
            None,
        )
        .await;
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains("cursor"), "{message}");
    }
    for limit in ["0", "101", "-1", "x"] {
        let res = as_user(
            &app,
            &alice,
            Method::GET,
            &format!("/api/channels?limit={limit}"),
            None,
        )
        .await;
        assert_error(res, 400, "invalid_request").await;
    }
}

#[actix_web::test]
async fn a_direct_channel_is_one_per_pair_whoever_starts_it() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;

    let first = expect(
        as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels/direct",
            Some(json!({"userId": "bob"})),
        )
        .await,
        201,
    )
    .await;
    let back = expect(
        as_user(
            &app,
            &bob,
            Method::POST,
            "/api/channels/direct",
            Some(json!({"userId": "alice"})),
        )
        .await,
        200,
    )
    .await;
    let by_key = expect(
        as_key(
            &app,
            Method::POST,
            "/api/channels/direct?userId=alice",
            Some(json!({"userId": "bob"})),
        )
        .await,
        200,
    )
    .await;

    assert_eq!(first["type"], "direct");
    assert_eq!(first["memberCount"], 2);
    assert_eq!(back["id"], first["id"]);
    assert_eq!(by_key["id"], first["id"]);
    assert_eq!(back["realtimeChannel"], first["realtimeChannel"]);
    let with_self = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/direct",
        Some(json!({"userId": "alice"})),
    )
    .await;
    assert_error(with_self, 400, "invalid_request").await;
    assert_eq!(channel_ids(&app, &alice).await, [s(&first["id"])]);
}

#[actix_web::test]
async fn opening_a_direct_channel_again_after_leaving_it_brings_you_back() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    token(&app, "bob").await;
    let open = || {
        as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels/direct",
            Some(json!({"userId": "bob"})),
        )
    };
    let first = expect(open().await, 201).await;
    let id = s(&first["id"]);
    let left = as_user(
        &app,
        &alice,
        Method::DELETE,
        &format!("/api/channels/{id}/members/alice"),
        None,
    )
    .await;
    assert_eq!(left.status(), 204);

    let again = expect(open().await, 200).await;

    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["memberCount"], 2);
    assert_eq!(again["role"], "member");
    assert_eq!(channel_ids(&app, &alice).await, [id]);
}

// ---------------------------------------------------------------------------------------
// 3. Members
// ---------------------------------------------------------------------------------------

async fn add_members(app: &TestApp, tok: &str, channel: &str, body: Value) -> reqwest::Response {
    as_user(
        app,
        tok,
        Method::POST,
        &format!("{}/members", ch(channel)),
        Some(body),
    )
    .await
}

async fn member_roles(app: &TestApp, tok: &str, channel: &str) -> Vec<(String, String)> {
    let body = expect(
        as_user(
            app,
            tok,
            Method::GET,
            &format!("{}/members", ch(channel)),
            None,
        )
        .await,
        200,
    )
    .await;
    let mut out: Vec<(String, String)> = body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (s(&m["user"]["id"]).to_string(), s(&m["role"]).to_string()))
        .collect();
    out.sort();
    out
}

#[actix_web::test]
async fn the_owner_adds_members_and_a_plain_member_may_not() {
    let app = TestApp::start().await;
    let r = room(&app).await;

    let by_owner = add_members(&app, &r.alice, "room", json!({"userIds": ["erin"]})).await;
    let by_member = add_members(&app, &r.bob, "room", json!({"userIds": ["frank"]})).await;

    let added = expect(by_owner, 200).await;
    assert_eq!(added["added"].as_array().unwrap().len(), 1);
    assert_eq!(added["added"][0]["user"]["id"], "erin");
    assert_eq!(added["added"][0]["role"], "member");
    assert_error(by_member, 403, "forbidden").await;
    let roles = member_roles(&app, &r.alice, "room").await;
    assert!(roles.contains(&("erin".into(), "member".into())));
    assert!(!roles.iter().any(|(id, _)| id == "frank"));
}

#[actix_web::test]
async fn granting_admin_takes_an_owner() {
    let app = TestApp::start().await;
    let r = room(&app).await;

    let admin_grants_admin = add_members(
        &app,
        &r.dave,
        "room",
        json!({"userIds": ["erin"], "role": "admin"}),
    )
    .await;
    let admin_adds_member = add_members(&app, &r.dave, "room", json!({"userIds": ["frank"]})).await;
    let owner_grants_admin = add_members(
        &app,
        &r.alice,
        "room",
        json!({"userIds": ["gina"], "role": "admin"}),
    )
    .await;

    assert_error(admin_grants_admin, 403, "forbidden").await;
    expect(admin_adds_member, 200).await;
    let granted = expect(owner_grants_admin, 200).await;
    assert_eq!(granted["added"][0]["role"], "admin");
    let roles = member_roles(&app, &r.alice, "room").await;
    assert!(!roles.iter().any(|(id, _)| id == "erin"));
    assert!(roles.contains(&("frank".into(), "member".into())));
    assert!(roles.contains(&("gina".into(), "admin".into())));
}

#[actix_web::test]
async fn bad_member_requests_get_400_and_add_nobody() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    let many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    let before = app.count_users();

    for (body, field) in [
        (json!({"userIds": ["erin"], "role": "king"}), "role"),
        (json!({"userIds": ["erin"], "role": "Owner"}), "role"),
        (json!({"userIds": many}), "100"),
        (json!({"userIds": []}), "userIds"),
        (json!({"userIds": [""]}), "userIds"),
        (json!({"userIds": ["a\u{0}b"]}), "userIds"),
        (json!({"userIds": "erin"}), "userIds"),
        (json!({}), "userIds"),
    ] {
        let res = add_members(&app, &r.alice, "room", body.clone()).await;
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains(field), "{body}: {message}");
    }

    assert_eq!(app.count_users(), before);
    assert_eq!(member_roles(&app, &r.alice, "room").await.len(), 4);
}

#[actix_web::test]
async fn adding_someone_twice_changes_nothing() {
    let app = TestApp::start().await;
    let r = room(&app).await;

    let again = add_members(&app, &r.alice, "room", json!({"userIds": ["bob", "bob"]})).await;
    let promote = add_members(
        &app,
        &r.alice,
        "room",
        json!({"userIds": ["bob"], "role": "owner"}),
    )
    .await;

    assert_eq!(expect(again, 200).await["added"], json!([]));
    assert_eq!(expect(promote, 200).await["added"], json!([]));
    let roles = member_roles(&app, &r.alice, "room").await;
    assert_eq!(roles.len(), 4);
    assert!(
        roles.contains(&("bob".into(), "member".into())),
        "role kept"
    );
}

#[actix_web::test]
async fn a_member_who_leaves_no_longer_sees_the_channel() {
    let app = TestApp::start().await;
    let r = room(&app).await;

    let res = as_user(
        &app,
        &r.bob,
        Method::DELETE,
        "/api/channels/room/members/bob",
        None,
    )
    .await;

    assert_eq!(res.status(), 204);
    assert_error(
        get_channel(&app, &r.bob, "room").await,
        404,
        "channel_not_found",
    )
    .await;
    assert!(channel_ids(&app, &r.bob).await.is_empty());
    assert!(
        !member_roles(&app, &r.alice, "room")
            .await
            .iter()
            .any(|(id, _)| id == "bob")
    );
}

#[actix_web::test]
async fn removing_others_takes_rank_and_an_admin_cannot_remove_the_owner() {
    let app = TestApp::start().await;
    let r = room(&app).await;

    let member_removes_member = as_user(
        &app,
        &r.bob,
        Method::DELETE,
        "/api/channels/room/members/carol",
        None,
    )
    .await;
    let admin_removes_owner = as_user(
        &app,
        &r.dave,
        Method::DELETE,
        "/api/channels/room/members/alice",
        None,
    )
    .await;
    let admin_removes_member = as_user(
        &app,
        &r.dave,
        Method::DELETE,
        "/api/channels/room/members/carol",
        None,
    )
    .await;

    assert_error(member_removes_member, 403, "forbidden").await;
    assert_error(admin_removes_owner, 403, "forbidden").await;
    assert_eq!(admin_removes_member.status(), 204);
    let roles = member_roles(&app, &r.alice, "room").await;
    assert_eq!(
        roles,
        [
            ("alice".to_string(), "owner".to_string()),
            ("bob".into(), "member".into()),
            ("dave".into(), "admin".into()),
        ]
    );
}

#[actix_web::test]
async fn removing_someone_who_is_not_a_member_gets_404_not_found() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    token(&app, "outsider").await;

    for who in ["outsider", "never-seen"] {
        let res = as_user(
            &app,
            &r.alice,
            Method::DELETE,
            &format!("/api/channels/room/members/{who}"),
            None,
        )
        .await;
        assert_error(res, 404, "not_found").await;
    }
}

#[actix_web::test]
async fn the_member_list_shows_public_fields_only() {
    let app = TestApp::start().await;
    app.post_tokens(&json!({
        "userId": "bob", "name": "Bob", "image": "https://x/b.png",
        "email": "bob@private.example", "custom": {"ssn": "123-45-6789"}
    }))
    .await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;

    let body = expect(
        as_user(&app, &alice, Method::GET, "/api/channels/c/members", None).await,
        200,
    )
    .await;

    let bob = body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["id"] == "bob")
        .unwrap();
    assert_eq!(
        bob["user"],
        json!({"id": "bob", "name": "Bob", "image": "https://x/b.png"})
    );
    assert_eq!(bob["role"], "member");
    assert_eq!(bob["readSeq"], 0);
    assert!(bob["joinedAt"].is_string());
    let text = body.to_string();
    assert!(
        !text.contains("private.example") && !text.contains("123-45"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Messages
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn sending_answers_201_and_seq_rises_by_one_per_channel() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "a"})).await;
    create_channel(&app, &alice, json!({"id": "b"})).await;

    let mut got = Vec::new();
    for channel in ["a", "b", "a", "a", "b"] {
        got.push((channel, send(&app, &alice, channel, "hi").await));
    }

    let seq_of = |c: &str| -> Vec<i64> {
        got.iter()
            .filter(|(ch, _)| *ch == c)
            .map(|(_, m)| m["seq"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(seq_of("a"), [1, 2, 3]);
    assert_eq!(seq_of("b"), [1, 2]);
    let m = &got[0].1;
    assert_eq!(m["channelId"], "a");
    assert_eq!(
        m["user"],
        json!({"id": "alice", "name": null, "image": null})
    );
    assert_eq!(m["text"], "hi");
    assert_eq!(m["custom"], json!({}));
    assert_eq!(m["parentId"], Value::Null);
    assert!(m["createdAt"].is_string());
    assert_eq!(m["editedAt"], Value::Null);
    assert_eq!(m["deletedAt"], Value::Null);
    assert_eq!(m["reactions"], json!({"counts": {}, "own": []}));
    let channel = expect(get_channel(&app, &alice, "a").await, 200).await;
    assert_eq!(channel["lastSeq"], 3);
}

#[actix_web::test]
async fn a_key_caller_without_user_id_sends_a_system_message() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    let res = as_key(
        &app,
        Method::POST,
        "/api/channels/c/messages",
        Some(json!({"text": "Welcome!"})),
    )
    .await;

    let m = expect(res, 201).await;
    assert_eq!(m["user"], Value::Null);
    assert_eq!(
        page(&app, &alice, "c", "").await["messages"][0]["id"],
        m["id"]
    );
}

#[actix_web::test]
async fn a_retry_with_the_same_client_msg_id_answers_200_with_the_first_message() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let body = json!({"text": "once", "clientMsgId": "cm-1"});

    let first = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/c/messages",
        Some(body.clone()),
    )
    .await;
    let retry = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/c/messages",
        Some(json!({"text": "different text", "clientMsgId": "cm-1"})),
    )
    .await;

    let first = expect(first, 201).await;
    let retry = expect(retry, 200).await;
    assert_eq!(retry["id"], first["id"]);
    assert_eq!(retry["text"], "once");
    assert_eq!(seqs(&page(&app, &alice, "c", "").await), [1]);
}

#[actix_web::test]
async fn twenty_concurrent_sends_with_one_client_msg_id_make_one_message() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    let calls: Vec<_> = (0..20)
        .map(|_| {
            let request = app
                .http
                .post(format!("{}/api/channels/c/messages", app.base))
                .bearer_auth(&alice)
                .json(&json!({"text": "race", "clientMsgId": "same"}));
            actix_web::rt::spawn(async move {
                let res = request.send().await.unwrap();
                let status = res.status().as_u16();
                (status, res.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }

    let created = answers.iter().filter(|(st, _)| *st == 201).count();
    let repeated = answers.iter().filter(|(st, _)| *st == 200).count();
    assert_eq!((created, repeated), (1, 19), "{answers:?}");
    let ids: HashSet<&str> = answers.iter().map(|(_, b)| s(&b["id"])).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(seqs(&page(&app, &alice, "c", "").await), [1]);
}

#[actix_web::test]
async fn a_thousand_messages_page_forwards_and_backwards_without_gap_or_repeat() {
    // One user sending 1,000 messages in seconds is far past the default write limit.
    let app = TestApp::start_with(|a| {
        a.rate_limits.rate_limit_user_writes = "2000/min".parse().unwrap();
    })
    .await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "big"})).await;
    // Concurrent batches: the writer commits each batch together, and seq must still
    // come out 1..=1000 without gaps.
    for batch in 0..10 {
        let calls: Vec<_> = (0..100)
            .map(|i| {
                let request = app
                    .http
                    .post(format!("{}/api/channels/big/messages", app.base))
                    .bearer_auth(&alice)
                    .json(&json!({ "text": format!("m{}", batch * 100 + i) }));
                actix_web::rt::spawn(request.send())
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap().status(), 201);
        }
    }
    let all: Vec<i64> = (1..=1000).collect();

    // Forwards with after=, an odd page size.
    let mut forwards: Vec<i64> = Vec::new();
    let mut texts = HashSet::new();
    let mut after = 0;
    loop {
        let p = page(&app, &alice, "big", &format!("?after={after}&limit=37")).await;
        let got = seqs(&p);
        texts.extend(
            p["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| s(&m["text"]).to_string()),
        );
        forwards.extend(&got);
        let more = p["hasMore"].as_bool().unwrap();
        assert_eq!(more, forwards.len() < 1000, "hasMore after {after}");
        if !more {
            break;
        }
        after = *got.last().unwrap();
    }
    assert_eq!(forwards, all);
    assert_eq!(texts.len(), 1000, "every message once");

    // Backwards with before=, from the latest page.
    let mut backwards: Vec<i64> = Vec::new();
    let mut p = page(&app, &alice, "big", "?limit=200").await;
    loop {
        let got = seqs(&p);
        assert!(
            got.windows(2).all(|w| w[0] + 1 == w[1]),
            "ascending within a page"
        );
        let mut next = got.clone();
        next.extend(&backwards);
        backwards = next;
        let more = p["hasMore"].as_bool().unwrap();
        assert_eq!(more, backwards.len() < 1000, "hasMore before {}", got[0]);
        if !more {
            break;
        }
        p = page(
            &app,
            &alice,
            "big",
            &format!("?before={}&limit=200", got[0]),
        )
        .await;
    }
    assert_eq!(backwards, all);

    // The ends.
    let latest = page(&app, &alice, "big", "").await;
    assert_eq!(seqs(&latest), (951..=1000).collect::<Vec<_>>());
    assert_eq!(latest["hasMore"], true);
    let past_end = page(&app, &alice, "big", "?after=1000").await;
    assert_eq!(
        (seqs(&past_end).len(), &past_end["hasMore"]),
        (0, &json!(false))
    );
    let before_start = page(&app, &alice, "big", "?before=1").await;
    assert_eq!(
        (seqs(&before_start).len(), &before_start["hasMore"]),
        (0, &json!(false))
    );
    let last_two = page(&app, &alice, "big", "?after=998").await;
    assert_eq!(
        (seqs(&last_two), &last_two["hasMore"]),
        (vec![999, 1000], &json!(false))
    );
}

#[actix_web::test]
async fn bad_page_parameters_get_400() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    for query in [
        "?limit=0",
        "?limit=201",
        "?before=5&after=1",
        "?before=-1",
        "?after=x",
        "?sort=asc",
    ] {
        let res = as_user(
            &app,
            &alice,
            Method::GET,
            &format!("/api/channels/c/messages{query}"),
            None,
        )
        .await;
        assert_error(res, 400, "invalid_request").await;
    }
    assert_eq!(
        page(&app, &alice, "c", "?limit=200").await["hasMore"],
        false
    );
}

#[actix_web::test]
async fn the_author_edits_a_message_and_another_member_may_not() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    let m = send(&app, &r.bob, "room", "helo").await;
    let path = format!("/api/channels/room/messages/{}", s(&m["id"]));

    let by_other = as_user(
        &app,
        &r.carol,
        Method::PATCH,
        &path,
        Some(json!({"text": "pwned"})),
    )
    .await;
    let by_owner = as_user(
        &app,
        &r.alice,
        Method::PATCH,
        &path,
        Some(json!({"text": "pwned"})),
    )
    .await;
    let by_author = as_user(
        &app,
        &r.bob,
        Method::PATCH,
        &path,
        Some(json!({"text": "hello", "custom": {"fixed": true}})),
    )
    .await;

    assert_error(by_other, 403, "forbidden").await;
    assert_error(by_owner, 403, "forbidden").await;
    let edited = expect(by_author, 200).await;
    assert_eq!(edited["text"], "hello");
    assert_eq!(edited["custom"], json!({"fixed": true}));
    assert!(edited["editedAt"].is_string());
    assert_eq!(edited["seq"], m["seq"]);
    assert_eq!(
        page(&app, &r.carol, "room", "").await["messages"][0]["text"],
        "hello"
    );
}

#[actix_web::test]
async fn deleting_leaves_a_tombstone_in_history_at_its_seq() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    send(&app, &alice, "c", "one").await;
    let m = send(&app, &alice, "c", "two").await;
    send(&app, &alice, "c", "three").await;

    let res = as_user(
        &app,
        &alice,
        Method::DELETE,
        &format!("/api/channels/c/messages/{}", s(&m["id"])),
        None,
    )
    .await;

    let tomb = expect(res, 200).await;
    assert_eq!(tomb["text"], Value::Null);
    assert!(tomb["deletedAt"].is_string());
    assert_eq!(tomb["id"], m["id"]);
    let history = page(&app, &alice, "c", "").await;
    assert_eq!(seqs(&history), [1, 2, 3]);
    assert_eq!(history["messages"][1]["id"], m["id"]);
    assert_eq!(history["messages"][1]["text"], Value::Null);
    assert_eq!(
        send(&app, &alice, "c", "four").await["seq"],
        4,
        "no seq reused"
    );
}

#[actix_web::test]
async fn an_admin_or_owner_deletes_someone_elses_message_and_a_member_may_not() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    let first = send(&app, &r.bob, "room", "one").await;
    let second = send(&app, &r.bob, "room", "two").await;
    let path = |m: &Value| format!("/api/channels/room/messages/{}", s(&m["id"]));

    let by_member = as_user(&app, &r.carol, Method::DELETE, &path(&first), None).await;
    let by_admin = as_user(&app, &r.dave, Method::DELETE, &path(&first), None).await;
    let by_owner = as_user(&app, &r.alice, Method::DELETE, &path(&second), None).await;

    assert_error(by_member, 403, "forbidden").await;
    assert!(expect(by_admin, 200).await["deletedAt"].is_string());
    assert!(expect(by_owner, 200).await["deletedAt"].is_string());
}

#[actix_web::test]
async fn editing_a_deleted_message_gets_409_message_deleted() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let m = send(&app, &alice, "c", "gone soon").await;
    let path = format!("/api/channels/c/messages/{}", s(&m["id"]));
    expect(
        as_user(&app, &alice, Method::DELETE, &path, None).await,
        200,
    )
    .await;

    let res = as_user(
        &app,
        &alice,
        Method::PATCH,
        &path,
        Some(json!({"text": "back"})),
    )
    .await;

    assert_error(res, 409, "message_deleted").await;
    assert_eq!(
        page(&app, &alice, "c", "").await["messages"][0]["text"],
        Value::Null
    );
}

#[actix_web::test]
async fn an_unknown_message_gets_404_message_not_found() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    let res = as_user(
        &app,
        &alice,
        Method::PATCH,
        "/api/channels/c/messages/msg_nope",
        Some(json!({"text": "x"})),
    )
    .await;

    assert_error(res, 404, "message_not_found").await;
}

#[actix_web::test]
async fn a_reply_must_name_a_message_of_the_same_channel() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "a"})).await;
    create_channel(&app, &alice, json!({"id": "b"})).await;
    let in_a = send(&app, &alice, "a", "parent").await;

    let across = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/b/messages",
        Some(json!({"text": "reply", "parentId": in_a["id"]})),
    )
    .await;
    let within = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/a/messages",
        Some(json!({"text": "reply", "parentId": in_a["id"]})),
    )
    .await;

    let message = assert_error(across, 400, "invalid_request").await;
    assert!(message.contains("parentId"), "{message}");
    assert_eq!(expect(within, 201).await["parentId"], in_a["id"]);
    assert_eq!(seqs(&page(&app, &alice, "b", "").await), Vec::<i64>::new());
}

#[actix_web::test]
async fn message_text_is_one_to_4000_characters_without_control_characters() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let post = |text: String| {
        as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels/c/messages",
            Some(json!({ "text": text })),
        )
    };

    for bad in [
        String::new(),
        "x".repeat(4001),
        "é".repeat(4001),
        "bell\u{7}".into(),
        "nul\u{0}".into(),
        "esc\u{1b}[31m".into(),
    ] {
        let message = assert_error(post(bad.clone()).await, 400, "invalid_request").await;
        assert!(message.contains("text"), "{message}");
    }
    for good in [
        "x".repeat(4000),
        "é".repeat(4000),
        "line\nbreak\tand tab".into(),
    ] {
        let m = expect(post(good.clone()).await, 201).await;
        assert_eq!(m["text"], good);
    }
    assert_eq!(seqs(&page(&app, &alice, "c", "").await), [1, 2, 3]);
}

#[actix_web::test]
async fn bad_message_fields_get_400_naming_the_field() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    for (body, field) in [
        (
            json!({"text": "x", "custom": {"big": "y".repeat(8200)}}),
            "custom",
        ),
        (json!({"text": "x", "custom": [1]}), "custom"),
        (json!({"text": "x", "txet": "typo"}), "txet"),
        (
            json!({"text": "x", "clientMsgId": "k".repeat(129)}),
            "clientMsgId",
        ),
        (json!({"text": "x", "clientMsgId": ""}), "clientMsgId"),
        (
            json!({"text": "x", "parentId": "p".repeat(129)}),
            "parentId",
        ),
        (json!({"text": 5}), "text"),
        (json!({}), "text"),
    ] {
        let res = as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels/c/messages",
            Some(body.clone()),
        )
        .await;
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains(field), "{body}: {message}");
    }
    let ok = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/c/messages",
        Some(
            json!({"text": "x", "clientMsgId": "k".repeat(128), "custom": {"v": "y".repeat(8000)}}),
        ),
    )
    .await;
    assert_eq!(expect(ok, 201).await["seq"], 1);
}

#[actix_web::test]
async fn a_channel_id_over_128_characters_gets_400() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;

    let long = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "c".repeat(129)})),
    )
    .await;
    let control = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "a\nb"})),
    )
    .await;
    let empty = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": ""})),
    )
    .await;
    let at_limit = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "c".repeat(128)})),
    )
    .await;

    for res in [long, control, empty] {
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains("id"), "{message}");
    }
    assert_eq!(expect(at_limit, 201).await["id"], "c".repeat(128));
    assert_eq!(channel_ids(&app, &alice).await.len(), 1);
}

// ---------------------------------------------------------------------------------------
// 5. Reactions
// ---------------------------------------------------------------------------------------

fn reaction_path(channel: &str, msg: &Value, emoji: &str) -> String {
    format!(
        "{}/messages/{}/reactions/{}",
        ch(channel),
        enc(s(&msg["id"])),
        enc(emoji)
    )
}

#[actix_web::test]
async fn reactions_are_counted_once_per_user_and_own_is_the_callers() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    let m = send(&app, &r.alice, "room", "react to me").await;
    let path = reaction_path("room", &m, "+1");

    expect(as_user(&app, &r.bob, Method::PUT, &path, None).await, 200).await;
    let twice = expect(as_user(&app, &r.bob, Method::PUT, &path, None).await, 200).await;
    assert_eq!(
        twice["reactions"],
        json!({"counts": {"+1": 1}, "own": ["+1"]})
    );

    let by_carol = expect(as_user(&app, &r.carol, Method::PUT, &path, None).await, 200).await;
    assert_eq!(
        by_carol["reactions"],
        json!({"counts": {"+1": 2}, "own": ["+1"]})
    );
    let seen_by_alice = page(&app, &r.alice, "room", "").await;
    assert_eq!(
        seen_by_alice["messages"][0]["reactions"],
        json!({"counts": {"+1": 2}, "own": []})
    );

    let removed = expect(
        as_user(&app, &r.bob, Method::DELETE, &path, None).await,
        200,
    )
    .await;
    let removed_again = expect(
        as_user(&app, &r.bob, Method::DELETE, &path, None).await,
        200,
    )
    .await;
    assert_eq!(
        removed["reactions"],
        json!({"counts": {"+1": 1}, "own": []})
    );
    assert_eq!(removed_again["reactions"], removed["reactions"]);
}

#[actix_web::test]
async fn a_unicode_emoji_works_percent_encoded_in_the_path() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let m = send(&app, &alice, "c", "hi").await;
    let emoji = "👍🏽";

    let res = as_user(
        &app,
        &alice,
        Method::PUT,
        &reaction_path("c", &m, emoji),
        None,
    )
    .await;

    let body = expect(res, 200).await;
    assert_eq!(body["reactions"]["counts"][emoji], 1);
    assert_eq!(body["reactions"]["own"], json!([emoji]));
    let family = "👨‍👩‍👧";
    let body = expect(
        as_user(
            &app,
            &alice,
            Method::PUT,
            &reaction_path("c", &m, family),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(body["reactions"]["counts"][family], 1);
}

#[actix_web::test]
async fn a_reaction_on_a_deleted_message_gets_409() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let m = send(&app, &alice, "c", "hi").await;
    expect(
        as_user(
            &app,
            &alice,
            Method::PUT,
            &reaction_path("c", &m, "x"),
            None,
        )
        .await,
        200,
    )
    .await;
    expect(
        as_user(
            &app,
            &alice,
            Method::DELETE,
            &format!("/api/channels/c/messages/{}", s(&m["id"])),
            None,
        )
        .await,
        200,
    )
    .await;

    let res = as_user(
        &app,
        &alice,
        Method::PUT,
        &reaction_path("c", &m, "y"),
        None,
    )
    .await;

    assert_error(res, 409, "message_deleted").await;
    let tomb = &page(&app, &alice, "c", "").await["messages"][0];
    assert_eq!(tomb["reactions"], json!({"counts": {}, "own": []}));
}

#[actix_web::test]
async fn a_reaction_with_a_space_or_over_32_characters_gets_400() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let m = send(&app, &alice, "c", "hi").await;

    for bad in ["thumbs up", " ", "tab\there", &"x".repeat(33)] {
        let res = as_user(
            &app,
            &alice,
            Method::PUT,
            &reaction_path("c", &m, bad),
            None,
        )
        .await;
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains("emoji"), "{bad:?}: {message}");
    }
    let at_limit = "x".repeat(32);
    expect(
        as_user(
            &app,
            &alice,
            Method::PUT,
            &reaction_path("c", &m, &at_limit),
            None,
        )
        .await,
        200,
    )
    .await;
    let seen = &page(&app, &alice, "c", "").await["messages"][0]["reactions"]["counts"];
    assert_eq!(seen.as_object().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------
// 6. Read state
// ---------------------------------------------------------------------------------------

async fn unread(app: &TestApp, tok: &str, channel: &str) -> i64 {
    expect(get_channel(app, tok, channel).await, 200).await["unreadCount"]
        .as_i64()
        .unwrap()
}

async fn mark_read(app: &TestApp, tok: &str, channel: &str, seq: i64) -> Value {
    expect(
        as_user(
            app,
            tok,
            Method::POST,
            &format!("{}/read", ch(channel)),
            Some(json!({ "seq": seq })),
        )
        .await,
        200,
    )
    .await
}

#[actix_web::test]
async fn unread_counts_others_messages_after_the_mark_and_not_your_own() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;

    send(&app, &alice, "c", "1").await;
    send(&app, &alice, "c", "2").await;
    assert_eq!(
        (
            unread(&app, &alice, "c").await,
            unread(&app, &bob, "c").await
        ),
        (0, 2)
    );

    send(&app, &bob, "c", "3").await;
    assert_eq!(
        unread(&app, &bob, "c").await,
        0,
        "replying reads what came before"
    );
    assert_eq!(unread(&app, &alice, "c").await, 1);

    as_key(
        &app,
        Method::POST,
        "/api/channels/c/messages",
        Some(json!({"text": "system"})),
    )
    .await;
    assert_eq!(
        (
            unread(&app, &alice, "c").await,
            unread(&app, &bob, "c").await
        ),
        (2, 1)
    );
    let listed = expect(
        as_user(&app, &bob, Method::GET, "/api/channels", None).await,
        200,
    )
    .await;
    assert_eq!(listed["channels"][0]["unreadCount"], 1);
}

#[actix_web::test]
async fn the_read_mark_moves_forward_only_and_stops_at_the_last_message() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;
    for i in 1..=5 {
        send(&app, &alice, "c", &i.to_string()).await;
    }

    assert_eq!(mark_read(&app, &bob, "c", 3).await, json!({"seq": 3}));
    assert_eq!(unread(&app, &bob, "c").await, 2);
    assert_eq!(
        mark_read(&app, &bob, "c", 1).await,
        json!({"seq": 3}),
        "never backwards"
    );
    assert_eq!(unread(&app, &bob, "c").await, 2);
    assert_eq!(
        mark_read(&app, &bob, "c", 999).await,
        json!({"seq": 5}),
        "capped"
    );
    assert_eq!(unread(&app, &bob, "c").await, 0);

    send(&app, &alice, "c", "6").await;
    assert_eq!(
        unread(&app, &bob, "c").await,
        1,
        "the cap did not pre-read the next one"
    );
    let res = as_user(
        &app,
        &bob,
        Method::POST,
        "/api/channels/c/read",
        Some(json!({"seq": -1})),
    )
    .await;
    assert_error(res, 400, "invalid_request").await;
    let bob_row = expect(
        as_user(&app, &alice, Method::GET, "/api/channels/c/members", None).await,
        200,
    )
    .await["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["id"] == "bob")
        .cloned()
        .unwrap();
    assert_eq!(bob_row["readSeq"], 5);
}

#[actix_web::test]
async fn deleted_messages_do_not_count_as_unread() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;
    send(&app, &alice, "c", "1").await;
    let oops = send(&app, &alice, "c", "oops").await;
    send(&app, &alice, "c", "3").await;
    assert_eq!(unread(&app, &bob, "c").await, 3);

    expect(
        as_user(
            &app,
            &alice,
            Method::DELETE,
            &format!("/api/channels/c/messages/{}", s(&oops["id"])),
            None,
        )
        .await,
        200,
    )
    .await;

    assert_eq!(unread(&app, &bob, "c").await, 2);
}

#[actix_web::test]
async fn a_key_caller_marks_read_for_the_user_it_names() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;
    send(&app, &alice, "c", "1").await;
    send(&app, &alice, "c", "2").await;

    let res = as_key(
        &app,
        Method::POST,
        "/api/channels/c/read",
        Some(json!({"seq": 1, "userId": "bob"})),
    )
    .await;

    assert_eq!(expect(res, 200).await, json!({"seq": 1}));
    assert_eq!(unread(&app, &bob, "c").await, 1);
}

// ---------------------------------------------------------------------------------------
// 7. Odd ids
// ---------------------------------------------------------------------------------------

const ODD_IDS: [&str; 5] = [
    "alice@example.com",
    "日本語",
    "a:b#c,d",
    "sp ace",
    "slash/and",
];

#[actix_web::test]
async fn odd_channel_ids_round_trip_through_create_get_and_members() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;

    for id in ODD_IDS {
        let created = create_channel(&app, &alice, json!({ "id": id })).await;
        assert_eq!(created["id"], id);

        let fetched = expect(get_channel(&app, &alice, id).await, 200).await;
        assert_eq!(fetched["id"], id, "GET {}", ch(id));
        expect(
            add_members(&app, &alice, id, json!({"userIds": ["bob"]})).await,
            200,
        )
        .await;
        expect(get_channel(&app, &bob, id).await, 200).await;
        let m = send(&app, &bob, id, "hi").await;
        assert_eq!(m["channelId"], id);
        let removed = as_user(
            &app,
            &alice,
            Method::DELETE,
            &format!("{}/members/bob", ch(id)),
            None,
        )
        .await;
        assert_eq!(removed.status(), 204, "{id}");
        assert_error(get_channel(&app, &bob, id).await, 404, "channel_not_found").await;
    }
    let mut listed = channel_ids(&app, &alice).await;
    listed.sort();
    let mut expected: Vec<String> = ODD_IDS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

#[actix_web::test]
async fn odd_user_ids_round_trip_through_members_add_list_and_remove() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    for id in ODD_IDS {
        let theirs = token(&app, id).await;

        let added = expect(
            add_members(&app, &alice, "c", json!({"userIds": [id]})).await,
            200,
        )
        .await;

        assert_eq!(added["added"][0]["user"]["id"], id);
        assert_eq!(
            channel_ids(&app, &theirs).await,
            ["c"],
            "{id} sees the channel"
        );
        let by_key = expect(
            as_key(
                &app,
                Method::GET,
                &format!("/api/channels?userId={}", enc(id)),
                None,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(by_key["channels"][0]["id"], "c", "key acting as {id}");
        assert!(
            member_roles(&app, &alice, "c")
                .await
                .contains(&(id.to_string(), "member".into()))
        );
        let removed = as_user(
            &app,
            &alice,
            Method::DELETE,
            &format!("/api/channels/c/members/{}", enc(id)),
            None,
        )
        .await;
        assert_eq!(removed.status(), 204, "remove {id}");
        assert!(
            channel_ids(&app, &theirs).await.is_empty(),
            "{id} was removed"
        );
    }
    assert_eq!(member_roles(&app, &alice, "c").await.len(), 1);
}

#[actix_web::test]
async fn an_odd_user_leaves_by_naming_themselves() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ODD_IDS})).await;

    for id in ODD_IDS {
        let theirs = token(&app, id).await;
        let res = as_user(
            &app,
            &theirs,
            Method::DELETE,
            &format!("/api/channels/c/members/{}", enc(id)),
            None,
        )
        .await;
        assert_eq!(res.status(), 204, "{id} leaves");
        assert_error(
            get_channel(&app, &theirs, "c").await,
            404,
            "channel_not_found",
        )
        .await;
    }
}

// ---------------------------------------------------------------------------------------
// 8. Typing and subscription tokens
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn typing_is_accepted_for_members_only() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let mallory = token(&app, "mallory").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    let res = as_user(&app, &alice, Method::POST, "/api/channels/c/typing", None).await;
    let outsider = as_user(&app, &mallory, Method::POST, "/api/channels/c/typing", None).await;

    assert_eq!(expect(res, 202).await, json!({"status": "sent"}));
    assert_error(outsider, 404, "channel_not_found").await;
}

#[actix_web::test]
async fn a_member_gets_a_subscription_token_for_the_channels_realtime_name() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let created = create_channel(&app, &alice, json!({"id": "c"})).await;

    let res = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/c/subscription-token",
        None,
    )
    .await;

    let body = expect(res, 200).await;
    assert_eq!(body["channel"], created["realtimeChannel"]);
    assert_eq!(body["expiresIn"], 300);
    let claims = jwt_claims(s(&body["token"]));
    assert_eq!(claims["sub"], format!("{}:alice", app.app_id));
    assert_eq!(claims["channel"], created["realtimeChannel"]);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );
    let by_name = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/subscription-token",
        Some(json!({"channel": created["realtimeChannel"]})),
    )
    .await;
    assert_eq!(
        expect(by_name, 200).await["channel"],
        created["realtimeChannel"]
    );
}

#[actix_web::test]
async fn a_non_member_gets_no_subscription_token_even_through_the_key() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let mallory = token(&app, "mallory").await;
    let created = create_channel(&app, &alice, json!({"id": "c"})).await;

    let by_token = as_user(
        &app,
        &mallory,
        Method::POST,
        "/api/channels/c/subscription-token",
        None,
    )
    .await;
    let by_key = as_key(
        &app,
        Method::POST,
        "/api/channels/c/subscription-token?userId=mallory",
        None,
    )
    .await;
    let by_name = as_user(
        &app,
        &mallory,
        Method::POST,
        "/api/subscription-token",
        Some(json!({"channel": created["realtimeChannel"]})),
    )
    .await;

    assert_error(by_token, 404, "channel_not_found").await;
    assert_error(by_key, 404, "channel_not_found").await;
    assert_error(by_name, 404, "channel_not_found").await;
}

#[actix_web::test]
async fn a_channel_id_the_api_accepts_can_be_reached_by_its_path() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;

    for id in [".", ".."] {
        let res = as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels",
            Some(json!({ "id": id })),
        )
        .await;

        // Either refuse the id up front, or serve it at /api/channels/{id}: HTTP clients
        // resolve `.` and `..` path segments (even as %2E), so such a channel would be
        // created but never reachable again.
        if res.status() == 201 {
            let fetched = get_channel(&app, &alice, id).await;
            assert_eq!(
                fetched.status(),
                200,
                "channel {id:?} was created but GET {} answers {}",
                ch(id),
                fetched.text().await.unwrap()
            );
        } else {
            let message = assert_error(res, 400, "invalid_request").await;
            assert!(message.contains("id"), "{message}");
        }
    }
}
